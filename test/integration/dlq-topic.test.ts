// The DLQ topic on the real broker: dead letters written by KafkaTopicDeadLetterSink come
// back exactly through deadLetterFromKafkaMessage, and the replay core reading that topic
// sends exactly the filtered originals, with replay headers, and resumes where it stopped.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Kafka, logLevel, type Admin, type KafkaMessage } from 'kafkajs';
import type { DeadLetter, DeadLetterReason } from '../../src/core/dead-letter.js';
import { createLogger } from '../../src/core/logger.js';
import { DLQ_HEADERS, deadLetterFromKafkaMessage } from '../../src/dlq/topic/codec.js';
import { KafkaTopicDeadLetterSink } from '../../src/dlq/topic/writer.js';
import { TopicDeadLetterSource } from '../../src/dlq/topic/reader.js';
import { BROKERS, waitFor } from '../helpers/sink-harness.js';
import { randomName } from '../helpers/services.js';
import { readTopicMessages } from '../helpers/dlq-readers.js';
import { replay, type ReplayOptions, type ReplaySummary } from '../../src/replay/replay.js';
import { KafkaReplayTarget } from '../../src/replay/kafka-target.js';

const REASONS: DeadLetterReason[] = ['decode', 'validation', 'database', 'overflow', 'tombstone'];

