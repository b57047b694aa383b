// On the three-broker cluster: dead letters written while a broker is killed -9 and restarted
// land in both destinations whole (the topic writer notices a send KafkaJS resolved without
// one partition's result); `replay-dlq --reconcile` lists exactly what the DLQ topic lacks
// once part of it is deleted, and `--repair` restores it; a replay running through another
// broker kill puts every record back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import { DualDeadLetterSink } from '../../src/dlq/dual-dlq.js';
import { deadLetterFromKafkaMessage } from '../../src/dlq/topic/codec.js';
import { KafkaTopicDeadLetterSink } from '../../src/dlq/topic/writer.js';
import { NdjsonDeadLetterSink } from '../../src/dlq/file/writer.js';
import { createLogger } from '../../src/core/logger.js';
import { createTestContext, waitFor, type TestContext } from '../helpers/sink-harness.js';
import { readNdjson, readTopicMessages } from '../helpers/dlq-readers.js';

const ROOT = path.resolve(__dirname, '../..');
const SERVICES = path.join(ROOT, 'scripts/services.sh');
const REPLAY = path.join(ROOT, 'scripts/replay-dlq');
const services = (...args: string[]): string =>
  execFileSync('bash', [SERVICES, ...args], { encoding: 'utf8', timeout: 300_000 });
const N = 300;

const key = (d: { topic: string; partition: number; offset: number }): string =>
  `${d.topic}/${d.partition}/${d.offset}`;

function deadLetters(topic: string): DeadLetter[] {
  const now = Date.now();
  return Array.from({ length: N }, (_, i) => ({
    topic,
    partition: i % 3,
    offset: 1000 + i,
    timestamp: now - 60_000 + i,
    key: Buffer.from(`SYM${i % 11}`),
    value: Buffer.from(`{"poison":${i}}`),
    headers: {},
    reason: 'validation' as const,
    errorCode: 'SCHEMA_INVALID',
    errorMessage: `record ${i}: close: expected a number`,
    attempts: 0,
    workerId: 'w1',
    failedAt: now - 30_000 + i,
  }));
}

