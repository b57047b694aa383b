// Decode's fast path (flat-row.ts) against the full path, message by message: for every
// message, both must give the same COPY line and conflict key, or the same rejection. Messages
// are generated from a seeded PRNG around each built-in topic and a mapping with every column
// type: valid values in every spelling the schema allows, values just past each rule, and the
// JSON forms the fast path must hand over (escapes, non-ASCII, nesting, repeated keys).
// DECODE_FUZZ_SEED=<n> explores other seeds (each failure names its seed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinMappings } from '../../../src/config/builtin-mappings.js';
import type { TopicMapping } from '../../../src/core/topic-mapping.js';
import { createTwinDecoder, mappingOf } from '../../helpers/decode-twins.js';
import { sampleMessage, symbols } from '../../../src/sample/sample-data.js';

const TENANT = '6f1c1b9e-3a59-4f4e-9d43-2a1f0c7b8e01';
const DEFAULT_TENANT = '0B5E6C1E-8F3A-4D2B-9C71-2F1A3E4D5C6B';

/** mulberry32: small, seeded, good enough to pick cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALL_TYPES: TopicMapping = {
  topicSuffix: 'all',
  table: 'all_types',
  mode: 'upsert',
  key: ['ts', 'tenant_id', 'code', 'n', 'd', 'flag', 'q'],
  columns: [
    { name: 'tenant_id', type: 'uuid', required: true, defaultTenant: true },
    { name: 'code', type: 'text', required: true, maxLength: 6, upperCase: true },
    { name: 'side', type: 'text', enum: ['buy', 'sell'] },
    { name: 'venue', type: 'text', upperCase: true, enum: ['XNAS', 'XNYS'] },
    { name: 'note', type: 'text', maxLength: 12 },
    { name: 'ts', type: 'timestamptz', required: true },
    { name: 'd', type: 'date', required: true },
    { name: 'q', type: 'numeric', required: true, min: 0, max: 1000 },
    { name: 'p', type: 'numeric', sqlType: 'NUMERIC(6,2)' },
    { name: 'r', type: 'numeric', min: -5 },
    { name: 'n', type: 'bigint', required: true, min: -10, max: 9_000_000_000_000 },
    { name: 'i', type: 'integer' },
    { name: 'x', type: 'double', min: -1e6, max: 1e6 },
    { name: 'flag', type: 'boolean', required: true },
    { name: 'j', type: 'jsonb' },
  ],
};

type Gen = (r: () => number) => string;
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** A timestamp, mostly valid, in the spellings RFC 3339 and the schema allow, sometimes just outside. */
const timestamp: Gen = (r) => {
  const y = r() < 0.1 ? pick(r, [1, 99, 100, 1582, 1900, 2000, 9999, 0]) : int(r, 1, 9999);
  const m = r() < 0.05 ? pick(r, [0, 13]) : int(r, 1, 12);
  const d = r() < 0.1 ? pick(r, [29, 30, 31, 0, 32]) : int(r, 1, 28);
  const h = r() < 0.05 ? 24 : int(r, 0, 23);
  const mi = int(r, 0, 59);
  const s = r() < 0.05 ? 60 : int(r, 0, 59);
  const frac =
    r() < 0.5 ? '' : '.' + Array.from({ length: int(r, r() < 0.1 ? 0 : 1, 12) }, () => int(r, 0, 9)).join('');
  const zone =
    r() < 0.5
      ? pick(r, ['Z', 'Z', 'Z', 'z'])
      : `${pick(r, ['+', '-'])}${pad(r() < 0.05 ? 16 : int(r, 0, 15), 2)}:${pad(int(r, 0, 59), 2)}`;
  const t = r() < 0.05 ? 't' : r() < 0.02 ? ' ' : 'T';
  return JSON.stringify(
    `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}${t}${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac}${zone}`,
  );
};