async function brokerReachable(): Promise<boolean> {
  const [host, port] = BROKERS[0]!.split(':');
  return new Promise((resolve) => {
    const s = net.connect({ host: host!, port: Number(port) }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

const coord = (d: { topic: string; partition: number; offset: number }): string =>
  `${d.topic}/${d.partition}/${d.offset}`;

/** 50 dead letters covering every reason and the awkward shapes of key, value and headers. */
function makeDeadLetters(srcTopics: readonly string[], count: number, offsetBase = 0): DeadLetter[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i): DeadLetter => {
    const n = offsetBase + i;
    const shape = n % 5;
    return {
      topic: srcTopics[n % srcTopics.length]!,
      partition: n % 4,
      offset: 1000 + n,
      // Recent past: the broker refuses timestamps too far in the future.
      timestamp: now - 60_000 + n,
      key: shape === 3 ? null : shape === 4 ? Buffer.from([0xff, n & 0xff, 0x00]) : Buffer.from(`key-${n}`),
      value:
        shape === 0
          ? Buffer.from(` {"n": ${n}, "close": "n/a"} `)
          : shape === 1
            ? Buffer.from(`not json ${n} ü`)
            : shape === 2
              ? Buffer.from([0x00, 0xfe, n & 0xff, 0x80])
              : shape === 3
                ? null
                : Buffer.alloc(0),
      headers:
        shape === 0
          ? {}
          : {
              trace: Buffer.from(`t-${n}`),
              bin: Buffer.from([0xde, 0xad, n & 0xff]),
              ...(shape === 1 ? { rep: [Buffer.from('a'), Buffer.from([0xff]), Buffer.from('c')] } : {}),
              // A record that already carries one of our header names keeps its own value.
              ...(shape === 2 ? { [DLQ_HEADERS.reason]: Buffer.from('from-the-producer') } : {}),
              ...(shape === 4 ? { novalue: undefined } : {}),
            },
      reason: REASONS[n % REASONS.length]!,
      errorCode: `CODE_${n % 3}`,
      errorMessage: `record ${n}: expected something else, got "ü\n${n}"`,
      attempts: n % 4,
      workerId: `worker-${n % 2}`,
      failedAt: now - 30_000 + n,
    };
  });
}

/** KafkaJS cannot send a header without a value: it goes out (and comes back) empty. */
function sentAs(d: DeadLetter): DeadLetter {
  const headers = Object.fromEntries(
    Object.entries(d.headers ?? {}).map(([k, v]) => [k, v ?? Buffer.alloc(0)]),
  );
  return { ...d, headers };
}

/** Every message of a topic (all partitions), once `expected` arrived and its partitions are read to the end. */
async function readTopic(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  expected: number,
): Promise<{ partition: number; message: KafkaMessage }[]> {
  await waitFor(
    async () => (await totalHigh(admin, topic)) >= expected,
    `${topic}: ${expected} records written`,
  );
  return readTopicMessages(kafka, admin, topic, 30_000);
}

async function totalHigh(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
}

void describe('DLQ topic (real broker)', () => {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'silent');
  const kafka = new Kafka({ clientId: 'mds-test-dlq-topic', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const dlqTopic = randomName('mds-test-dlq-');
  const targetTopic = randomName('mds-test-replay-');
  const limitTarget = randomName('mds-test-replay-limit-');
  const srcTopics = [randomName('mds-test-src-'), randomName('mds-test-src-')];
  const sink = new KafkaTopicDeadLetterSink({ kafka, topic: dlqTopic, logger, numPartitions: 3 });
  const target = new KafkaReplayTarget({ kafka, logger });
  const originals = makeDeadLetters(srcTopics, 50);
  const group = randomName('mds-test-replay-group-');

  const runReplay = (options: ReplayOptions, groupId: string, dryRun = false): Promise<ReplaySummary> =>
    replay(
      { ...options, dryRun },
      {
        source: new TopicDeadLetterSource({
          kafka,
          topic: dlqTopic,
          groupId,
          logger,
          idleTimeoutMs: 3000,
          commit: !dryRun,
        }),
        target,
        logger,
        output: () => undefined,
      },
    );

  before(async () => {
    await waitFor(
      brokerReachable,
      () => `no Kafka broker at ${BROKERS.join(',')} (bash scripts/services.sh up)`,
      60_000,
    );
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: targetTopic, numPartitions: 2 },
        { topic: limitTarget, numPartitions: 1 },
      ],
      waitForLeaders: true,
    });
    await target.start();
  });

  after(async () => {
    await sink.close();
    await target.close();
    await admin.deleteTopics({ topics: [dlqTopic, targetTopic, limitTarget] }).catch(() => undefined);
    await admin.disconnect();
  });

  void it('start() creates the DLQ topic; written dead letters come back exactly', async () => {
    await sink.start();
    const meta = await admin.fetchTopicMetadata({ topics: [dlqTopic] });
    assert.equal(meta.topics[0]!.partitions.length, 3);
    await sink.start(); // the topic exists now: nothing to create, no error

    await sink.write(originals.slice(0, 20));
    await sink.write(originals.slice(20));
    const read = await readTopic(kafka, admin, dlqTopic, 50);
    assert.equal(read.length, 50);

    const back = new Map(
      read.map(({ message }) => [
        coord(deadLetterFromKafkaMessage(message)),
        deadLetterFromKafkaMessage(message),
      ]),
    );
    assert.equal(back.size, 50);
    for (const d of originals) assert.deepEqual(back.get(coord(d)), sentAs(d), coord(d));

    // Connect-style headers and the original timestamp are on the DLQ message itself.
    const first = read.find(({ message }) => message.headers?.[DLQ_HEADERS.offset]?.toString() === '1000')!;
    assert.equal(first.message.timestamp, String(originals[0]!.timestamp));
    assert.equal(first.message.headers![DLQ_HEADERS.topic]!.toString(), srcTopics[0]);
    assert.equal(first.message.headers![DLQ_HEADERS.exceptionClass]!.toString(), 'CODE_0');
    assert.equal(
      first.message.headers![DLQ_HEADERS.failedAt]!.toString(),
      new Date(originals[0]!.failedAt).toISOString(),
    );
    // Same key, same DLQ partition: a key's dead letters keep their order.
    const byKey = new Map<string, Set<number>>();
    for (const { partition, message } of read) {
      if (message.key === null) continue;
      const k = message.key.toString('hex');
      byKey.set(k, (byKey.get(k) ?? new Set()).add(partition));
    }
    for (const [k, parts] of byKey)
      assert.equal(parts.size, 1, `key ${k} spread over partitions ${[...parts].join(',')}`);
  });

  void it('replays exactly the filtered originals with replay headers, then resumes where it stopped', async () => {
    const filter = { reasons: ['database', 'decode'] as DeadLetterReason[] };
    const matching = originals.filter((d) => filter.reasons.includes(d.reason));
    assert.equal(matching.length, 20);

    const first = await runReplay({ filter, toTopic: targetTopic }, group);
    assert.deepEqual(
      {
        read: first.read,
        matched: first.matched,
        replayed: first.replayed,
        skipped: first.skipped,
        invalid: first.invalid,
      },
      { read: 50, matched: 20, replayed: 20, skipped: 30, invalid: 0 },
    );
    assert.deepEqual(first.byReason, { decode: 10, database: 10 });

    const arrived = await readTopic(kafka, admin, targetTopic, 20);
    assert.equal(arrived.length, 20);
    const bySource = new Map(
      arrived.map(({ message }) => [message.headers!['mds.replay.source']!.toString(), message]),
    );
    assert.equal(bySource.size, 20);
    for (const d of matching) {
      const m = bySource.get(coord(d));
      assert.ok(m !== undefined, `${coord(d)} was not replayed`);
      assert.deepEqual(m.key, d.key, coord(d));
      assert.deepEqual(m.value, d.value, coord(d));
      const { 'mds.replay': flag, 'mds.replay.source': _source, ...rest } = m.headers!;
      assert.deepEqual(flag, Buffer.from('1'));
      assert.deepEqual(rest, sentAs(d).headers, coord(d));
    }

    // Same group again: everything was committed, nothing is replayed.
    const again = await runReplay({ filter, toTopic: targetTopic }, group);
    assert.deepEqual([again.read, again.replayed], [0, 0]);
    assert.equal(await totalHigh(admin, targetTopic), 20);

    // New dead letters after that: only they are read.
    const later = makeDeadLetters(srcTopics, 5, 50);
    await sink.write(later);
    const third = await runReplay({ filter, toTopic: targetTopic }, group);
    const laterMatching = later.filter((d) => filter.reasons.includes(d.reason)).length;
    assert.deepEqual([third.read, third.replayed], [5, laterMatching]);
    await waitFor(
      async () => (await totalHigh(admin, targetTopic)) === 20 + laterMatching,
      () => `expected ${20 + laterMatching} records in ${targetTopic}`,
      30_000,
    );
  });

  void it('a dry run commits nothing; a limited run commits exactly up to its last record', async () => {
    const limitGroup = randomName('mds-test-replay-limit-');
    const dry = await runReplay({ toTopic: limitTarget }, limitGroup, true);
    assert.deepEqual([dry.read, dry.matched, dry.replayed], [55, 55, 0]);
    assert.equal(await totalHigh(admin, limitTarget), 0);

    const limited = await runReplay({ toTopic: limitTarget, limit: 7 }, limitGroup);
    assert.deepEqual([limited.replayed, limited.stoppedBy], [7, 'limit']);
    const rest = await runReplay({ toTopic: limitTarget }, limitGroup);
    assert.deepEqual([rest.read, rest.replayed], [48, 48]);
    const arrived = await readTopic(kafka, admin, limitTarget, 55);
    assert.equal(
      new Set(arrived.map(({ message }) => message.headers!['mds.replay.source']!.toString())).size,
      55,
    );
  });
});
