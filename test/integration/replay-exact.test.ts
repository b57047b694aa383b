// Replay exact: a DLQ holding every dead letter of a run twice over in part (a member killed
// between its DLQ write and its commit re-dead-letters the same records) is counted whole by
// a dry run (entries, distinct source records, duplicates), and a replay, from the topic or
// from the files, puts each source record back exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import { DualDeadLetterSink } from '../../src/dlq/dual-dlq.js';
import { KafkaTopicDeadLetterSink } from '../../src/dlq/topic/writer.js';
import { NdjsonDeadLetterSink } from '../../src/dlq/file/writer.js';
import { createLogger } from '../../src/core/logger.js';
import { createTestContext, waitFor, type TestContext } from '../helpers/sink-harness.js';
import { randomName } from '../helpers/services.js';

const REPLAY = path.resolve(__dirname, '../../scripts/replay-dlq');

function deadLetters(topic: string, count: number): DeadLetter[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    topic,
    partition: i % 2,
    offset: 100 + i,
    timestamp: now - 60_000 + i,
    key: Buffer.from(`SYM${i % 7}`),
    value: Buffer.from(`{"poison":${i}}`),
    headers: { trace: Buffer.from(`t${i}`) },
    reason: 'database' as const,
    errorCode: '23514',
    errorMessage: `row ${i} violates check constraint`,
    attempts: 3,
    workerId: 'w1',
    failedAt: now - 30_000 + i,
  }));
}

function runReplay(ctx: TestContext, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(
    'bash',
    [REPLAY, '--brokers', ctx.env.KAFKA_BROKERS!, '--dlq-topic', ctx.dlqTopic, ...args],
    { encoding: 'utf8', env: ctx.env, timeout: 120_000 },
  );
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** Every message of a topic, read until the high watermarks are reached. */
async function readAll(kafka: Kafka, admin: Admin, topic: string, expected: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: randomName('reader-'), maxWaitTimeInMs: 200 });
  const out: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        out.push(message);
        return Promise.resolve();
      },
    });
    let high = -1;
    await waitFor(
      async () => {
        high = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
        return out.length >= high && out.length >= expected;
      },
      () => `${topic}: read ${out.length}, expected ${expected}, high watermarks sum to ${high}`,
      60_000,
    );
  } finally {
    await consumer.disconnect();
  }
  return out;
}

const sources = (ms: readonly KafkaMessage[]): string[] =>
  ms.map((m) => m.headers!['mds.replay.source']!.toString()).sort();

test('a DLQ holding duplicates: the dry run counts all of it, the replay sends each record once', async (t) => {
  const ctx = await createTestContext('replayexact');
  t.after(() => ctx.cleanup());
  await ctx.createTopics(['bars', 'fromfiles'], 2);
  const logger = createLogger('silent');
  const dlq = new DualDeadLetterSink({
    topic: new KafkaTopicDeadLetterSink({ kafka: ctx.kafka, topic: ctx.dlqTopic, logger, numPartitions: 3 }),
    file: new NdjsonDeadLetterSink({ dir: ctx.dlqDir, maxFileBytes: 1 << 20 }),
  });
  await dlq.start();
  const all = deadLetters(ctx.topic('bars'), 40);
  // Written in batches, then the first 25 again, as the member that takes over the partitions
  // of a killed one dead-letters the records it had written but not committed.
  for (let i = 0; i < all.length; i += 8) await dlq.write(all.slice(i, i + 8));
  for (let i = 0; i < 25; i += 5) await dlq.write(all.slice(i, i + 5));
  await dlq.close();
  const expectedSources = all.map((d) => `${d.topic}/${d.partition}/${d.offset}`).sort();
  const group = `${ctx.groupId}-replay`;

  for (const from of [
    ['--from-topic', '--group', group],
    ['--from-files', ctx.dlqDir],
  ]) {
    const dry = runReplay(ctx, [...from, '--dry-run', '--idle-timeout-ms', '3000']);
    assert.equal(dry.status, 0, dry.out);
    assert.match(dry.out, /entries=65 distinct=40 duplicates=25 /, `${from[0]}:\n${dry.out}`);
    // One line per record a replay would send: each source record once.
    assert.equal(dry.out.split('\n').filter((l) => l.includes(' -> ')).length, 40, dry.out);
  }

  const fromTopic = runReplay(ctx, ['--from-topic', '--group', group, '--idle-timeout-ms', '3000']);
  assert.equal(fromTopic.status, 0, fromTopic.out);
  assert.match(fromTopic.out, /replayed=40 alreadySent=25 /, fromTopic.out);
  const back = await readAll(ctx.kafka, ctx.admin, ctx.topic('bars'), 40);
  assert.deepEqual(sources(back), expectedSources, 'each source record replayed exactly once');

  // The group has replayed everything: a dry run still counts the whole DLQ, none of it pending.
  const after = runReplay(ctx, ['--from-topic', '--group', group, '--dry-run', '--idle-timeout-ms', '3000']);
  assert.equal(after.status, 0, after.out);
  assert.match(after.out, /entries=65 distinct=40 duplicates=25 earlier=65 read=0 /, after.out);

  const fromFiles = runReplay(ctx, ['--from-files', ctx.dlqDir, '--to-topic', ctx.topic('fromfiles')]);
  assert.equal(fromFiles.status, 0, fromFiles.out);
  const back2 = await readAll(ctx.kafka, ctx.admin, ctx.topic('fromfiles'), 40);
  assert.deepEqual(sources(back2), expectedSources, 'from the files too, each record once');
});