const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '7',
  '42',
  '-10',
  '-11',
  '1000',
  '1001',
  '0.5',
  '-0.5',
  '1.0',
  '1e3',
  '1E+3',
  '2e-3',
  '123456789012345',
  '-123456789012345',
  '1234567890123456',
  '9007199254740993',
  '2147483647',
  '2147483648',
  '-2147483648',
  '-2147483649',
  '1e400',
  '-1e400',
  '5e-324',
  '1e21',
  '999999',
  '1000000',
  '1000001',
  '0.1',
  '253402300799999',
  '253402300800000',
  '-62135596800000',
  '-62135596800001',
  '1767623400000',
  '9999.99',
  '9999.995',
];
const DECIMAL_STRINGS = [
  '0',
  '-0',
  '007.50',
  '21.7643',
  '-4.99',
  '-5',
  '-5.000001',
  '1000',
  '1000.0000001',
  '9999.99',
  '9999.994',
  '9999.995',
  '99999',
  '.5',
  '5.',
  '1e3',
  '+1',
  '--1',
  '1 ',
  '',
  '123456789012345678901234567890',
];
const TEXTS = [
  'demo',
  'sb',
  'SB',
  'aapl',
  'BRK.B',
  'x'.repeat(6),
  'x'.repeat(7),
  'buy',
  'sell',
  'BUY',
  'xnas',
  'XNYS',
  'hold',
  '',
  ' ',
  'a b',
  'Zürich',
  'ß',
  '日本',
  'tab\there',
  'quote"in',
  'back\\slash',
  'nul\u0000',
  '\ud800',
  '~!@#$%^&*()',
  'note of 12ch',
  'note of 13chr',
  '\u007f',
  'é',
];
const UUIDS = [
  TENANT,
  TENANT.toUpperCase(),
  'not-a-uuid',
  TENANT.slice(1),
  `${TENANT}0`,
  TENANT.replace(/-/g, '_'),
];

/** One value for a column: usually of its type, sometimes any other JSON. */
function value(r: () => number, type: string): string {
  const other = (): string =>
    pick(r, [
      'null',
      'true',
      'false',
      '{}',
      '[]',
      '{"a":1}',
      '[1,"x"]',
      pick(r, NUMBERS),
      JSON.stringify(pick(r, TEXTS)),
      JSON.stringify(pick(r, DECIMAL_STRINGS)),
      ' null ',
      '"\\u0041"',
      '"a\\/b"',
      'nul',
      'tru',
      '01',
      '1.',
      '-',
    ]);
  if (r() < 0.15) return other();
  switch (type) {
    case 'uuid':
      return JSON.stringify(pick(r, UUIDS));
    case 'text':
      return JSON.stringify(pick(r, TEXTS));
    case 'timestamptz':
      return r() < 0.2 ? pick(r, NUMBERS) : timestamp(r);
    case 'date':
      return timestamp(r).slice(0, 11) + '"';
    case 'numeric':
      return r() < 0.4 ? pick(r, NUMBERS) : JSON.stringify(pick(r, DECIMAL_STRINGS));
    case 'bigint':
    case 'integer':
      return r() < 0.7 ? pick(r, NUMBERS) : JSON.stringify(pick(r, DECIMAL_STRINGS));
    case 'double':
      return pick(r, NUMBERS);
    case 'boolean':
      return pick(r, ['true', 'false']);
    default:
      return other();
  }
}

const WS = ['', '', '', ' ', '\n', '\t', '\r\n  '];

