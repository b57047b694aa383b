// status against the real broker and PostgreSQL: the command's numbers (next_offset,
// Kafka's committed offset, log end, lag, owner) equal what sink_offsets and Kafka hold, and
// the running member's GET /status says its partitions are paused and why: during
// backpressure behind a held table, and with the breaker open on a table renamed away
// (SQLSTATE 42P01).
import { test, type TestContext as NodeTestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startSink, type SinkHandle } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import type { GroupStatus } from '../../src/ops/group-status.js';
import type { PartitionState } from '../../src/ops/member-status.js';
import { caughtUp, createTestContext, highWatermarks, installWriteHold } from '../helpers/sink-harness.js';
import { sampleBatch, storedOffsets, toKafka, waitFor, type TestContext } from '../helpers/sink-harness.js';
import { httpGet, waitFor as poll } from '../helpers/services.js';
import { runCommand } from '../helpers/worker-process.js';

interface MemberStatusBody {
  fetching: string;
  pauseReasons: string[];
  writesHeldBy: string[];
  breaker: { state: string };
  environmentErrors: { sqlState: string }[];
  queue: { records: number; capacityRecords: number; fill: number; aboveHighWatermark: boolean };
  partitions: PartitionState[];
}

const CAPACITY = 600;

async function kafkaCommitted(ctx: TestContext, topic: string): Promise<Map<string, number>> {
  const [t] = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [topic] });
  return new Map(
    (t?.partitions ?? [])
      .filter((p) => Number(p.offset) >= 0)
      .map((p) => [`${topic}/${p.partition}`, Number(p.offset)]),
  );
}

/** Kafka's mirror has caught up with sink_offsets (the committer runs after each write). */
async function mirrored(ctx: TestContext, topic: string): Promise<boolean> {
  const stored = await storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  const kafka = await kafkaCommitted(ctx, topic);
  return stored.size > 0 && [...stored].every(([k, v]) => kafka.get(k) === v);
}

async function memberStatus(sink: SinkHandle): Promise<MemberStatusBody> {
  const r = await httpGet(sink.metricsPort, '/status');
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as MemberStatusBody;
}

/** `status` through the real command line (stdout is a pipe: JSON) against both stores. */
async function checkCliStatus(ctx: TestContext, topic: string): Promise<void> {
  const { code, out } = await runCommand({ ...ctx.env, KAFKA_TOPICS: 'bars' }, ['status']);
  assert.equal(code, 0, out);
  const s = JSON.parse(out.slice(out.indexOf('{'))) as GroupStatus;
  const stored = await storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  const kafka = await kafkaCommitted(ctx, topic);
  const ends = await highWatermarks(ctx.admin, [topic]);
  assert.equal(s.groupId, ctx.groupId);
  assert.equal(s.members, 1);
  assert.equal(s.partitions.length, ends.size);
  for (const p of s.partitions) {
    const k = `${p.topic}/${p.partition}`;
    assert.equal(p.stored, stored.get(k), `${k} next_offset`);
    assert.equal(p.committed, kafka.get(k), `${k} Kafka committed`);
    assert.equal(p.logEnd, ends.get(k), `${k} log end`);
    assert.equal(p.lag, ends.get(k)! - stored.get(k)!, `${k} lag`);
    assert.ok(p.lag > 0, `${k} lags behind while writes are held`);
    assert.equal(p.owner?.clientId, ctx.env.KAFKA_CLIENT_ID, `${k} owner`);
  }
}

/** A namespace with a 3-partition bars topic and its table, cleaned up after the test. */
async function barsContext(t: NodeTestContext, label: string): Promise<TestContext> {
  const ctx = await createTestContext(label);
  t.after(() => ctx.cleanup());
  await ctx.createTopics(['bars'], 3);
  await ctx.migrate();
  return ctx;
}

