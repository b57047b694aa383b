// drop_oldest while the DLQ cannot keep up: the DLQ topic rejects every write (its
// max.message.bytes is set below one record) until the test lifts that. Dropped records wait
// in the overflow gate for their DLQ write; the gate is bounded, and past its bound the
// member stops fetching instead of holding the input in memory. Nothing is lost: every
// record ends in the table or in both DLQ destinations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigResourceTypes } from 'kafkajs';
import * as harness from '../helpers/sink-harness.js';
import { readDlqTopic, readNdjson } from '../helpers/dlq-readers.js';

const RECORDS = 40_000;
const QUEUE_CAPACITY = 1000;
const GATE_RECORDS = 2000;
const GATE_BYTES = 400_000;
/** Records one fetch can bring past a bound (KAFKA_MAX_BYTES below, ~270 wire bytes a record, whole batches). */
const FETCH_OVERSHOOT = 3000;

async function setDlqMaxMessageBytes(ctx: harness.TestContext, bytes: number): Promise<void> {
  await ctx.admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name: ctx.dlqTopic,
        configEntries: [{ name: 'max.message.bytes', value: String(bytes) }],
      },
    ],
  });
}

/**
 * bars with 2 partitions; a DLQ topic that exists before the sink starts (so it is not created
 * with its default size) and refuses every record batch, so each DLQ write fails with
 * MESSAGE_TOO_LARGE; and a slow table, so the queue overflows and records are dropped.
 */
async function failingDlqAndSlowTable(ctx: harness.TestContext): Promise<void> {
  await ctx.createTopics(['bars'], 2);
  await ctx.admin.createTopics({
    topics: [
      { topic: ctx.dlqTopic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '64' }] },
    ],
    waitForLeaders: true,
  });
  await ctx.migrate();
  await ctx.db.query(`
    CREATE FUNCTION ${ctx.schema}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$;
    CREATE TRIGGER slow AFTER INSERT ON ${ctx.schema}.bars FOR EACH STATEMENT EXECUTE FUNCTION ${ctx.schema}.slow();`);
}

const SINK_ENV = {
  KAFKA_TOPICS: 'bars',
  QUEUE_OVERFLOW: 'drop_oldest',
  QUEUE_CAPACITY_RECORDS: String(QUEUE_CAPACITY),
  QUEUE_OVERFLOW_PENDING_RECORDS: String(GATE_RECORDS),
  QUEUE_OVERFLOW_PENDING_BYTES: String(GATE_BYTES),
  KAFKA_MAX_BYTES: '65536',
  KAFKA_MAX_BYTES_PER_PARTITION: '32768',
  KAFKA_PAUSE_HOLD_MS: '200',
  SINK_WRITE_MODE: 'copy',
  SINK_WORKERS: '2',
  SINK_BATCH_SIZE: '200',
};

