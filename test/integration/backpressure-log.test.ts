// Logs for people under sustained backpressure: a slow table keeps the member pausing and
// resuming for 30 s, yet the watermark's info lines stay at most one per summary interval
// (each transition is at debug), and the summaries add up to exactly the pauses that
// happened. The start logs one line per lifecycle step, no KafkaJS warning that does not
// apply (the idempotent producer's "may invalidate EoS guarantees"), and the database's
// host, port and name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import { createTestContext, sampleBatch, slowInserts, toKafka, waitFor } from '../helpers/sink-harness.js';

const SUMMARY_MS = 5000;
const WINDOW_MS = 30_000;

interface Line {
  readonly level: number;
  readonly msg: string;
  readonly backpressure?: { readonly pauses: number; readonly resumes: number };
  readonly database?: string;
}

test('30 s of sustained backpressure: at most one watermark info line per summary interval', async (t) => {
  const ctx = await createTestContext('bplog');
  t.after(() => ctx.cleanup());
  await ctx.createTopics(['bars'], 3);
  await ctx.produce(ctx.topic('bars'), toKafka(sampleBatch('bars', 20_000, 300)));
  await ctx.migrate();
  // The sink writes far slower than it fetches, so the queue keeps crossing its watermarks.
  await slowInserts(ctx, 'bars', 0.3);

  const lines: Line[] = [];
  const log = createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l) as Line) });
  const started = Date.now();
  const sink = await startSink(
    ctx.config({
      LOG_LEVEL: 'info',
      KAFKA_TOPICS: 'bars',
      QUEUE_CAPACITY_RECORDS: '300',
      QUEUE_HIGH_WATERMARK: '0.8',
      QUEUE_LOW_WATERMARK: '0.3',
      SINK_WORKERS: '2',
      SINK_BATCH_SIZE: '50',
      SINK_MAX_BATCH_SIZE: '50',
      KAFKA_MAX_BYTES_PER_PARTITION: '16384',
      LOG_BACKPRESSURE_SUMMARY_MS: String(SUMMARY_MS),
    }),
    { log },
  );
  t.after(() => sink.kill());
  const pauses: number[] = [];
  sink.on('pause', () => void pauses.push(Date.now()));
  await waitFor(() => pauses.length > 0, 'the slow table never paused fetching', 60_000, 20);
  const from = pauses[0]!;
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const late = pauses.filter((p) => p >= from + WINDOW_MS - 2 * SUMMARY_MS).length;
  await sink.stop();
  const runMs = Date.now() - started;

  // Sustained: fetching kept pausing all along (one line per transition would exceed the bound).
  assert.ok(pauses.length >= 5, `only ${pauses.length} pauses in ${WINDOW_MS} ms`);
  assert.ok(late > 0, 'backpressure still went on in the last two intervals of the window');
  const fromWatermark = lines.filter(
    (l) => l.level >= 30 && /watermark|backpressure|partitions (paused|resumed)/.test(l.msg),
  );
  const bound = Math.floor(runMs / SUMMARY_MS) + 1;
  assert.ok(
    fromWatermark.length <= bound,
    `${fromWatermark.length} info lines about backpressure in ${runMs} ms (at most ${bound}), ${pauses.length} pauses:\n${fromWatermark
      .slice(0, 5)
      .map((l) => l.msg)
      .join('\n')}`,
  );
  const summed = fromWatermark.reduce((n, l) => n + (l.backpressure?.pauses ?? 0), 0);
  assert.equal(summed, pauses.length, 'the summaries count every pause, once');

  // The start: one line per lifecycle step, nothing alarming that does not apply.
  for (const step of ['database ready', 'Kafka connected', 'DLQ ready', 'market-data-sink started'])
    assert.equal(lines.filter((l) => l.msg === step).length, 1, `one "${step}" line`);
  const db = lines.find((l) => l.msg === 'database ready');
  assert.equal(db?.database, new URL(ctx.env.DATABASE_URL!).toString());
  const eos = lines.filter((l) => l.level >= 30 && l.msg.includes('EoS'));
  assert.deepEqual(eos, [], 'no idempotent-producer EoS warning');
});