async function startAndCatchUp(ctx: TestContext, extra: Record<string, string>): Promise<SinkHandle> {
  const topic = ctx.topic('bars');
  await ctx.produce(topic, toKafka(sampleBatch('bars', 900, 90)));
  const sink = await startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      QUEUE_CAPACITY_RECORDS: String(CAPACITY),
      QUEUE_HIGH_WATERMARK: '0.8',
      QUEUE_LOW_WATERMARK: '0.3',
      SINK_WORKERS: '2',
      SINK_BATCH_SIZE: '100',
      ...extra,
    }),
    { log: createLogger('silent') },
  );
  await waitFor(() => caughtUp(ctx, [topic]), 'first records not applied', 120_000);
  await waitFor(() => mirrored(ctx, topic), 'Kafka did not mirror sink_offsets');
  return sink;
}

test('status during backpressure: the numbers of both stores, paused by the watermark', async (t) => {
  const ctx = await barsContext(t, 'statusbp');
  const topic = ctx.topic('bars');
  const hold = await installWriteHold(ctx, 'bars');
  await hold(false);
  const sink = await startAndCatchUp(ctx, {});
  t.after(() => sink.kill());

  await hold(true);
  await ctx.produce(topic, toKafka(sampleBatch('bars', 4000, 90, 1, 900)));
  await waitFor(() => sink.snapshot().consumer.paused, 'the member never paused', 60_000);
  // Writes are held: sink_offsets and Kafka's mirror stand still from here on.
  await waitFor(() => mirrored(ctx, topic), 'Kafka did not mirror sink_offsets');
  await checkCliStatus(ctx, topic);

  const m = await memberStatus(sink);
  assert.equal(m.fetching, 'paused');
  assert.deepEqual(m.pauseReasons, ['watermark']);
  assert.equal(m.breaker.state, 'closed');
  assert.ok(m.queue.aboveHighWatermark);
  assert.equal(m.queue.capacityRecords, CAPACITY);
  assert.ok(m.queue.fill >= 0.3, `queue fill ${m.queue.fill}`);
  const stored = await storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  assert.deepEqual(
    m.partitions.map((p) => [`${p.topic}/${p.partition}`, p.paused, p.reasons, p.nextOffset]),
    [...stored].sort().map(([k, v]) => [k, true, ['watermark'], v]),
  );

  await hold(false);
  await waitFor(() => caughtUp(ctx, [topic]), 'did not finish once writes were let through', 120_000);
  await waitFor(async () => (await memberStatus(sink)).fetching === 'running', 'never resumed');
  await sink.stop();
});

test('status with the breaker open (table renamed away): both stores, paused by breaker and 42P01', async (t) => {
  const ctx = await barsContext(t, 'statuscb');
  const topic = ctx.topic('bars');
  const sink = await startAndCatchUp(ctx, {
    CB_FAILURE_THRESHOLD: '1',
    // Open long enough to look at; no probe during the test.
    CB_OPEN_MS: '600000',
    RETRY_MAX_ATTEMPTS: '1',
    RETRY_INITIAL_BACKOFF_MS: '5',
    RETRY_MAX_BACKOFF_MS: '20',
  });
  t.after(() => sink.kill());

  await ctx.db.query(`ALTER TABLE ${ctx.schema}.bars RENAME TO bars_away`);
  await ctx.produce(topic, toKafka(sampleBatch('bars', 4000, 90, 1, 900)));
  const m = await poll(
    async () => {
      const s = await memberStatus(sink);
      return s.breaker.state === 'open' && s.fetching === 'paused' && s.environmentErrors.length > 0
        ? s
        : null;
    },
    {
      message: async () => `never open and paused: ${JSON.stringify(await memberStatus(sink))}`,
      timeoutMs: 60_000,
    },
  );
  await waitFor(() => mirrored(ctx, topic), 'Kafka did not mirror sink_offsets');
  await checkCliStatus(ctx, topic);

  const held = ['breaker open', 'environment SQLSTATE 42P01'];
  assert.deepEqual(m.writesHeldBy, held);
  assert.deepEqual(m.pauseReasons, ['watermark', ...held]);
  assert.equal(m.partitions.length, 3);
  for (const p of m.partitions) assert.deepEqual([p.paused, p.reasons], [true, ['watermark', ...held]]);
});
