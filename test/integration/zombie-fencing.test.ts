// Zombie fencing on a real PostgreSQL: a member whose transaction is held open across a
// rebalance (GC pause, network partition) and commits late changes nothing, because the new
// owner already moved the partition's next_offset past its records. And when the zombie
// holds the row lock first, the new owner waits and skips what the zombie applied.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { builtinMappings } from '../../src/config/builtin-mappings.js';
import { copyRow } from '../../src/pipeline/copy-row.js';
import { BatchWriter } from '../../src/sink/batch-writer.js';
import { OffsetStore } from '../../src/sink/offset-store.js';
import { SinkConnection } from '../../src/sink/sink-connection.js';
import { buildTableSql } from '../../src/sink/table-sql.js';
import type { SinkRecord } from '../../src/core/sink-record.js';
import type { DeadLetter, DeadLetterSink } from '../../src/core/dead-letter.js';
import { SAMPLE_TENANT } from '../../src/sample/sample-data.js';
import { createTestContext, DATABASE_URL, storedOffsets } from '../helpers/sink-harness.js';

const bars = builtinMappings().find((m) => m.table === 'bars')!;
const TOPIC = 'md.bars';

function record(offset: number, close: string): SinkRecord {
  const symbol = `K${offset % 50}`;
  const values = [SAMPLE_TENANT, 'v', symbol, '1m', '2026-01-05T14:30:00.000Z', null, null, null, close, '1'];
  return {
    topic: TOPIC,
    partition: 0,
    offset,
    timestamp: 0,
    key: Buffer.from(symbol),
    value: Buffer.from('{}'),
    headers: undefined,
    bytes: 100,
    enqueuedAt: 0,
    mapping: bars,
    row: copyRow(values),
    conflictKey: [values[4], values[0], values[1], values[2], values[3]].join('\u0000'),
    error: null,
  };
}

class NoDlq implements DeadLetterSink {
  readonly written: DeadLetter[] = [];
  async start(): Promise<void> {}
  write(e: readonly DeadLetter[]): Promise<void> {
    this.written.push(...e);
    return Promise.resolve();
  }
  async close(): Promise<void> {}
}

/**
 * A connection whose next transaction waits at BEGIN until `release()`: the zombie's stall.
 * BEGIN goes out together with the sink_offsets lock, so the stall comes just before both
 * (under READ COMMITTED a bare BEGIN changes nothing, so this is the same as after it).
 */
function stallAtBegin(conn: SinkConnection): { release: () => void; begun: Promise<void> } {
  let release!: () => void;
  let begun!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const began = new Promise<void>((r) => (begun = r));
  const original = conn.query.bind(conn);
  let armed = true;
  conn.query = async (text: string, values?: unknown[]) => {
    if (armed && text.startsWith('BEGIN')) {
      armed = false;
      begun();
      await gate;
    }
    return original(text, values);
  };
  return { release, begun: began };
}

/** Two members' writer connections on a fresh schema of the real database. */
async function twoMembers(t: TestContext, name: string) {
  const ctx = await createTestContext(name);
  t.after(() => ctx.cleanup());
  await ctx.migrate();
  const tables = new Map([['bars', buildTableSql(ctx.schema, bars)]]);
  const offsets = new OffsetStore(ctx.schema, ctx.groupId);
  const opts = {
    connectionString: DATABASE_URL,
    connectionTimeoutMillis: 5000,
    application_name: `${name}-test`,
  };
  const a = await SinkConnection.open(opts, [...tables.values()]);
  const b = await SinkConnection.open(opts, [...tables.values()]);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const dlq = new NoDlq();
  const writer = (id: string) => new BatchWriter({ tables, offsets, dlq, workerId: id, now: () => 0 });
  return { ctx, a, b, dlq, writer };
}

test('a zombie transaction held open across a rebalance commits nothing over newer data', async (t) => {
  const { ctx, a: zombieConn, b: ownerConn, dlq, writer } = await twoMembers(t, 'zombie');

  // The zombie fetched offsets 0..99 and stalls inside its transaction.
  const stall = stallAtBegin(zombieConn);
  const zombie = writer('zombie').write(
    zombieConn,
    Array.from({ length: 100 }, (_, i) => record(i, '0.5')),
    1,
  );
  await stall.begun;
  // Meanwhile the partition moved: the new owner applies 0..199 and commits.
  const owner = await writer('owner').write(
    ownerConn,
    Array.from({ length: 200 }, (_, i) => record(i, `${1000 + i}`)),
    1,
  );
  assert.equal(owner.skipped, 0);
  // The zombie wakes up and commits late.
  stall.release();
  const late = await zombie;
  assert.equal(late.skipped, 100, 'every zombie record was recognised as already applied');
  assert.deepEqual([...late.rowsByTable.values()], []);

  const rows = await ctx.db.query<{ symbol: string; close_price: string }>(
    `SELECT symbol, close_price::text FROM ${ctx.schema}.bars ORDER BY symbol`,
  );
  assert.equal(rows.rows.length, 50);
  for (const r of rows.rows)
    assert.ok(Number(r.close_price) >= 1150, `${r.symbol} kept the owner's last value, got ${r.close_price}`);
  assert.equal((await storedOffsets(ctx.db, ctx.schema, ctx.groupId)).get(`${TOPIC}/0`), 200);
  assert.equal(dlq.written.length, 0);
});

test('when the old owner holds the partition lock, the new owner waits and skips its records', async (t) => {
  const { ctx, a, b, writer } = await twoMembers(t, 'fence');
  const w = writer('x');
  const [ra, rb] = await Promise.all([
    w.write(
      a,
      Array.from({ length: 120 }, (_, i) => record(i, `${i}`)),
      1,
    ),
    w.write(
      b,
      Array.from({ length: 120 }, (_, i) => record(i, `${i}`)),
      1,
    ),
  ]);
  // Exactly one of the two applied the records; the other found them applied.
  assert.deepEqual(
    [ra.skipped, rb.skipped].sort((x, y) => x - y),
    [0, 120],
  );
  assert.equal((await storedOffsets(ctx.db, ctx.schema, ctx.groupId)).get(`${TOPIC}/0`), 120);
});

test('a sink_offsets row removed by hand is recreated by the next batch, which stores its offset', async (t) => {
  // The offset store skips its INSERT for partitions it has seen; a row deleted behind its
  // back (an operator resetting a partition) must still be recreated, not silently lost.
  const { ctx, a, writer } = await twoMembers(t, 'reset');
  const w = writer('x');
  await w.write(
    a,
    Array.from({ length: 50 }, (_, i) => record(i, '1')),
    1,
  );
  assert.equal((await storedOffsets(ctx.db, ctx.schema, ctx.groupId)).get(`${TOPIC}/0`), 50);
  await ctx.db.query(`DELETE FROM ${ctx.schema}.sink_offsets`);
  const r = await w.write(
    a,
    Array.from({ length: 50 }, (_, i) => record(50 + i, '2')),
    1,
  );
  assert.equal(r.skipped, 0);
  assert.equal((await storedOffsets(ctx.db, ctx.schema, ctx.groupId)).get(`${TOPIC}/0`), 100);
});
