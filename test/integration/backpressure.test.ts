// Backpressure all the way to the broker: a slow table makes the queue cross its high
// watermark, the member pauses every partition (and keeps its group membership), and it
// resumes under the low watermark — one pause and one resume per crossing, no flapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { builtinMappings } from '../../src/config/builtin-mappings.js';
import type { QueueStats } from '../../src/pipeline/bounded-queue.js';
import {
  actualRows,
  caughtUp,
  createTestContext,
  expectedRows,
  sampleBatch,
  toKafka,
  waitFor,
} from '../helpers/sink-harness.js';

test('slow sink: pause at the high watermark, resume under the low one, exact rows', async (t) => {
  const ctx = await createTestContext('bp');
  t.after(() => ctx.cleanup());
  await ctx.createTopics(['bars'], 3);
  await ctx.migrate();
  // Every COPY into the staging table waits 150 ms: the sink writes far slower than it fetches.
  await ctx.db.query(`
    CREATE FUNCTION ${ctx.schema}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.15); RETURN NULL; END $$;
    CREATE TRIGGER slow AFTER INSERT ON ${ctx.schema}.bars FOR EACH STATEMENT EXECUTE FUNCTION ${ctx.schema}.slow();`);
  const msgs = sampleBatch('bars', 12_000, 300);
  await ctx.produce(ctx.topic('bars'), toKafka(msgs));

  const capacity = 2000;
  const sink = await startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      QUEUE_CAPACITY_RECORDS: String(capacity),
      QUEUE_HIGH_WATERMARK: '0.8',
      QUEUE_LOW_WATERMARK: '0.3',
      SINK_WORKERS: '2',
      SINK_BATCH_SIZE: '250',
      KAFKA_MAX_BYTES_PER_PARTITION: '65536',
    }),
    { log: createLogger('warn') },
  );
  t.after(() => sink.kill());
  const events: { kind: 'pause' | 'resume'; stats: QueueStats; pausedTopics: number }[] = [];
  sink.events.on('pause', (stats: QueueStats) => {
    events.push({ kind: 'pause', stats, pausedTopics: sink.consumer.consumer.paused().length });
  });
  sink.events.on('resume', (stats: QueueStats) => {
    events.push({ kind: 'resume', stats, pausedTopics: sink.consumer.consumer.paused().length });
  });
  let joins = 0;
  sink.consumer.consumer.on(sink.consumer.consumer.events.GROUP_JOIN, () => joins++);

  await waitFor(() => caughtUp(ctx, [ctx.topic('bars')]), 'slow sink did not finish', 120_000);
  await sink.stop();

  assert.ok(events.length >= 2, `expected at least one pause/resume cycle, saw ${events.length} events`);
  events.forEach((e, i) => {
    assert.equal(e.kind, i % 2 === 0 ? 'pause' : 'resume', `event ${i} alternates (no flapping)`);
    if (e.kind === 'pause') {
      assert.ok(e.stats.records >= 0.8 * capacity, `paused at ${e.stats.records} records`);
      assert.equal(e.pausedTopics, 1, 'consumer.paused() lists the topic while paused');
    } else {
      assert.ok(e.stats.records <= 0.3 * capacity, `resumed at ${e.stats.records} records`);
      assert.equal(e.pausedTopics, 0, 'nothing paused after resume');
    }
  });
  assert.equal(events[events.length - 1]!.kind, 'resume', 'ends resumed');
  assert.ok(joins <= 1, `no rebalance while paused (membership kept); saw ${joins} joins`);
  const pauses = events.filter((e) => e.kind === 'pause').length;
  const metric = await sink.metrics.pauseEvents.get();
  assert.deepEqual(metric.values.map((v) => [v.labels.event, v.value]).sort(), [
    ['pause', pauses],
    ['resume', pauses],
  ]);
  const mapping = builtinMappings().find((m) => m.table === 'bars')!;
  assert.deepEqual(
    await actualRows(ctx.db, ctx.schema, mapping),
    expectedRows(
      mapping,
      msgs.map((m) => m.value),
    ),
  );
});