test('drop_oldest with a DLQ slower than the input: the overflow gate stays bounded, the member pauses, nothing is lost', async (t) => {
  const ctx = await harness.createTestContext('dropgate');
  // Stop the member before its topics and schema go away.
  const running: { sink?: harness.SinkHandle } = {};
  t.after(async () => {
    await running.sink?.kill();
    await ctx.cleanup();
  });
  await failingDlqAndSlowTable(ctx);
  const msgs = harness.sampleBatch('bars', RECORDS, 400);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));

  const sink = await harness.startSink(ctx.config(SINK_ENV), { log: harness.createLogger('error') });
  running.sink = sink;
  let paused = false;
  sink.on('pause', () => (paused = true));
  let peakRss = 0;
  const rss = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  t.after(() => clearInterval(rss));
  const fetched = async (): Promise<number> =>
    (await sink.metrics.itemsSubmitted.get()).values.reduce((n, v) => n + v.value, 0);
  const limit = QUEUE_CAPACITY + GATE_RECORDS + FETCH_OVERSHOOT;

  // While the DLQ fails, the member may hold the queue and the gate, and one fetch more.
  await harness.waitFor(
    async () => paused || (await fetched()) > limit,
    async () => `neither paused nor past ${limit} fetched records (fetched ${await fetched()})`,
    60_000,
  );
  // Keep the DLQ failing a while longer: a bounded member fetches nothing more.
  const atPause = await fetched();
  await new Promise((r) => setTimeout(r, 3000));
  const held = await fetched();
  t.diagnostic(
    `DLQ failing: fetched ${atPause} records when paused, ${held} after 3 s more; peak RSS so far ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  assert.ok(
    held <= limit,
    `fetched ${held} of ${RECORDS} records while the DLQ was failing; bound: queue ${QUEUE_CAPACITY} + gate ${GATE_RECORDS} + one fetch ${FETCH_OVERSHOOT}`,
  );
  assert.equal(paused, true, 'the member paused fetching while the gate was full');

  // The DLQ recovers: the gate drains, fetching resumes, everything is handled.
  await setDlqMaxMessageBytes(ctx, 16 * 1024 * 1024);
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'drop_oldest sink did not finish',
    180_000,
    250,
  );
  const gate = sink.snapshot().overflowGate;
  await sink.stop();

  const ident = harness.barIdent;
  const all = new Set(msgs.map((m) => ident(m.value)));
  const written = await harness.writtenBarsOnce(ctx);
  const fileDlq = readNdjson(ctx.dlqDir);
  assert.ok(fileDlq.every((d) => d.reason === 'overflow' && d.errorCode === 'QUEUE_OVERFLOW'));
  // A failed dual write is retried whole, so the file may hold a record more than once.
  const dropped = new Set(fileDlq.map(harness.deadLetterIdent));
  assert.ok(dropped.size > 0, 'the slow table made the queue overflow');
  for (const d of dropped) assert.ok(!written.has(d), `${d} is both dropped and written`);
  assert.equal(written.size + dropped.size, all.size, 'dropped + written = everything: nothing lost');
  const coords = (ds: readonly { partition: number; offset: number }[]): Set<string> =>
    new Set(ds.map((d) => `${d.partition}/${d.offset}`));
  const topicDlq = await readDlqTopic(ctx, dropped.size, 120_000);
  assert.deepEqual(coords(topicDlq), coords(fileDlq), 'both DLQ destinations hold the same dropped records');

  t.diagnostic(
    `gate peak ${gate.peakRecords} records / ${gate.peakBytes} bytes (bound ${GATE_RECORDS} / ${GATE_BYTES}); ` +
      `${dropped.size} dropped, ${written.size} written, ${fileDlq.length} file lines; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  assert.ok(gate.peakRecords <= GATE_RECORDS, `gate held ${gate.peakRecords} records, bound ${GATE_RECORDS}`);
  assert.ok(gate.peakBytes <= GATE_BYTES, `gate held ${gate.peakBytes} bytes, bound ${GATE_BYTES}`);
  assert.ok(gate.peakRecords > 0, 'records waited in the gate');
});

test('drop_oldest: a graceful stop while the DLQ fails ends once the DLQ is back, with nothing lost or written twice', async (t) => {
  const ctx = await harness.createTestContext('dropstop');
  const running: { sink?: harness.SinkHandle } = {};
  t.after(async () => {
    // Bounded: a member that cannot stop must not hang the test file.
    await Promise.race([running.sink?.kill(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await ctx.cleanup();
  });
  await failingDlqAndSlowTable(ctx);
  const msgs = harness.sampleBatch('bars', 10_000, 400);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const sink = await harness.startSink(ctx.config(SINK_ENV), { log: harness.createLogger('error') });
  running.sink = sink;
  // Records dropped and waiting for the failing DLQ (the file half of each failed write lands).
  await harness.waitFor(() => readNdjson(ctx.dlqDir).length > 0, 'no record was dropped', 60_000);

  let stopped = false;
  const stopping = sink.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 2000)); // the drain meets DLQ failures
  await setDlqMaxMessageBytes(ctx, 16 * 1024 * 1024);
  await harness.waitFor(() => stopped, 'stop() did not end after the DLQ came back', 60_000);
  await stopping;

  // Every record is in the table or in both DLQ destinations, or not yet applied (read again
  // by the next member: at or past its partition's next_offset); none is in two of these.
  const stored = await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  const fileDlq = readNdjson(ctx.dlqDir);
  const coords = (ds: readonly { partition: number; offset: number }[]): Set<string> =>
    new Set(ds.map((d) => `${d.partition}/${d.offset}`));
  const dropped = coords(fileDlq);
  const topicDlq = await readDlqTopic(ctx, dropped.size, 120_000);
  assert.deepEqual(coords(topicDlq), dropped, 'both DLQ destinations hold the same dropped records');
  const written = await harness.writtenBarsOnce(ctx);
  const droppedIdents = new Set(fileDlq.map(harness.deadLetterIdent));
  for (const d of droppedIdents) assert.ok(!written.has(d), `${d} is both dropped and written`);
  // A dropped record past next_offset is read again later (the DLQ is at-least-once).
  const droppedBelow = [...dropped].filter((c) => {
    const [partition, offset] = c.split('/').map(Number) as [number, number];
    return offset < (stored.get(`${ctx.topic('bars')}/${partition}`) ?? 0);
  }).length;
  const next = [...stored.values()].reduce((a, b) => a + b, 0);
  assert.equal(written.size + droppedBelow, next, 'table + DLQ = exactly the records below next_offset');
  t.diagnostic(
    `stopped with ${written.size} written, ${droppedIdents.size} dropped, ${msgs.length - next} left to read`,
  );
});
