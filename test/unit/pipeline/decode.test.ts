// The wire contract with producers, pinned: exact COPY values for each built-in topic, exact
// error codes and message text for each rejection, and the conflict key dedup relies on.
// Longer than a module should be on purpose: one row per accepted value and per rejection of
// the contract, read as one specification; split, the contract would be in several places.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalDecimal,
  compareDecimal,
  createDecoder,
  numberToDecimal,
  type DecodeResult,
  type RecordDecoder,
} from '../../../src/pipeline/decode.js';
import { builtinMappings } from '../../../src/config/builtin-mappings.js';
import { copyValues, createTwinDecoder, mappingOf } from '../../helpers/decode-twins.js';
import type { TopicMapping } from '../../../src/core/topic-mapping.js';
import { ConfigError, RecordError } from '../../../src/core/errors.js';

const TENANT = '6f1c1b9e-3a59-4f4e-9d43-2a1f0c7b8e01';
const DEFAULT_TENANT = '0b5e6c1e-8f3a-4d2b-9c71-2f1a3e4d5c6b';
const NUL = '\u0000';

function mapping(suffix: string): TopicMapping {
  const m = builtinMappings().find((x) => x.topicSuffix === suffix);
  assert.ok(m, `no built-in mapping ${suffix}`);
  return m;
}

const decoders = {
  bars: createTwinDecoder(mapping('bars'), { maxMessageBytes: 4096 }),
  options: createTwinDecoder(mapping('options'), { maxMessageBytes: 4096 }),
  fundamentals: createTwinDecoder(mapping('fundamentals'), { maxMessageBytes: 4096 }),
  news: createTwinDecoder(mapping('news'), { maxMessageBytes: 4096 }),
};

function run(d: RecordDecoder, msg: unknown): DecodeResult {
  return d.decode(Buffer.from(typeof msg === 'string' ? msg : JSON.stringify(msg), 'utf8'));
}

function ok(r: DecodeResult): { values: (string | null)[]; key: string } {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return { values: copyValues(r.row), key: r.key };
}

function rejected(r: DecodeResult): RecordError {
  if (r.ok) assert.fail(`expected a rejection, got ${JSON.stringify(r.row)}`);
  assert.ok(r.error instanceof RecordError);
  assert.equal(r.error.retriable, false);
  return r.error;
}

const bar = {
  tenant_id: TENANT,
  vendor: 'polygon',
  symbol: 'aapl',
  timeframe: '1m',
  ts: '2024-03-01T14:30:00Z',
  open_price: '187.1200',
  high_price: 187.5,
  low_price: '186.9',
  close_price: '187.33',
  volume: 123456,
};