/** A message for `m`: its fields in a random order, some left out, odd whitespace, stray keys. */
function message(r: () => number, m: TopicMapping, base: Record<string, string> | undefined): string {
  // With 15 columns a field strays less often, or hardly any message would be valid.
  const keep = m === ALL_TYPES ? 0.95 : 0.7;
  const fields: [string, string][] = m.columns
    .filter(() => r() > 0.05)
    .map((c) => [
      JSON.stringify(c.name),
      base !== undefined && r() < keep ? (base[c.name] ?? 'null') : value(r, c.type),
    ]);
  if (r() < 0.1) fields.push(['"extra"', pick(r, ['1', '"x"', 'null', '{"deep":[1]}', '[]'])]);
  if (r() < 0.03) fields.push([JSON.stringify(pick(r, m.columns).name), value(r, 'text')]); // repeated key
  if (r() < 0.02) fields.push(['"vend\\u006fr"', '"demo"']);
  if (r() < 0.02) fields.push(['"__proto__"', '{"x":1}']);
  for (let i = fields.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  const ws = (): string => (r() < 0.8 ? '' : pick(r, WS));
  let body = `${ws()}{${ws()}${fields.map(([k, v]) => `${k}${ws()}:${ws()}${v}`).join(`${ws()},${ws()}`)}${ws()}}${ws()}`;
  if (r() < 0.02) body = pick(r, ['\ufeff', '[', '', ' x']) + body;
  if (r() < 0.02) body += pick(r, ['}', ',', 'x', '\u0000']);
  return body;
}

/** Valid values for ALL_TYPES, so most generated messages differ from a valid one in a field or two. */
function allTypesBase(r: () => number): Record<string, string> {
  return {
    tenant_id: JSON.stringify(TENANT),
    code: JSON.stringify(pick(r, ['aapl', 'MSFT', 'brk.b'])),
    side: JSON.stringify(pick(r, ['buy', 'sell'])),
    venue: JSON.stringify(pick(r, ['xnas', 'XNYS'])),
    note: JSON.stringify(pick(r, ['ok', 'twelve chars'])),
    ts: pick(r, ['"2024-03-01T14:30:00.123Z"', '1709303400123', '"2024-03-01T15:30:00+01:00"']),
    d: '"2024-02-29"',
    q: pick(r, ['"12.50"', '12.5', '0', '"1000"']),
    p: pick(r, ['"9999.99"', '-12.25', 'null']),
    r: pick(r, ['"-4.5"', '3', '"0"']),
    n: pick(r, ['42', '"42"', '-10', '"8999999999999"']),
    i: pick(r, ['7', '"-7"', '2147483647']),
    x: pick(r, ['0.333', '-1000000', '1e-7', '12']),
    flag: pick(r, ['true', 'false']),
    j: pick(r, ['null', '"s"', '1', '{"a":[1]}']),
  };
}

function sampleBase(m: TopicMapping, i: number, r: () => number): Record<string, string> | undefined {
  if (m === ALL_TYPES) return allTypesBase(r);
  try {
    const v = sampleMessage(m.topicSuffix as 'bars', i, symbols(50)).value;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, JSON.stringify(x)]));
  } catch {
    return undefined;
  }
}

describe('decode fast path agrees with the full path', () => {
  const mappings = [...builtinMappings(), ALL_TYPES];
  for (const m of mappings) {
    for (const tenant of [undefined, DEFAULT_TENANT]) {
      it(`${m.topicSuffix}, ${tenant === undefined ? 'no' : 'a'} default tenant: 6000 generated messages`, () => {
        const seed =
          Number(process.env.DECODE_FUZZ_SEED ?? 0x5eed) +
          m.columns.length * 7 +
          (tenant === undefined ? 0 : 1);
        const r = prng(seed);
        const d = createTwinDecoder(m, { maxMessageBytes: 4096, defaultTenantId: tenant });
        let accepted = 0;
        for (let i = 0; i < 6000; i++) {
          const text = message(r, m, sampleBase(m, i, r));
          if (d.decode(Buffer.from(text, 'utf8')).ok) accepted++;
        }
        // Both outcomes must be common, or the comparison above proves little.
        assert.ok(accepted > 300, `only ${accepted} of 6000 accepted (seed ${seed})`);
        assert.ok(d.fastHits() > 200, `fast path took only ${d.fastHits()} (seed ${seed})`);
        assert.ok(
          accepted - d.fastHits() > 10,
          `full path accepted only ${accepted - d.fastHits()} (seed ${seed})`,
        );
      });
    }
  }

  it('takes every sample message of every built-in topic', () => {
    for (const m of builtinMappings()) {
      const d = createTwinDecoder(m, { maxMessageBytes: 4096 });
      for (let i = 0; i < 500; i++) {
        const v = sampleMessage(m.topicSuffix as 'bars', i, symbols(50)).value;
        assert.ok(d.decode(Buffer.from(JSON.stringify(v))).ok);
      }
      assert.equal(d.fastHits(), 500, m.topicSuffix);
    }
  });

  it('gives the same key as the full path for timestamps across the calendar', () => {
    const m = mappingOf([{ name: 'ts', type: 'timestamptz', required: true }], ['ts']);
    const d = createTwinDecoder(m, { maxMessageBytes: 200 });
    const r = prng(42);
    for (let i = 0; i < 20_000; i++) d.decode(Buffer.from(`{"ts":${timestamp(r)}}`));
    assert.ok(d.fastHits() > 12_000, `fast path took ${d.fastHits()}`);
  });
});
