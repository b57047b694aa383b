// Kafka's committed offsets mirror PostgreSQL's: on the three-broker cluster, the broker
// coordinating the group is killed -9 twice in turn (the first one, then the one that took
// over), each time just as the member writes its queued records, so the Kafka commits of
// those writes fail. Every record is applied once, and once the topic is idle the group's
// committed offsets in Kafka reach the log end within seconds: failed commits are retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as harness from '../helpers/sink-harness.js';

const SERVICES = path.resolve(__dirname, '../../scripts/services.sh');
const services = (...args: string[]): string =>
  execFileSync('bash', [SERVICES, ...args], { encoding: 'utf8', timeout: 300_000 });

const PARTITIONS = 6;
const PER_ROUND = 6000;

/** The node id leading the group's __consumer_offsets partition (Kafka: abs(hashCode) % partitions). */
async function coordinatorOf(ctx: harness.TestContext): Promise<number> {
  let h = 0;
  for (let i = 0; i < ctx.groupId.length; i++) h = (Math.imul(h, 31) + ctx.groupId.charCodeAt(i)) | 0;
  const meta = await ctx.admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
  const parts = meta.topics[0]!.partitions;
  const p = parts.find((x) => x.partitionId === (h & 0x7fffffff) % parts.length)!;
  return p.leader;
}

/** "topic/partition" → committed offset of the group in Kafka (-1: none). */
async function kafkaCommitted(ctx: harness.TestContext, topic: string): Promise<Map<string, number>> {
  const r = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [topic] });
  return new Map(r[0]!.partitions.map((p) => [`${topic}/${p.partition}`, Number(p.offset)]));
}

test('the group coordinator killed -9 twice in turn mid-write: every record applied once, Kafka offsets reach the log end', async (t) => {
  services('up', '--brokers', '3');
  const brokers = /KAFKA_BROKERS=([^\s]+)/.exec(services('env', '--brokers', '3'))![1]!.replace(/['"]/g, '');
  const ctx = await harness.createTestContext('catchup', brokers.split(','));
  const running: { sink?: harness.SinkHandle } = {};
  const killed = new Set<number>();
  t.after(async () => {
    await running.sink?.kill();
    for (const n of killed) services('start-broker', String(n));
    await ctx.cleanup();
    services('down', '--brokers', '3');
  });
  const topic = ctx.topic('bars');
  await ctx.admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: PARTITIONS,
        replicationFactor: 3,
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      },
    ],
    waitForLeaders: true,
  });
  await ctx.migrate();
  // Writes wait while the hold is closed, so the test decides when the queue is written.
  const setHold = await harness.installWriteHold(ctx, 'bars');

  const sink = await harness.startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      SINK_WRITE_MODE: 'copy',
      SINK_WORKERS: '2',
      QUEUE_CAPACITY_RECORDS: String(4 * PER_ROUND),
      DATABASE_STATEMENT_TIMEOUT_MS: '120000',
    }),
    { log: harness.createLogger(process.env.CATCHUP_LOG_LEVEL ?? 'error') },
  );
  running.sink = sink;

  let produced = 0;
  for (let round = 1; round <= 2; round++) {
    await setHold(true);
    await ctx.produce(topic, harness.toKafka(harness.sampleBatch('bars', PER_ROUND, 300, 1, produced)));
    produced += PER_ROUND;
    // Everything in the log not yet applied is fetched and queued, its writes held. (The log
    // end, not what was sent: a KafkaJS producer can lose a send around a broker failover.)
    const logEnd = async (): Promise<number> =>
      [...(await harness.highWatermarks(ctx.admin, [topic])).values()].reduce((a, b) => a + b, 0);
    await harness.waitFor(
      async () =>
        sink.snapshot().queue.records + (await harness.tableCount(ctx.db, ctx.schema, 'bars')) >=
        (await logEnd()),
      async () =>
        `round ${round}: the member did not queue the new records (queue ${JSON.stringify(sink.snapshot().queue)}, ` +
        `table ${await harness.tableCount(ctx.db, ctx.schema, 'bars')} of ${produced}, assigned ${sink.snapshot().consumer.assigned}, ` +
        `joined ${sink.snapshot().consumer.joined}, paused ${sink.snapshot().consumer.paused}, ` +
        `KafkaJS paused ${JSON.stringify(sink.snapshot().consumer.kafkaPaused)}, ` +
        `log end ${JSON.stringify([...(await harness.highWatermarks(ctx.admin, [topic]))])}, ` +
        `PostgreSQL ${JSON.stringify([...(await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId))])})`,
      60_000,
    );
    // __consumer_offsets may still be electing leaders right after the cluster started.
    let coordinator = -1;
    await harness.waitFor(
      async () => (coordinator = await coordinatorOf(ctx)) > 0,
      'no group coordinator',
      60_000,
      500,
    );
    services('stop-broker', String(coordinator), '--kill');
    killed.add(coordinator);
    await setHold(false);
    await harness.waitFor(
      () => harness.caughtUp(ctx, [topic]),
      `round ${round}: not applied with node ${coordinator} down`,
      90_000,
      250,
    );
    services('start-broker', String(coordinator));
    killed.delete(coordinator);
    t.diagnostic(
      `round ${round}: node ${coordinator} (group coordinator) killed -9 while ${PER_ROUND} records were written`,
    );
  }

  // Idle topic: the Kafka commits that failed must be retried until Kafka holds PostgreSQL's offsets.
  const end = await harness.highWatermarks(ctx.admin, [topic]);
  const started = Date.now();
  let committed = new Map<string, number>();
  await harness.waitFor(
    async () => {
      committed = await kafkaCommitted(ctx, topic);
      return [...end].every(([k, v]) => committed.get(k) === v);
    },
    () =>
      `Kafka's committed offsets ${JSON.stringify([...committed])} did not reach the log end ${JSON.stringify([...end])}`,
    20_000,
    250,
  );
  t.diagnostic(`Kafka offsets at the log end ${Date.now() - started} ms after PostgreSQL caught up`);

  const inLog = [...end.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`${inLog} records in the log of ${produced} sent`);
  assert.equal(
    await harness.tableCount(ctx.db, ctx.schema, 'bars'),
    inLog,
    'every record in the log applied',
  );
  const distinct = await ctx.db.query<{ n: string }>(
    `SELECT count(DISTINCT (symbol, ts))::text AS n FROM ${ctx.schema}.bars`,
  );
  assert.equal(Number(distinct.rows[0]!.n), inLog, 'no record applied twice');
});