describe('decode: valid messages become exact COPY values', () => {
  const cases: {
    name: string;
    decoder: RecordDecoder;
    msg: Record<string, unknown>;
    values: (string | null)[];
    key: string;
  }[] = [
    {
      name: 'bars: strings verbatim, numbers as decimals, symbol upper-cased',
      decoder: decoders.bars,
      msg: bar,
      values: [
        TENANT,
        'polygon',
        'AAPL',
        '1m',
        '2024-03-01T14:30:00Z',
        '187.1200',
        '187.5',
        '186.9',
        '187.33',
        '123456',
      ],
      key: ['1709303400.000000', TENANT, 'polygon', 'AAPL', '1m'].join(NUL),
    },
    {
      name: 'bars: optional fields missing or null are NULL, unknown fields ignored',
      decoder: decoders.bars,
      msg: {
        tenant_id: TENANT,
        vendor: 'v',
        symbol: 'MSFT',
        timeframe: '1d',
        ts: 1709303400000,
        close_price: 0,
        open_price: null,
        extra: { anything: [1, 2] },
        vwap: 'ignored',
      },
      values: [TENANT, 'v', 'MSFT', '1d', '2024-03-01T14:30:00.000Z', null, null, null, '0', null],
      key: ['1709303400.000000', TENANT, 'v', 'MSFT', '1d'].join(NUL),
    },
    {
      name: 'options: date, enum, doubles, bigint strings, numeric strike',
      decoder: decoders.options,
      msg: {
        tenant_id: TENANT,
        vendor: 'opra',
        symbol: 'spy',
        expiry: '2024-02-29',
        option_type: 'C',
        strike: '500.00',
        ts: '2024-02-01T15:00:00.5+01:00',
        iv: 0.2134,
        delta: -0.45,
        gamma: 1e-7,
        oi: '9223372036854775807',
        volume: 0,
        spot: 498.25,
      },
      values: [
        TENANT,
        'opra',
        'SPY',
        '2024-02-29',
        'C',
        '500.00',
        '2024-02-01T15:00:00.5+01:00',
        '0.2134',
        '-0.45',
        '0.0000001',
        '9223372036854775807',
        '0',
        '498.25',
      ],
      key: ['1706796000.500000', TENANT, 'opra', 'SPY', '2024-02-29', 'C', '500'].join(NUL),
    },
    {
      name: 'fundamentals: big numeric strings keep every digit',
      decoder: decoders.fundamentals,
      msg: {
        tenant_id: TENANT,
        vendor: 'sec',
        symbol: 'brk.a',
        asof: '2023-12-31T00:00:00Z',
        total_assets: '123456789012345.123456789',
        total_liabilities: '-0.0000000001',
        net_income: 96223000000,
        eps: 1e21,
      },
      values: [
        TENANT,
        'sec',
        'BRK.A',
        '2023-12-31T00:00:00Z',
        '123456789012345.123456789',
        '-0.0000000001',
        '96223000000',
        '1000000000000000000000',
      ],
      key: ['1703980800.000000', TENANT, 'sec', 'BRK.A'].join(NUL),
    },
    {
      name: 'news: unicode text, optional symbol absent, microseconds kept in the key',
      decoder: decoders.news,
      msg: {
        tenant_id: TENANT.toUpperCase(),
        vendor: 'wire',
        id: 'n-1',
        published_at: '2024-01-02T03:04:05.123456Z',
        title: 'Zürich 📈 rallies\tagain\n',
        sentiment_score: -1,
      },
      values: [
        TENANT.toUpperCase(),
        'wire',
        'n-1',
        '2024-01-02T03:04:05.123456Z',
        'Zürich 📈 rallies\tagain\n',
        null,
        null,
        '-1',
      ],
      // uuid lower-cased in the key: PostgreSQL sees the same tenant either way.
      key: ['1704164645.123456', TENANT, 'wire', 'n-1'].join(NUL),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = ok(run(c.decoder, c.msg));
      assert.deepEqual(r.values, c.values);
      assert.equal(r.key, c.key);
    });
  }
});

