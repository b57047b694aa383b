// Tombstones under TOMBSTONE_POLICY=delete: a null value whose key is a JSON object of the
// table's conflict-key columns deletes that row (Kafka Connect's delete.enabled with
// pk.mode=record_key); a re-insert after it wins again; a tombstone whose key is not such an
// object is dead-lettered with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as harness from '../helpers/sink-harness.js';
import { readNdjson } from '../helpers/dlq-readers.js';

test('tombstones delete by conflict key; a later re-insert wins; a bad key is dead-lettered', async (t) => {
  const ctx = await harness.testContext(t, 'tomb', ['bars'], 1);
  const msgs = harness.sampleBatch('bars', 200, 200);
  const keyOf = (v: Record<string, unknown>): string =>
    JSON.stringify({
      ts: v.ts,
      tenant_id: v.tenant_id,
      vendor: v.vendor,
      symbol: v.symbol,
      timeframe: v.timeframe,
    });
  // One partition keeps upserts, deletes and re-inserts in order.
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const deleted = msgs.slice(0, 40);
  await ctx.produce(
    ctx.topic('bars'),
    deleted.map((m) => ({ key: keyOf(m.value), value: null })),
  );
  const reinserted = msgs[5]!;
  await ctx.produce(ctx.topic('bars'), [
    { key: 'AAPL', value: null },
    { key: reinserted.key, value: JSON.stringify(reinserted.value) },
    // A tombstone for a key that never existed deletes nothing and is not an error.
    {
      key: JSON.stringify({ ...(JSON.parse(keyOf(msgs[0]!.value)) as object), symbol: 'NOPE' }),
      value: null,
    },
  ]);
  const sink = await harness.startSink(
    ctx.config({ KAFKA_TOPICS: 'bars', TOMBSTONE_POLICY: 'delete', SINK_BATCH_SIZE: '64' }),
    {
      log: harness.createLogger('error'),
    },
  );
  t.after(() => sink.kill());
  await harness.waitFor(() => harness.caughtUp(ctx, [ctx.topic('bars')]), 'sink did not catch up', 60_000);
  await sink.stop();

  const bars = harness.builtinMappings().find((m) => m.table === 'bars')!;
  const remaining = msgs.filter((m, i) => i >= 40 || m === reinserted).map((m) => m.value);
  assert.deepEqual(await harness.actualRows(ctx.db, ctx.schema, bars), harness.expectedRows(bars, remaining));
  const dlq = readNdjson(ctx.dlqDir);
  assert.equal(dlq.length, 1);
  assert.equal(dlq[0]!.key?.toString(), 'AAPL');
  assert.equal(dlq[0]!.value, null);
  assert.match(dlq[0]!.errorMessage, /^tombstone key: value: invalid JSON/);
});
