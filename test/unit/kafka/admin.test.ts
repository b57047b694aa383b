// The shared admin helper against a stand-in admin client and a fake clock: always
// disconnected, a connect that hangs is cut at its bound, a creation race is not an error,
// missing topics are named, and watermarks are fetched again through a failover.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopic, topicPartitions, topicWatermarks, withAdmin } from '../../../src/kafka/admin.js';
import { kafkaConnectGiveUpMs } from '../../../src/kafka/client-timing.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

interface FakeAdmin {
  connects: number;
  disconnects: number;
  created: unknown[];
}

/** Each admin() answers from `behave`; `connect` may hang (never settle) or fail. */
function fakeKafka(
  behave: {
    connect?: () => Promise<void>;
    topics?: string[];
    createTopics?: () => Promise<boolean>;
    fetchTopicOffsets?: () => Promise<{ partition: number; low: string; high: string }[]>;
  } = {},
): { kafka: Kafka; state: FakeAdmin } {
  const state: FakeAdmin = { connects: 0, disconnects: 0, created: [] };
  const admin = {
    connect: () => {
      state.connects++;
      return behave.connect?.() ?? Promise.resolve();
    },
    disconnect: () => {
      state.disconnects++;
      return Promise.resolve();
    },
    listTopics: () => Promise.resolve(behave.topics ?? []),
    createTopics: (req: { topics: unknown[] }) => {
      state.created.push(...req.topics);
      return behave.createTopics?.() ?? Promise.resolve(true);
    },
    fetchTopicMetadata: ({ topics }: { topics: string[] }) =>
      Promise.resolve({
        topics: topics.map((name) => ({
          name,
          partitions: [{ partitionId: 0, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }],
        })),
      }),
    fetchTopicOffsets: () => behave.fetchTopicOffsets?.() ?? Promise.resolve([]),
  };
  return { kafka: { admin: () => admin as unknown as Admin } as unknown as Kafka, state };
}

void describe('withAdmin', () => {
  void it('returns the work result and disconnects, also when the work fails', async () => {
    const { kafka, state } = fakeKafka();
    assert.equal(await withAdmin(kafka, () => Promise.resolve(42)), 42);
    await assert.rejects(
      withAdmin(kafka, () => Promise.reject(new Error('nope'))),
      /nope/,
    );
    assert.deepEqual([state.connects, state.disconnects], [2, 2]);
  });

  void it('a connect that does not settle fails as ADMIN_CONNECT_TIMEOUT at its bound', async () => {
    const clock = new FakeClock();
    const { kafka, state } = fakeKafka({ connect: () => new Promise<void>(() => undefined) });
    let settled: unknown;
    const run = withAdmin(kafka, () => Promise.resolve('never'), { clock, connectTimeoutMs: 1000 }).then(
      (v) => (settled = v),
      (e: unknown) => (settled = e),
    );
    await clock.advance(999);
    await flushMicrotasks();
    assert.equal(settled, undefined);
    await clock.advance(1);
    await flushMicrotasks();
    await clock.advance(5000);
    await run;
    const err = settled as unknown as { code?: unknown; retriable?: unknown };
    assert.deepEqual([err.code, err.retriable], ['ADMIN_CONNECT_TIMEOUT', true]);
    assert.equal(state.disconnects, 1);
  });

  void it('by default, a connect KafkaJS is still retrying (a SASL broker that times out) is not cut', async () => {
    const clock = new FakeClock();
    const lastMoment = kafkaConnectGiveUpMs(true) - 1;
    const { kafka } = fakeKafka({ connect: () => clock.sleep(lastMoment) });
    const run = withAdmin(kafka, () => Promise.resolve('connected'), { clock });
    await clock.advance(lastMoment);
    assert.equal(await run, 'connected');
  });
});

void describe('ensureTopic', () => {
  void it('creates a missing topic with its settings; an existing one is left alone', async () => {
    const { kafka, state } = fakeKafka({ topics: ['md.bars'] });
    const config = { topic: 'md.dlq', numPartitions: 3, configEntries: [{ name: 'a', value: 'b' }] };
    assert.equal(await withAdmin(kafka, (a) => ensureTopic(a, config)), true);
    assert.equal(await withAdmin(kafka, (a) => ensureTopic(a, { topic: 'md.bars' })), false);
    assert.deepEqual(state.created, [config]);
  });

  void it('losing a creation race is not an error; another failure is', async () => {
    const race = fakeKafka({
      createTopics: () =>
        Promise.reject(Object.assign(new Error('x'), { errors: [{ type: 'TOPIC_ALREADY_EXISTS' }] })),
    });
    assert.equal(await withAdmin(race.kafka, (a) => ensureTopic(a, { topic: 't' })), false);
    const other = fakeKafka({ createTopics: () => Promise.reject(new Error('not authorized')) });
    await assert.rejects(
      withAdmin(other.kafka, (a) => ensureTopic(a, { topic: 't' })),
      /not authorized/,
    );
  });
});

void describe('topicPartitions', () => {
  void it('partitions of the topics that exist, and the names of those that do not', async () => {
    const { kafka } = fakeKafka({ topics: ['a', 'b'] });
    const { partitions, missing } = await withAdmin(kafka, (admin) =>
      topicPartitions(admin, ['a', 'x', 'b']),
    );
    assert.deepEqual([...partitions.keys()], ['a', 'b']);
    assert.deepEqual(missing, ['x']);
  });
});

void describe('topicWatermarks', () => {
  void it('tries again with a fresh admin until a fetch succeeds', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const { kafka, state } = fakeKafka({
      fetchTopicOffsets: () =>
        ++calls < 3
          ? Promise.reject(new Error('BrokerNotFound'))
          : Promise.resolve([{ partition: 0, low: '2', high: '7' }]),
    });
    const marks = topicWatermarks(kafka, 't', 30_000, clock);
    for (let i = 0; i < 4; i++) {
      await flushMicrotasks();
      await clock.advance(500);
    }
    assert.deepEqual([...(await marks)], [[0, { low: 2, high: 7 }]]);
    assert.deepEqual([state.connects, state.disconnects], [3, 3]);
  });

  void it('gives up at its deadline with WATERMARKS_FAILED naming the topic', async () => {
    const clock = new FakeClock();
    const { kafka } = fakeKafka({ fetchTopicOffsets: () => Promise.reject(new Error('BrokerNotFound')) });
    const marks = topicWatermarks(kafka, 'md.dlq', 2000, clock);
    const failed = assert.rejects(marks, (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'WATERMARKS_FAILED');
      assert.match(e.message, /^md\.dlq: watermarks not fetched within 2000 ms: BrokerNotFound/);
      return true;
    });
    for (let i = 0; i < 10; i++) {
      await flushMicrotasks();
      await clock.advance(500);
    }
    await failed;
  });
});