describe('decode: conversions', () => {
  it('numeric strings reach the column as the same text (no float round trip)', () => {
    for (const s of [
      '123456789012345.123456789',
      '0.1',
      '0.30000000000000004',
      '007.50',
      '-0',
      '1234567890123456789012345',
    ]) {
      assert.equal(ok(run(decoders.bars, { ...bar, close_price: s })).values[8], s);
    }
  });

  it('numbers become decimals without exponent notation', () => {
    const cases: [number, string][] = [
      [1e-7, '0.0000001'],
      [1.5e-10, '0.00000000015'],
      [1e21, '1000000000000000000000'],
      [1.2345e22, '12345000000000000000000'],
      [123.456, '123.456'],
      [0.1, '0.1'],
      [-0, '0'],
      [5e-324, '0.' + '0'.repeat(323) + '5'],
    ];
    for (const [n, s] of cases) {
      assert.equal(numberToDecimal(n), s, String(n));
      if (n >= 0) assert.equal(ok(run(decoders.bars, { ...bar, close_price: n })).values[8], s);
      assert.ok(Number(s) === n, `${s} round-trips`); // === so -0 and 0 count as one
    }
  });

  it('epoch milliseconds become the exact ISO instant', () => {
    const cases: [number, string][] = [
      [0, '1970-01-01T00:00:00.000Z'],
      [1709303400123, '2024-03-01T14:30:00.123Z'],
      [-1, '1969-12-31T23:59:59.999Z'],
      [-62135596800000, '0001-01-01T00:00:00.000Z'],
      [253402300799999, '9999-12-31T23:59:59.999Z'],
    ];
    for (const [ms, iso] of cases) {
      const r = ok(run(decoders.bars, { ...bar, ts: ms }));
      assert.equal(r.values[4], iso);
      assert.equal(
        r.key.split(NUL)[0],
        `${Math.floor(ms / 1000)}.${String((((ms % 1000) + 1000) % 1000) * 1000).padStart(6, '0')}`,
      );
    }
  });

  it('the same instant spelled differently gives the same key', () => {
    const spellings = [
      1709303400000,
      '2024-03-01T14:30:00Z',
      '2024-03-01t15:30:00.000+01:00',
      '2024-03-01T14:30:00.000000z',
    ];
    const keys = spellings.map((ts) => ok(run(decoders.bars, { ...bar, ts })).key);
    assert.deepEqual(new Set(keys).size, 1, keys.join(' | '));
    const strikes = ['500', '500.00', '0500.0', 500].map(
      (strike) =>
        ok(
          run(decoders.options, {
            vendor: 'v',
            tenant_id: TENANT,
            symbol: 's',
            expiry: '2024-01-19',
            option_type: 'P',
            strike,
            ts: 0,
          }),
        ).key,
    );
    assert.equal(new Set(strikes).size, 1);
  });

  it('a different microsecond is a different key', () => {
    const a = ok(run(decoders.bars, { ...bar, ts: '2024-03-01T14:30:00.123456Z' })).key;
    const b = ok(run(decoders.bars, { ...bar, ts: '2024-03-01T14:30:00.123457Z' })).key;
    assert.notEqual(a, b);
  });

  it('default tenant fills a missing or null tenant_id; a given one wins', () => {
    const d = createTwinDecoder(mapping('bars'), { maxMessageBytes: 4096, defaultTenantId: DEFAULT_TENANT });
    const { tenant_id: _t, ...noTenant } = bar;
    assert.equal(ok(run(d, noTenant)).values[0], DEFAULT_TENANT);
    assert.equal(ok(run(d, { ...bar, tenant_id: null })).values[0], DEFAULT_TENANT);
    assert.equal(ok(run(d, bar)).values[0], TENANT);
    assert.equal(ok(run(d, noTenant)).key.split(NUL)[1], DEFAULT_TENANT);
  });

  it('an optional enum column takes null as NULL, as it takes a missing field', () => {
    const m = mappingOf([
      { name: 'side', type: 'text', enum: ['buy', 'sell'] },
      { name: 'venue', type: 'text', required: true, enum: ['XNAS'] },
    ]);
    const d = createTwinDecoder(m, { maxMessageBytes: 100 });
    assert.deepEqual(ok(run(d, { side: null, venue: 'XNAS' })).values, [null, 'XNAS']);
    assert.deepEqual(ok(run(d, { venue: 'XNAS' })).values, [null, 'XNAS']);
    assert.equal(rejected(run(d, { side: 'buy', venue: null })).message, 'venue: required, got null');
  });

  it('upperCase applies before the enum check, and the limit counts the upper-cased text', () => {
    const m = mappingOf([
      { name: 'side', type: 'text', upperCase: true, enum: ['BUY', 'SELL'], maxLength: 4 },
    ]);
    const d = createTwinDecoder(m, { maxMessageBytes: 100 });
    assert.deepEqual(ok(run(d, { side: 'buy' })).values, ['BUY']);
    assert.equal(
      rejected(run(d, { side: 'hold' })).message,
      'side: expected one of "BUY", "SELL", got "hold"',
    );
    assert.equal(
      rejected(run(d, { side: 'ßß0' })).message,
      'side: expected at most 4 characters, got 5 (upper-cased)',
    );
  });

  it('boolean, integer, double and jsonb columns', () => {
    const m = mappingOf(
      [
        { name: 'b', type: 'boolean' },
        { name: 'n', type: 'integer' },
        { name: 'x', type: 'double' },
        { name: 'j', type: 'jsonb' },
        { name: 'constructor', type: 'text' },
      ],
      ['n'],
      'insert',
    );
    const d = createTwinDecoder(m, { maxMessageBytes: 1000 });
    const r = ok(run(d, { b: false, n: '0042', x: 1e300, j: { a: [1, 'é', null], b: 'x\ty' } }));
    assert.deepEqual(r.values, ['f', '0042', '1' + '0'.repeat(300), '{"a":[1,"é",null],"b":"x\\ty"}', null]);
    assert.equal(r.key, '42');
    assert.deepEqual(ok(run(d, { b: true, n: -7, j: 'str', constructor: 'c' })).values, [
      't',
      '-7',
      null,
      '"str"',
      'c',
    ]);
    const e = rejected(run(d, { n: 2147483648 }));
    assert.equal(e.code, 'OUT_OF_RANGE');
    assert.equal(e.message, 'n: expected integer <= 2147483647, got 2147483648');
    assert.equal(
      rejected(run(d, { n: '-2147483649' })).message,
      'n: expected integer >= -2147483648, got "-2147483649"',
    );
    assert.equal(rejected(run(d, { n: 1, j: { k: 'a\u0000' } })).code, 'SCHEMA_VIOLATION');
    assert.equal(rejected(run(d, { n: 1, j: '\ud800' })).code, 'SCHEMA_VIOLATION');
    // A literal backslash followed by "u0000" is harmless text, not an escape.
    assert.equal(ok(run(d, { n: 1, j: '\\u0000' })).values[3], '"\\\\u0000"');
  });

  it('NUMERIC(p,s) from sqlType is enforced, including rounding that carries', () => {
    const m = mappingOf([{ name: 'p', type: 'numeric', sqlType: 'NUMERIC(6,2)' }]);
    const d = createTwinDecoder(m, { maxMessageBytes: 100 });
    for (const good of ['9999.99', '9999.994', '-9999.99', '0009999.5', 9999.99]) {
      assert.ok(run(d, { p: good }).ok, String(good));
    }
    for (const bad of ['10000', '9999.995', '-9999.999', 12345.6]) {
      const e = rejected(run(d, { p: bad }));
      assert.equal(e.code, 'OUT_OF_RANGE');
      assert.match(
        e.message,
        /^p: expected at most 4 digits before the decimal point \(NUMERIC\(6,2\)\), got /,
      );
    }
  });

  it('decimal helpers compare and canonicalise exactly', () => {
    assert.equal(canonicalDecimal('-007.50'), '-7.5');
    assert.equal(canonicalDecimal('-0.000'), '0');
    assert.equal(canonicalDecimal('100'), '100');
    assert.equal(compareDecimal('-0', '0'), 0);
    assert.equal(compareDecimal('0.45', '0.5'), -1);
    assert.equal(compareDecimal('10', '9.999'), 1);
    assert.equal(compareDecimal('-10', '-9'), -1);
    assert.equal(compareDecimal('1.00000000000000000001', '1'), 1);
  });
});

