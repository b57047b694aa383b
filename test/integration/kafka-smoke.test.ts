// Smoke test of the local broker (scripts/services.sh) with the client the sink uses: KafkaJS 2.2.4
// against Kafka 4.x, which dropped old protocol versions. Covers exactly what the sink relies on:
// admin create/delete topics, keyed produce, a consumer group with eachBatch and manual commits,
// pause/resume, and admin.fetchOffsets reading the committed offsets back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { kafkaBrokers, randomName, waitFor } from '../helpers/services.js';

const PARTITIONS = 3;
const PER_PHASE = 150; // 2 phases = 300 messages
const KEYS = 20;

test('KafkaJS against the local broker: topics, keyed produce, group with manual commits, pause/resume', async (t) => {
  const brokers = kafkaBrokers();
  const kafka = new Kafka({ clientId: randomName('smoke-'), brokers, logLevel: logLevel.NOTHING });
  const topic = randomName('smoke.');
  const groupId = randomName('smoke-group-');
  const admin: Admin = kafka.admin();
  // Idempotent: a produce request retried after a timeout (a loaded machine, a broker just
  // started) would otherwise append its records twice, and the counts below are exact.
  const producer: Producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });

  await waitFor(() => admin.connect().then(() => true), {
    timeoutMs: 20_000,
    message: `no Kafka broker at ${brokers.join(',')} (bash scripts/services.sh up)`,
  });
  t.after(async () => {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  });

  assert.equal(
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }),
    true,
    `createTopics(${topic}) should report a new topic`,
  );
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.deepEqual(metadata.topics[0]?.partitions.map((p) => p.partitionId).sort(), [0, 1, 2]);

  await producer.connect();
  const highWatermarks = async (): Promise<number[]> => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return [...offsets].sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
  };
  const produce = async (from: number) => {
    const messages = Array.from({ length: PER_PHASE }, (_, j) => {
      const i = from + j;
      return { key: `sym-${i % KEYS}`, value: JSON.stringify({ i }) };
    });
    await producer.send({ topic, acks: -1, messages });
  };

  // Consumed offsets per partition: the exact set, so duplicates and gaps both show.
  const seen: Set<number>[] = Array.from({ length: PARTITIONS }, () => new Set<number>());
  const keysByPartition: Set<string>[] = Array.from({ length: PARTITIONS }, () => new Set<string>());
  const committed = new Map<number, number>(); // what this test committed: partition -> next offset
  let duplicates = 0;

  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async (payload) => {
      const { batch } = payload;
      const part = batch.partition;
      let last: number | undefined;
      for (const m of batch.messages) {
        const offset = Number(m.offset);
        if (seen[part]!.has(offset)) duplicates++;
        seen[part]!.add(offset);
        keysByPartition[part]!.add(m.key?.toString() ?? '');
        last = offset;
      }
      if (last === undefined) return;
      await consumer.commitOffsets([{ topic, partition: part, offset: String(last + 1) }]);
      committed.set(part, last + 1);
      await payload.heartbeat();
    },
  });

  const consumedUpTo = (hw: readonly number[], parts: readonly number[]) =>
    parts.every((p) => seen[p]!.size === hw[p]);
  const allPartitions = [0, 1, 2];
  const describe = (hw: readonly number[]) =>
    `consumed per partition ${JSON.stringify(seen.map((s) => s.size))}, high watermarks ${JSON.stringify(hw)}`;

  // Phase 1: 150 keyed messages, all consumed and committed.
  await produce(0);
  const hw1 = await highWatermarks();
  assert.equal(
    hw1.reduce((a, b) => a + b, 0),
    PER_PHASE,
  );
  await waitFor(
    () => consumedUpTo(hw1, allPartitions) && allPartitions.every((p) => (committed.get(p) ?? 0) === hw1[p]),
    {
      timeoutMs: 30_000,
      message: () => describe(hw1),
    },
  );

  // Pause the partition that gets phase-2 data; the others must still be consumed while it is paused.
  // Keys are fixed strings, so which partition that is never changes between runs.
  const paused = hw1.findIndex((n) => n > 0);
  consumer.pause([{ topic, partitions: [paused] }]);
  assert.deepEqual(consumer.paused(), [{ topic, partitions: [paused] }]);
  await produce(PER_PHASE);
  const hw2 = await highWatermarks();
  assert.equal(
    hw2.reduce((a, b) => a + b, 0),
    2 * PER_PHASE,
  );
  assert.ok(hw2[paused]! > hw1[paused]!, `phase 2 should put messages on paused partition ${paused}`);
  const others = allPartitions.filter((p) => p !== paused);
  await waitFor(() => consumedUpTo(hw2, others) && others.every((p) => (committed.get(p) ?? 0) === hw2[p]), {
    timeoutMs: 30_000,
    message: () => `other partitions while ${paused} is paused: ${describe(hw2)}`,
  });
  assert.equal(
    seen[paused]!.size,
    hw1[paused],
    `paused partition ${paused} must not be consumed past phase 1`,
  );

  // The group's committed offsets are exactly what this test committed: the paused one lags.
  const whilePaused = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.deepEqual(
    whilePaused[0]?.partitions
      .map((p) => ({ partition: p.partition, offset: Number(p.offset) }))
      .sort((a, b) => a.partition - b.partition),
    allPartitions.map((p) => ({ partition: p, offset: p === paused ? hw1[p]! : hw2[p]! })),
  );

  consumer.resume([{ topic, partitions: [paused] }]);
  assert.deepEqual(consumer.paused(), []);
  await waitFor(
    () => consumedUpTo(hw2, allPartitions) && allPartitions.every((p) => (committed.get(p) ?? 0) === hw2[p]),
    {
      timeoutMs: 30_000,
      message: () => `after resume: ${describe(hw2)}`,
    },
  );

  // Exactly 300 distinct messages, offsets 0..hw-1 on each partition, no redelivery.
  assert.equal(duplicates, 0);
  assert.equal(
    seen.reduce((n, s) => n + s.size, 0),
    2 * PER_PHASE,
  );
  for (const p of allPartitions) {
    assert.deepEqual(
      [...seen[p]!].sort((a, b) => a - b),
      Array.from({ length: hw2[p]! }, (_, i) => i),
    );
  }
  // Keyed partitioning: every key lives on exactly one partition.
  const allKeys = keysByPartition.flatMap((s) => [...s]);
  assert.equal(allKeys.length, KEYS);
  assert.equal(new Set(allKeys).size, KEYS);

  const final = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.deepEqual(
    final[0]?.partitions
      .map((p) => ({ partition: p.partition, offset: Number(p.offset) }))
      .sort((a, b) => a.partition - b.partition),
    allPartitions.map((p) => ({ partition: p, offset: committed.get(p)! })),
  );
  assert.deepEqual(
    allPartitions.map((p) => committed.get(p)),
    hw2,
  );
});
