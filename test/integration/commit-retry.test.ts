// Kafka's committed offsets catch up with PostgreSQL's on the single broker, without a broker
// failure: the member's batch is in flight when a rebalance takes one of its partitions away,
// so the batch commits to PostgreSQL while its Kafka commit for that partition cannot be made
// (not owned). When the partition comes back, Kafka is behind PostgreSQL with nothing left to
// read: the member must commit PostgreSQL's offset itself, or lag tools show the gap forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as harness from '../helpers/sink-harness.js';

const RECORDS = 2000;

test('a partition lost while its batch was in flight and then regained: Kafka offsets reach the log end', async (t) => {
  const ctx = await harness.createTestContext('commitre');
  const running: { sink?: harness.SinkHandle; other?: { disconnect(): Promise<void> } } = {};
  t.after(async () => {
    await running.other?.disconnect();
    await running.sink?.kill();
    await ctx.cleanup();
  });
  await ctx.createTopics(['bars'], 2);
  const topic = ctx.topic('bars');
  await ctx.migrate();
  // Writes wait while the hold is closed.
  const setHold = await harness.installWriteHold(ctx, 'bars');
  await ctx.produce(topic, harness.toKafka(harness.sampleBatch('bars', RECORDS, 300)));

  // Every record in flight, whichever partition the rebalance takes: an idle pool writes what
  // is there at once (group commit), so the first partition's records leave alone; a second
  // worker takes the other's after the short flush bound. Both writes wait on the hold.
  const sink = await harness.startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      SINK_WRITE_MODE: 'copy',
      SINK_WORKERS: '2',
      SINK_BATCH_SIZE: String(RECORDS),
      SINK_FLUSH_INTERVAL_MS: '100',
      DATABASE_STATEMENT_TIMEOUT_MS: '120000',
    }),
    { log: harness.createLogger('error') },
  );
  running.sink = sink;
  await harness.waitFor(
    () => sink.snapshot().queue.records === RECORDS && sink.snapshot().queue.queued === 0,
    () => `the batch of ${RECORDS} records is not in flight (${JSON.stringify(sink.snapshot().queue)})`,
  );

  // A second member joins: the rebalance takes one partition from the sink mid-batch.
  const other = ctx.kafka.consumer({ groupId: ctx.groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  running.other = other;
  await other.connect();
  await other.subscribe({ topics: [topic], fromBeginning: true });
  await other.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: () => Promise.resolve() });
  await harness.waitFor(
    () => sink.snapshot().consumer.assigned === 1,
    'the sink did not lose a partition',
    60_000,
  );

  // The batches commit to PostgreSQL, partitions of both owners; then the other member leaves.
  await setHold(false);
  await harness.waitFor(() => harness.caughtUp(ctx, [topic]), 'the batch was not committed', 60_000);
  assert.equal(await harness.tableCount(ctx.db, ctx.schema, 'bars'), RECORDS);
  await other.disconnect();
  delete running.other;
  await harness.waitFor(
    () => sink.snapshot().consumer.assigned === 2,
    'the sink did not get its partition back',
    60_000,
  );

  const end = await harness.highWatermarks(ctx.admin, [topic]);
  let committed = new Map<string, number>();
  await harness.waitFor(
    async () => {
      const r = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [topic] });
      committed = new Map(r[0]!.partitions.map((p) => [`${topic}/${p.partition}`, Number(p.offset)]));
      return [...end].every(([k, v]) => committed.get(k) === v);
    },
    () =>
      `Kafka's committed offsets ${JSON.stringify([...committed])} did not reach the log end ${JSON.stringify([...end])}`,
    15_000,
    250,
  );
});
