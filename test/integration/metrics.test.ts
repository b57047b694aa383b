// /metrics from a real run: counters move consistently with what was written and
// dead-lettered (rows written = records submitted − DLQ), lag falls to 0, and the health
// endpoints carry the seed's fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpGet as get } from '../helpers/services.js';
import { startSink } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import { caughtUp, createTestContext, sampleBatch, waitFor } from '../helpers/sink-harness.js';

/** Sum of a metric's samples whose labels include every `match` pair. */
function sample(text: string, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labels = m[2] ?? '';
    if (Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) total += Number(m[3]);
  }
  return total;
}

test('counters match what was written and dead-lettered; lag falls to 0; health has the seed fields', async (t) => {
  const ctx = await createTestContext('metrics');
  t.after(() => ctx.cleanup());
  await ctx.createTopics(['bars', 'news'], 3);
  const bars = sampleBatch('bars', 6000, 6000);
  const news = sampleBatch('news', 1500, 1500);
  const bad = 75;
  await ctx.produce(
    ctx.topic('bars'),
    bars.map((m, i) => ({ key: m.key, value: i % 80 === 1 ? '{"not":"a bar"}' : JSON.stringify(m.value) })),
  );
  await ctx.produce(
    ctx.topic('news'),
    news.map((m) => ({ key: m.key, value: JSON.stringify(m.value) })),
  );
  const sink = await startSink(ctx.config({ KAFKA_TOPICS: 'bars,news', METRICS_QUEUE_POLL_MS: '100' }), {
    log: createLogger('error'),
  });
  t.after(() => sink.kill());
  const port = sink.metricsPort;
  assert.ok(port > 0);

  const topics = [ctx.topic('bars'), ctx.topic('news')];
  let scrapes = 0;
  while (!(await caughtUp(ctx, topics))) {
    const m = (await get(port, '/metrics')).body;
    const submitted = sample(m, 'mds_coord_items_submitted_total');
    const written = sample(m, 'mds_rows_written_total');
    const dropped = sample(m, 'mds_coord_items_dropped_total');
    assert.ok(
      written + dropped <= submitted,
      `mid-run: written ${written} + dropped ${dropped} <= submitted ${submitted}`,
    );
    scrapes++;
    await new Promise((r) => setTimeout(r, 50));
  }
  let m = '';
  await waitFor(
    async () => {
      m = (await get(port, '/metrics')).body;
      return sample(m, 'mds_consumer_lag') === 0 && sample(m, 'mds_coord_queue_depth') === 0;
    },
    () =>
      `lag did not fall to 0: ${m
        .split('\n')
        .filter((l) => l.startsWith('mds_consumer_lag'))
        .join('; ')}`,
    30_000,
    100,
  );
  const total = bars.length + news.length;
  assert.equal(sample(m, 'mds_coord_items_submitted_total'), total);
  assert.equal(sample(m, 'mds_coord_items_submitted_total', { topic: ctx.topic('news') }), news.length);
  assert.equal(sample(m, 'mds_rows_written_total', { table: 'bars' }), bars.length - bad);
  assert.equal(sample(m, 'mds_rows_written_total', { table: 'news' }), news.length);
  assert.equal(sample(m, 'mds_coord_items_dropped_total', { reason: 'validation' }), bad);
  assert.equal(sample(m, 'mds_coord_items_dropped_total'), bad);
  assert.equal(sample(m, 'mds_dlq_records_total', { destination: 'topic' }), bad);
  assert.equal(sample(m, 'mds_dlq_records_total', { destination: 'file' }), bad);
  assert.equal(
    sample(m, 'mds_rows_written_total') + sample(m, 'mds_coord_items_dropped_total'),
    sample(m, 'mds_coord_items_submitted_total'),
    'rows written = records submitted − DLQ',
  );
  assert.equal(sample(m, 'mds_records_applied_total', { outcome: 'written' }), total - bad);
  assert.equal(sample(m, 'mds_batch_size_records_sum'), total);
  assert.equal(sample(m, 'mds_end_to_end_latency_seconds_count'), total);
  assert.equal(
    sample(m, 'mds_worker_batches_written_total'),
    sample(m, 'mds_worker_write_latency_seconds_count'),
  );
  // The seed's per-sink metrics (sink = table): one write per table of each committed batch.
  const batches = sample(m, 'mds_worker_batches_written_total');
  for (const sink of ['bars', 'news']) {
    const ok = sample(m, 'sink_writes_total', { sink, status: 'success' });
    assert.ok(ok >= 1, `sink_writes_total{sink="${sink}",status="success"} = ${ok}`);
    assert.equal(sample(m, 'sink_write_latency_seconds_count', { sink }), ok);
  }
  const sinkWrites = sample(m, 'sink_writes_total', { status: 'success' });
  assert.ok(
    batches <= sinkWrites && sinkWrites <= 2 * batches,
    `${sinkWrites} sink writes, ${batches} batches`,
  );
  assert.equal(sample(m, 'sink_writes_total', { status: 'failure' }), 0);
  assert.equal(sample(m, 'sink_writes_total'), sinkWrites);
  assert.match(m, /^# TYPE sink_writes_total counter$/m);
  assert.match(m, /^# TYPE sink_write_latency_seconds histogram$/m);
  assert.match(m, /^sink_write_latency_seconds_bucket\{le="0.075",sink="bars"\} /m);
  assert.equal(sample(m, 'mds_coord_workers_alive'), 4);
  assert.equal(sample(m, 'mds_coord_circuit_state'), 0);
  assert.equal(sample(m, 'mds_consumer_assigned_partitions'), 6);
  assert.equal(sample(m, 'mds_ready'), 1);
  assert.ok(sample(m, 'process_resident_memory_bytes') > 0, 'default process metrics');
  for (const line of m.split('\n').filter((l) => /^# HELP (mds_|sink_)/.test(l)))
    assert.ok(line.split(' ').length > 3, line);

  const ready = await get(port, '/readyz');
  assert.equal(ready.status, 200, ready.body);
  const body = JSON.parse(ready.body) as Record<string, unknown>;
  for (const k of ['workers_alive', 'queue_size', 'capacity', 'circuit_state'])
    assert.ok(k in body, `readyz has ${k}`);
  assert.equal(body.circuit_state, 'closed');
  assert.equal(body.workers_alive, 4);
  assert.equal((await get(port, '/healthz')).status, 200);
  t.diagnostic(`${scrapes} scrapes during the run`);
  await sink.stop();
});