describe('decode: rejections name the field, the rule and the value', () => {
  const { close_price: _c, ...noClose } = bar;
  const { tenant_id: _t, ...noTenant } = bar;
  const cases: { name: string; msg: unknown; decoder?: RecordDecoder; code: string; message: string }[] = [
    {
      name: 'required missing',
      msg: noClose,
      code: 'MISSING_FIELD',
      message: 'close_price: required, got nothing',
    },
    {
      name: 'required null',
      msg: { ...bar, symbol: null },
      code: 'MISSING_FIELD',
      message: 'symbol: required, got null',
    },
    {
      name: 'tenant without a default',
      msg: noTenant,
      code: 'MISSING_FIELD',
      message: 'tenant_id: required (no default tenant is configured), got nothing',
    },
    {
      name: 'bigint below min',
      msg: { ...bar, volume: -5 },
      code: 'OUT_OF_RANGE',
      message: 'volume: expected integer >= 0, got -5',
    },
    {
      name: 'bigint string below min',
      msg: { ...bar, volume: '-5' },
      code: 'OUT_OF_RANGE',
      message: 'volume: expected integer >= 0, got "-5"',
    },
    {
      name: 'bigint string past int64',
      msg: { ...bar, volume: '9223372036854775808' },
      code: 'OUT_OF_RANGE',
      message: 'volume: expected integer <= 9223372036854775807, got "9223372036854775808"',
    },
    {
      name: 'bigint number past 2^53',
      msg:
        '{"tenant_id":"' +
        TENANT +
        '","vendor":"v","symbol":"s","timeframe":"1m","ts":0,"close_price":1,"volume":9007199254740993}',
      code: 'OUT_OF_RANGE',
      message:
        'volume: expected an integer within ±9007199254740991 (send larger values as a string), got 9007199254740992',
    },
    {
      name: 'bigint fraction',
      msg: { ...bar, volume: 1.5 },
      code: 'WRONG_TYPE',
      message: 'volume: expected an integer or an integer string matching -?\\d+, got 1.5',
    },
    {
      name: 'too long (code points)',
      msg: { ...bar, symbol: 'x'.repeat(20) + '📈'.repeat(7) },
      code: 'TOO_LONG',
      message: 'symbol: expected at most 20 characters, got 27',
    },
    {
      name: 'numeric string with exponent',
      msg: { ...bar, close_price: '1e5' },
      code: 'WRONG_TYPE',
      message: 'close_price: expected a number or a decimal string matching -?\\d+(\\.\\d+)?, got "1e5"',
    },
    {
      name: 'numeric string below min (exact)',
      msg: { ...bar, close_price: '-0.00000000000000000001' },
      code: 'OUT_OF_RANGE',
      message: 'close_price: expected number >= 0, got "-0.00000000000000000001"',
    },
    {
      name: 'numeric number below min',
      msg: { ...bar, low_price: -1.5 },
      code: 'OUT_OF_RANGE',
      message: 'low_price: expected number >= 0, got -1.5',
    },
    {
      name: 'numeric of the wrong type',
      msg: { ...bar, close_price: true },
      code: 'WRONG_TYPE',
      message: 'close_price: expected a number or a decimal string matching -?\\d+(\\.\\d+)?, got true',
    },
    {
      name: 'text of the wrong type',
      msg: { ...bar, vendor: 42 },
      code: 'WRONG_TYPE',
      message: 'vendor: expected a string, got 42',
    },
    {
      name: 'timestamp without zone',
      msg: { ...bar, ts: '2024-03-01T14:30:00' },
      code: 'BAD_TIMESTAMP',
      message:
        'ts: expected an RFC 3339 timestamp with time zone (e.g. 2024-01-02T15:04:05Z) or integer epoch milliseconds, got "2024-03-01T14:30:00"',
    },
    {
      name: 'timestamp on a day that does not exist',
      msg: { ...bar, ts: '2023-02-29T00:00:00Z' },
      code: 'BAD_TIMESTAMP',
      message: 'ts: expected a valid date and time in years 0001-9999, got "2023-02-29T00:00:00Z"',
    },
    {
      name: 'timestamp in year 0',
      msg: { ...bar, ts: '0000-01-01T00:00:00Z' },
      code: 'BAD_TIMESTAMP',
      message: 'ts: expected a valid date and time in years 0001-9999, got "0000-01-01T00:00:00Z"',
    },
    {
      name: 'timestamp offset PostgreSQL cannot read',
      msg: { ...bar, ts: '2024-03-01T14:30:00+16:00' },
      code: 'BAD_TIMESTAMP',
      message:
        'ts: expected an RFC 3339 timestamp with time zone (e.g. 2024-01-02T15:04:05Z) or integer epoch milliseconds, got "2024-03-01T14:30:00+16:00"',
    },
    {
      name: 'epoch ms with a fraction',
      msg: { ...bar, ts: 1709303400000.5 },
      code: 'BAD_TIMESTAMP',
      message:
        'ts: expected an RFC 3339 timestamp with time zone (e.g. 2024-01-02T15:04:05Z) or integer epoch milliseconds, got 1709303400000.5',
    },
    {
      name: 'epoch ms out of range',
      msg: { ...bar, ts: 8.64e15 },
      code: 'BAD_TIMESTAMP',
      message:
        'ts: expected epoch milliseconds from -62135596800000 (0001-01-01) to 253402300799999 (9999-12-31), got 8640000000000000',
    },
    {
      name: 'date that does not exist',
      decoder: decoders.options,
      msg: {
        tenant_id: TENANT,
        vendor: 'v',
        symbol: 's',
        expiry: '2024-04-31',
        option_type: 'C',
        strike: 1,
        ts: 0,
      },
      code: 'BAD_TIMESTAMP',
      message: 'expiry: expected a valid calendar date in years 0001-9999, got "2024-04-31"',
    },
    {
      name: 'enum',
      decoder: decoders.options,
      msg: {
        tenant_id: TENANT,
        vendor: 'v',
        symbol: 's',
        expiry: '2024-04-30',
        option_type: 'X',
        strike: 1,
        ts: 0,
      },
      code: 'BAD_ENUM',
      message: 'option_type: expected one of "C", "P", got "X"',
    },
    {
      name: 'double above max',
      decoder: decoders.news,
      msg: { tenant_id: TENANT, vendor: 'v', id: 'i', published_at: 0, title: 't', sentiment_score: 1.01 },
      code: 'OUT_OF_RANGE',
      message: 'sentiment_score: expected number <= 1, got 1.01',
    },
    {
      name: 'uuid',
      msg: { ...bar, tenant_id: 'urn:uuid:' + TENANT },
      code: 'BAD_UUID',
      message: `tenant_id: expected a UUID (8-4-4-4-12 hex digits), got "urn:uuid:${TENANT}"`,
    },
    {
      name: 'NUL in text',
      msg: { ...bar, vendor: 'a\u0000b' },
      code: 'SCHEMA_VIOLATION',
      message: 'vendor: expected text without NUL characters, got NUL at index 1',
    },
    {
      name: 'unpaired surrogate in text',
      msg:
        '{"tenant_id":"' +
        TENANT +
        '","vendor":"a\\udc00","symbol":"s","timeframe":"1m","ts":0,"close_price":1}',
      code: 'SCHEMA_VIOLATION',
      message: 'vendor: expected well-formed Unicode text, got an unpaired surrogate at index 1',
    },
    {
      name: 'long values are cut short in the message',
      decoder: decoders.news,
      msg: { tenant_id: TENANT, vendor: 'v', id: 'i', published_at: 'x'.repeat(500), title: 't' },
      code: 'BAD_TIMESTAMP',
      message: `published_at: expected an RFC 3339 timestamp with time zone (e.g. 2024-01-02T15:04:05Z) or integer epoch milliseconds, got "${'x'.repeat(76)}...`,
    },
  ];
  for (const c of cases) {
    it(`${c.code}: ${c.name}`, () => {
      const e = rejected(run(c.decoder ?? decoders.bars, c.msg));
      assert.equal(e.reason, 'validation');
      assert.equal(e.code, c.code);
      assert.equal(e.message, c.message);
    });
  }
});