function replayDlq(ctx: TestContext, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(
    'bash',
    [REPLAY, '--brokers', ctx.env.KAFKA_BROKERS!, '--dlq-topic', ctx.dlqTopic, ...args],
    { encoding: 'utf8', env: ctx.env, timeout: 120_000 },
  );
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

async function leaderOf(ctx: TestContext, topic: string, partition: number): Promise<number> {
  const meta = await ctx.admin.fetchTopicMetadata({ topics: [topic] });
  return meta.topics[0]!.partitions.find((p) => p.partitionId === partition)!.leader;
}

/** The __consumer_offsets partition of a group: Kafka's abs(String.hashCode) mod the partition count. */
function coordinatorPartition(groupId: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(31, h) + groupId.charCodeAt(i)) | 0;
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

async function topicKeys(ctx: TestContext): Promise<string[]> {
  return (await readTopicMessages(ctx.kafka, ctx.admin, ctx.dlqTopic)).map(({ message }) =>
    key(deadLetterFromKafkaMessage(message)),
  );
}

test('3 brokers: reconcile finds and repairs what the DLQ topic lacks; a replay through a broker kill is complete', async (t) => {
  services('up', '--brokers', '3');
  t.after(() => void services('down', '--brokers', '3'));
  const brokers = /KAFKA_BROKERS=([^\s]+)/.exec(services('env', '--brokers', '3'))![1]!.replace(/['"]/g, '');
  const ctx = await createTestContext('reconcile', brokers.split(','));
  t.after(() => ctx.cleanup());
  const replicated = { replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] };
  await ctx.admin.createTopics({
    topics: [
      { topic: ctx.dlqTopic, numPartitions: 2, ...replicated },
      { topic: ctx.topic('bars'), numPartitions: 3, ...replicated },
    ],
    waitForLeaders: true,
  });

  // Dead-lettering through a kill -9 and restart of the DLQ leader. A failed write is retried
  // whole, as the pipeline does (so either destination may hold a record twice).
  const logger = createLogger('silent');
  const dlq = new DualDeadLetterSink({
    topic: new KafkaTopicDeadLetterSink({ kafka: ctx.kafka, topic: ctx.dlqTopic, logger }),
    file: new NdjsonDeadLetterSink({ dir: ctx.dlqDir, maxFileBytes: 1 << 20 }),
  });
  await dlq.start();
  t.after(() => dlq.close());
  const all = deadLetters(ctx.topic('bars'));
  const allKeys = new Set(all.map(key));
  const victim = await leaderOf(ctx, ctx.dlqTopic, 0);
  for (let i = 0; i < N; i += 10) {
    if (i === 100) services('stop-broker', String(victim), '--kill');
    if (i === 200) services('start-broker', String(victim));
    await waitFor(
      () => dlq.write(all.slice(i, i + 10)).then(() => true),
      `dead-letter write at ${i} kept failing`,
      60_000,
      500,
    );
  }
  await dlq.close();
  assert.deepEqual(new Set(readNdjson(ctx.dlqDir).map(key)), allKeys, 'the files hold every dead letter');
  const inTopic = new Set(await topicKeys(ctx));
  // KafkaJS can resolve a send that lost one partition's share (no result for that partition):
  // the writer must notice and fail the write, so it is retried, rather than lose them.
  const lostByClient = [...allKeys].filter((k) => !inTopic.has(k));
  t.diagnostic(`DLQ topic after the kill: ${lostByClient.length} of ${N} dead letters missing`);
  assert.deepEqual(lostByClient, [], 'the DLQ topic holds every dead letter');

  // Make the topic lack entries for certain: drop the first half of partition 0.
  const p0 = (await ctx.admin.fetchTopicOffsets(ctx.dlqTopic)).find((p) => p.partition === 0)!;
  await ctx.admin.deleteTopicRecords({
    topic: ctx.dlqTopic,
    partitions: [{ partition: 0, offset: String(Math.floor(Number(p0.high) / 2)) }],
  });
  const remaining = new Set(await topicKeys(ctx));
  const expectedMissing = [...allKeys].filter((k) => !remaining.has(k)).sort();
  assert.ok(expectedMissing.length > 0, 'the topic lacks some dead letters');

  const report = replayDlq(ctx, ['--reconcile', '--from-files', ctx.dlqDir]);
  assert.equal(report.status, 3, report.out);
  const listed = report.out
    .split('\n')
    .filter((l) => l.startsWith('missing-from-topic '))
    .map((l) => l.split(' ')[1]!)
    .sort();
  assert.deepEqual(listed, expectedMissing, 'reconcile lists exactly what the topic lacks');
  assert.match(
    report.out,
    new RegExp(`missing from topic: ${expectedMissing.length}, missing from files: 0`),
  );

  const repair = replayDlq(ctx, ['--reconcile', '--repair', '--from-files', ctx.dlqDir]);
  assert.equal(repair.status, 0, repair.out);
  assert.match(repair.out, /read back: .*missing from topic: 0, missing from files: 0/);
  assert.deepEqual(new Set(await topicKeys(ctx)), allKeys, 'after the repair the topic holds every one');

  // A replay from the topic, slowed down so a broker kill -9 lands in the middle of it. A run
  // that fails (sends out of retries) is started again, as an operator would: it resumes at
  // the replay group's position.
  const group = `${ctx.groupId}-replay`;
  const target = ctx.topic('bars');
  // The broker coordinating the replay group: its death also breaks the group's commits, which
  // KafkaJS cannot redirect while the replay holds a batch. It leads a target partition too.
  const victim2 = await leaderOf(ctx, '__consumer_offsets', coordinatorPartition(group, 3));
  const args = [REPLAY, '--brokers', brokers, '--dlq-topic', ctx.dlqTopic, '--group', group];
  const first = spawn('bash', [...args, '--rate', '40', '--idle-timeout-ms', '30000'], {
    env: ctx.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let firstOut = '';
  first.stdout.on('data', (b: Buffer) => (firstOut += b.toString()));
  first.stderr.on('data', (b: Buffer) => (firstOut += b.toString()));
  const firstExit = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
  t.after(() => void first.kill('SIGKILL'));
  await waitFor(
    async () => (await ctx.admin.fetchTopicOffsets(target)).reduce((n, p) => n + Number(p.high), 0) >= 40,
    () => `the replay did not start:\n${firstOut}`,
    60_000,
  );
  services('stop-broker', String(victim2), '--kill');
  // Two brokers of three stay up: enough for min.insync.replicas=2, so no restart is needed.
  const runs = [{ status: await firstExit, out: firstOut }];
  while (runs.at(-1)!.status !== 0 && runs.length < 4) {
    runs.push(replayDlq(ctx, ['--from-topic', '--group', group, '--idle-timeout-ms', '30000']));
  }
  assert.equal(runs.at(-1)!.status, 0, runs.map((r) => r.out).join('\n----\n'));
  const back = (await readTopicMessages(ctx.kafka, ctx.admin, target)).map(({ message }) =>
    message.headers!['mds.replay.source']!.toString(),
  );
  t.diagnostic(`replay: ${runs.length} run(s), ${back.length} records in the target for ${N} dead letters`);
  const warned = (text: string): number =>
    text
      .split('\n')
      .filter((l) => /without a result|new producer|not found in the log|not committed yet/.test(l)).length;
  t.diagnostic(
    `replay warnings (lost or failed sends handled): ${runs.map((r) => warned(r.out)).join(', ')}`,
  );
  for (const r of runs.slice(0, -1))
    t.diagnostic(`failed run: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
  assert.deepEqual(new Set(back), allKeys, 'every dead letter replayed');
});
