// COPY text encoding against a real PostgreSQL: awkward strings, NULL vs empty, exact NUMERIC
// digits and timestamps survive the round trip, and what the decoder emits is input
// PostgreSQL accepts as-is (the decoder's checks exist so a COPY never fails on a value).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { encodeCopyRows } from '../../src/sink/copy-text.js';
import { createDecoder } from '../../src/pipeline/decode.js';
import { copyRow } from '../../src/pipeline/copy-row.js';
import { copyValues, mappingOf } from '../helpers/decode-twins.js';
import { builtinMappings } from '../../src/config/builtin-mappings.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function copyIn(client: pg.Client, sql: string, rows: (string | null)[][]): Promise<void> {
  await pipeline(Readable.from(encodeCopyRows(rows.map(copyRow))), client.query(copyFrom(sql)));
}

describe('COPY text round trip', () => {
  const client = new pg.Client({ connectionString: url });
  before(async () => {
    await client.connect();
    // Read timestamps back as text in UTC so the assertions do not depend on the server's zone.
    await client.query(`SET TimeZone = 'UTC'`);
  });
  after(() => client.end());

  it('stores every value exactly', async () => {
    await client.query(
      'CREATE TEMP TABLE copy_rt (n int, t text, d numeric, ts timestamptz, b bigint, j jsonb) ON COMMIT PRESERVE ROWS',
    );
    const awkward = [
      'tab\there',
      'back\\slash',
      'new\nline',
      'cr\rlf\r\n',
      '\\N',
      '\\.',
      '',
      'Zürich 📈 日本',
      '\\t not a tab',
      '  leading and trailing  ',
    ];
    const digits25 = '1234567890123.456789012345';
    const rows: (string | null)[][] = awkward.map((t, i) => [String(i), t, null, null, null, null]);
    rows.push([
      '100',
      null,
      digits25,
      '2024-03-01T14:30:00.123456Z',
      '-9223372036854775808',
      '{"a":"x\\ty","b":[1,null]}',
    ]);
    rows.push([
      '101',
      'last',
      '-0.000000000000000000001',
      '2024-03-01t15:30:00+01:00',
      '9223372036854775807',
      'null',
    ]);
    await copyIn(client, 'COPY copy_rt (n, t, d, ts, b, j) FROM STDIN', rows);

    const res = await client.query<{
      n: number;
      t: string | null;
      d: string | null;
      ts: string | null;
      b: string | null;
      j: string | null;
    }>('SELECT n, t, d::text AS d, ts::text AS ts, b::text AS b, j::text AS j FROM copy_rt ORDER BY n');
    assert.deepEqual(
      res.rows.slice(0, awkward.length).map((r) => r.t),
      awkward,
    );
    assert.ok(
      res.rows
        .slice(0, awkward.length)
        .every((r) => r.d === null && r.ts === null && r.b === null && r.j === null),
      'NULL columns stay NULL',
    );
    assert.deepEqual(res.rows.slice(awkward.length), [
      {
        n: 100,
        t: null,
        d: digits25,
        ts: '2024-03-01 14:30:00.123456+00',
        b: '-9223372036854775808',
        j: '{"a": "x\\ty", "b": [1, null]}',
      },
      {
        n: 101,
        t: 'last',
        d: '-0.000000000000000000001',
        ts: '2024-03-01 14:30:00+00',
        b: '9223372036854775807',
        j: 'null',
      },
    ]);
    // NULL and the empty string stay distinct: one of each in column t.
    const counts = await client.query<{ empty: string; nulls: string }>(
      `SELECT count(*) FILTER (WHERE t = '') AS empty, count(*) FILTER (WHERE t IS NULL) AS nulls FROM copy_rt`,
    );
    assert.deepEqual(counts.rows[0], { empty: '1', nulls: '1' });
  });

  it('gives two timestamps the same conflict key exactly when PostgreSQL stores the same instant', async () => {
    // In-batch dedup keeps one record per key: a key shared by two instants would drop a row,
    // two keys for one instant would put the same row twice into one upsert.
    const m = mappingOf([{ name: 'ts', type: 'timestamptz', required: true }], ['ts']);
    const spellings: (string | number)[] = [
      '2024-01-01T00:00:00.0097661909Z',
      '2024-01-01T00:00:00.009766190900Z',
      '2024-01-01T00:00:00.009766Z',
      '2024-01-01T00:00:00.0977661909Z',
      '2024-01-01T00:00:00.0000015Z',
      '2024-01-01T00:00:00.000002Z',
      '2024-01-01T00:00:00.0000025Z',
      '2024-01-01T00:00:00.0000005Z',
      '2024-01-01T00:00:00Z',
      '2024-01-01T00:00:00.9999995Z',
      '2024-01-01T00:00:01Z',
      '2024-01-01T01:00:01.000+01:00',
      '1969-12-31T23:59:59.9999995Z',
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.000001Z',
      '2024-01-01T00:00:00.12345650000001Z',
      '2024-01-01T00:00:00.123457Z',
      1704067200000,
      1704067201000,
      -1,
      0,
    ];
    for (const fastPath of [true, false]) {
      const d = createDecoder(m, { maxMessageBytes: 200, fastPath });
      const keys = spellings.map((ts) => {
        const r = d.decode(Buffer.from(JSON.stringify({ ts })));
        if (!r.ok) assert.fail(`${ts}: ${r.error.message}`);
        return r.key;
      });
      const texts = spellings.map((ts) => (typeof ts === 'number' ? new Date(ts).toISOString() : ts));
      const res = await client.query<{ i: number; j: number; same: boolean }>(
        `SELECT a.i, b.i AS j, a.t::timestamptz = b.t::timestamptz AS same
           FROM unnest($1::text[]) WITH ORDINALITY a(t, i), unnest($1::text[]) WITH ORDINALITY b(t, i) WHERE a.i < b.i`,
        [texts],
      );
      for (const { i, j, same } of res.rows) {
        const [a, b] = [Number(i) - 1, Number(j) - 1];
        assert.equal(
          keys[a] === keys[b],
          same,
          `${fastPath ? 'fast' : 'full'} path: ${spellings[a]} and ${spellings[b]} are ${same ? '' : 'not '}the same instant in PostgreSQL, keys ${keys[a]} and ${keys[b]}`,
        );
      }
    }
  });

  it('accepts what the decoder emits for edge-case messages as-is', async () => {
    const bars = builtinMappings().find((m) => m.topicSuffix === 'bars')!;
    await client.query(
      `CREATE TEMP TABLE bars_rt (tenant_id uuid, vendor text, symbol varchar(20), timeframe text, ts timestamptz,
         open_price numeric, high_price numeric, low_price numeric, close_price numeric, volume bigint)`,
    );
    const d = createDecoder(bars, {
      maxMessageBytes: 4096,
      defaultTenantId: '6f1c1b9e-3a59-4f4e-9d43-2a1f0c7b8e01',
    });
    const base = { vendor: 'v\tx', symbol: 'ß', timeframe: '1m', close_price: '1' };
    const messages: Record<string, unknown>[] = [
      { ...base, ts: '0001-01-01T00:00:00Z', open_price: 1e-7, volume: '9223372036854775807' },
      { ...base, ts: '9999-12-31T23:59:59.999999999Z', open_price: 1e21 },
      { ...base, ts: '2024-02-29T12:00:00+15:59', open_price: '123456789012345.123456789' },
      { ...base, ts: '2024-02-29t12:00:00.5-15:59', open_price: 5e-324 },
      { ...base, ts: -62135596800000 },
      { ...base, ts: 253402300799999, tenant_id: '6F1C1B9E-3A59-4F4E-9D43-2A1F0C7B8E02' },
    ];
    const rows = messages.map((m) => {
      const r = d.decode(Buffer.from(JSON.stringify(m)));
      if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
      return copyValues(r.row);
    });
    const cols = bars.columns.map((c) => c.name).join(', ');
    await copyIn(client, `COPY bars_rt (${cols}) FROM STDIN`, rows);
    const res = await client.query<{ ts: string; open_price: string | null; symbol: string; vendor: string }>(
      'SELECT ts::text AS ts, open_price::text AS open_price, symbol, vendor FROM bars_rt ORDER BY bars_rt.ts',
    );
    assert.deepEqual(
      res.rows.map((r) => [r.ts, r.open_price]),
      [
        ['0001-01-01 00:00:00+00', '0.0000001'],
        ['0001-01-01 00:00:00+00', null],
        ['2024-02-28 20:01:00+00', '123456789012345.123456789'],
        ['2024-03-01 03:59:00.5+00', '0.' + '0'.repeat(323) + '5'],
        ['9999-12-31 23:59:59.999+00', null],
        // Nine fraction digits: PostgreSQL rounds to microseconds, into year 10000, and accepts it.
        ['10000-01-01 00:00:00+00', '1000000000000000000000'],
      ],
    );
    assert.ok(res.rows.every((r) => r.symbol === 'SS' && r.vendor === 'v\tx'));
  });
});