describe('decode: undecodable values', () => {
  const d = createTwinDecoder(mapping('bars'), { maxMessageBytes: 64 });
  const cases: { name: string; value: Buffer | null; code: string; message: string | RegExp }[] = [
    {
      name: 'tombstone',
      value: null,
      code: 'TOMBSTONE',
      message: 'value: expected a JSON object, got null (tombstones are not supported here)',
    },
    {
      name: 'oversized',
      value: Buffer.alloc(65, 0x20),
      code: 'MESSAGE_TOO_LARGE',
      message: 'value: expected at most 64 bytes, got 65 bytes',
    },
    {
      name: 'invalid UTF-8',
      value: Buffer.from([0xff, 0xfe]),
      code: 'INVALID_UTF8',
      message: 'value: expected UTF-8 text, got invalid bytes (2 bytes)',
    },
    {
      name: 'truncated UTF-8 sequence inside a string',
      value: Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]),
      code: 'INVALID_UTF8',
      message: 'value: expected UTF-8 text, got invalid bytes (10 bytes)',
    },
    {
      name: 'JSON syntax error V8 positions',
      value: Buffer.from('{"a":1'),
      code: 'INVALID_JSON',
      message: /^value: invalid JSON: .* at position 6$/,
    },
    {
      name: 'JSON syntax error we position',
      value: Buffer.from('{"a": xyz}'),
      code: 'INVALID_JSON',
      message: /^value: invalid JSON: Unexpected token .*\(at position 6\)$/,
    },
    {
      name: 'bad escape',
      value: Buffer.from('{"a": "\\q"}'),
      code: 'INVALID_JSON',
      message: /^value: invalid JSON: .*position 8/,
    },
    {
      name: 'empty value',
      value: Buffer.alloc(0),
      code: 'INVALID_JSON',
      message: 'value: invalid JSON: Unexpected end of JSON input (at position 0)',
    },
    {
      name: 'array',
      value: Buffer.from('[1,2]'),
      code: 'NOT_AN_OBJECT',
      message: 'value: expected a JSON object, got an array',
    },
    {
      name: 'string',
      value: Buffer.from('"x"'),
      code: 'NOT_AN_OBJECT',
      message: 'value: expected a JSON object, got a string',
    },
    {
      name: 'null',
      value: Buffer.from('null'),
      code: 'NOT_AN_OBJECT',
      message: 'value: expected a JSON object, got null',
    },
  ];
  for (const c of cases) {
    it(`${c.code}: ${c.name}`, () => {
      const e = rejected(d.decode(c.value));
      assert.equal(e.reason, 'decode');
      assert.equal(e.code, c.code);
      if (typeof c.message === 'string') assert.equal(e.message, c.message);
      else assert.match(e.message, c.message);
    });
  }

  it('a value exactly at the limit is decoded', () => {
    const msg = Buffer.from(JSON.stringify({ x: 'y'.repeat(56) }));
    assert.equal(msg.length, 64);
    assert.equal(rejected(d.decode(msg)).code, 'MISSING_FIELD');
  });
});

