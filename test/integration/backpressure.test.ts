// Backpressure all the way to the broker: a slow table makes the queue cross its high
// watermark, the member stops fetching (and keeps its group membership), and it resumes
// under the low watermark — one pause and one resume per crossing, no flapping. Stopping
// is done by holding the batch handler for up to KAFKA_PAUSE_HOLD_MS, then by pausing the
// client; each way is checked on its own.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { QueueStats } from '../../src/pipeline/bounded-queue.js';
import * as harness from '../helpers/sink-harness.js';

const capacity = 2000;

interface Run {
  events: { kind: 'pause' | 'resume'; stats: QueueStats; pausedTopics: number }[];
  /** Largest number of records held, and of topics paused in the client, seen by a 5 ms sampler. */
  peakRecords: number;
  peakPausedTopics: number;
}

async function slowSink(t: TestContext, label: string, holdMs: number): Promise<Run> {
  const ctx = await harness.testContext(t, label, ['bars'], 3);
  await ctx.migrate();
  // Every upsert into the table waits 150 ms: the sink writes far slower than it fetches.
  await ctx.db.query(`
    CREATE FUNCTION ${ctx.schema}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.15); RETURN NULL; END $$;
    CREATE TRIGGER slow AFTER INSERT ON ${ctx.schema}.bars FOR EACH STATEMENT EXECUTE FUNCTION ${ctx.schema}.slow();`);
  const msgs = harness.sampleBatch('bars', 12_000, 300);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));

  const sink = await harness.startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      QUEUE_CAPACITY_RECORDS: String(capacity),
      QUEUE_HIGH_WATERMARK: '0.8',
      QUEUE_LOW_WATERMARK: '0.3',
      SINK_WORKERS: '2',
      SINK_BATCH_SIZE: '250',
      KAFKA_MAX_BYTES_PER_PARTITION: '65536',
      KAFKA_PAUSE_HOLD_MS: String(holdMs),
    }),
    { log: harness.createLogger('warn') },
  );
  t.after(() => sink.kill());
  const run: Run = { events: [], peakRecords: 0, peakPausedTopics: 0 };
  const pausedTopics = (): number => sink.snapshot().consumer.kafkaPaused.length;
  sink.on('pause', (stats: QueueStats) => {
    run.events.push({ kind: 'pause', stats, pausedTopics: pausedTopics() });
  });
  sink.on('resume', (stats: QueueStats) => {
    run.events.push({ kind: 'resume', stats, pausedTopics: pausedTopics() });
  });
  // Newly assigned partitions stay paused until sought to their stored offsets; that pause
  // is not backpressure, so sampling starts once records flow.
  await harness.waitFor(() => sink.snapshot().queue.records > 0, 'nothing was queued', 60_000, 5);
  const sampler = setInterval(() => {
    run.peakRecords = Math.max(run.peakRecords, sink.snapshot().queue.records);
    run.peakPausedTopics = Math.max(run.peakPausedTopics, pausedTopics());
  }, 5);
  t.after(() => clearInterval(sampler));
  let joins = 0;
  sink.on('joined', () => joins++);

  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'slow sink did not finish',
    120_000,
  );
  clearInterval(sampler);
  await sink.stop();

  const { events } = run;
  assert.ok(events.length >= 2, `expected at least one pause/resume cycle, saw ${events.length} events`);
  events.forEach((e, i) => {
    assert.equal(e.kind, i % 2 === 0 ? 'pause' : 'resume', `event ${i} alternates (no flapping)`);
    if (e.kind === 'pause') {
      assert.ok(e.stats.records >= 0.8 * capacity, `paused at ${e.stats.records} records`);
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
  const mapping = harness.builtinMappings().find((m) => m.table === 'bars')!;
  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, mapping),
    harness.expectedRows(
      mapping,
      msgs.map((m) => m.value),
    ),
  );
  return run;
}

test('slow sink, KAFKA_PAUSE_HOLD_MS=0: the client is paused at the high watermark', async (t) => {
  const run = await slowSink(t, 'bp0', 0);
  for (const e of run.events.filter((x) => x.kind === 'pause')) {
    assert.equal(e.pausedTopics, 1, 'consumer.paused() lists the topic at the pause');
  }
});

test('slow sink, long hold: fetching stops without pausing the client', async (t) => {
  const run = await slowSink(t, 'bph', 60_000);
  assert.equal(run.peakPausedTopics, 0, 'the client was never paused: every drain fit in the hold');
  // 12,000 records were waiting in Kafka: had fetching gone on, the queue would have held far more.
  assert.ok(run.peakRecords < capacity, `held at most ${run.peakRecords} records (capacity ${capacity})`);
});

test('slow sink, short hold: a queue that stays high ends the hold with a client pause', async (t) => {
  // A drain takes several 150 ms upserts; a 50 ms hold runs out first.
  const run = await slowSink(t, 'bps', 50);
  assert.equal(run.peakPausedTopics, 1, 'consumer.paused() listed the topic once the hold ran out');
  assert.ok(run.peakRecords < capacity, `held at most ${run.peakRecords} records (capacity ${capacity})`);
});
