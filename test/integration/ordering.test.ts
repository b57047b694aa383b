// Partition order is preserved through the worker pool: 100k updates over 1k keys in 6
// partitions, and every key's row ends with its last update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import { SAMPLE_TENANT, symbols } from '../../src/sample/sample-data.js';
import { caughtUp, createTestContext, waitFor } from '../helpers/sink-harness.js';

test('100k updates over 1k keys in 6 partitions: each key holds its last value', async (t) => {
  const ctx = await createTestContext('order');
  t.after(() => ctx.cleanup());
  await ctx.createTopics(['bars'], 6);
  const KEYS = 1000;
  const UPDATES = 100;
  const u = symbols(KEYS);
  const messages: { key: string; value: string }[] = [];
  // Round-robin over keys so every batch holds many keys with several versions each.
  for (let v = 0; v < UPDATES; v++) {
    for (let k = 0; k < KEYS; k++) {
      messages.push({
        key: u[k]!,
        value: JSON.stringify({
          tenant_id: SAMPLE_TENANT,
          vendor: 'v',
          symbol: u[k],
          timeframe: '1m',
          ts: '2026-01-05T14:30:00Z',
          close_price: `${v}.${k}`,
          volume: v,
        }),
      });
    }
  }
  await ctx.produce(ctx.topic('bars'), messages);
  const sink = await startSink(
    ctx.config({ KAFKA_TOPICS: 'bars', SINK_WORKERS: '4', SINK_BATCH_SIZE: '700' }),
    {
      log: createLogger('warn'),
    },
  );
  t.after(() => sink.kill());
  await waitFor(() => caughtUp(ctx, [ctx.topic('bars')]), 'sink did not catch up', 180_000);
  await sink.stop();

  const r = await ctx.db.query<{ symbol: string; close_price: string; volume: string }>(
    `SELECT symbol, close_price::text, volume::text FROM ${ctx.schema}.bars ORDER BY symbol`,
  );
  assert.equal(r.rows.length, KEYS);
  const wrong = r.rows.filter((row) => {
    const k = u.indexOf(row.symbol);
    return row.close_price !== `${UPDATES - 1}.${k}` || row.volume !== String(UPDATES - 1);
  });
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} keys do not hold their last update`);
});