describe('createDecoder: options are validated up front', () => {
  it('rejects a malformed default tenant', () => {
    assert.throws(
      () => createDecoder(mapping('bars'), { maxMessageBytes: 10, defaultTenantId: 'tenant-1' }),
      (e: unknown) =>
        e instanceof ConfigError && e.message === 'DEFAULT_TENANT_ID: expected a UUID, got "tenant-1"',
    );
  });

  it('rejects a non-positive size limit and an invalid mapping', () => {
    assert.throws(() => createDecoder(mapping('bars'), { maxMessageBytes: 0 }), ConfigError);
    assert.throws(
      () => createDecoder({ ...mapping('bars'), key: ['nope'] }, { maxMessageBytes: 10 }),
      /key column nope is not among the columns/,
    );
  });

  it('refuses a column named __proto__, which the schema could not hold as a property', () => {
    const m = mappingOf([{ name: '__proto__', type: 'integer', required: true }]);
    assert.throws(
      () => createDecoder(m, { maxMessageBytes: 100 }),
      (e: unknown) => e instanceof ConfigError && /column "__proto__" is reserved/.test(e.message),
    );
  });

  it('makes key columns required even when the spec does not', () => {
    const m = mappingOf([{ name: 'id', type: 'text' }], ['id']);
    const e = rejected(run(createTwinDecoder(m, { maxMessageBytes: 100 }), {}));
    assert.equal(e.message, 'id: required, got nothing');
  });
});
