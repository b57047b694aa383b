// The replay's Kafka target on an injected clock, against a stand-in Kafka: the wait before a
// send is tried again and the read-back's stall timeout run on the clock the caller gives.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { KafkaReplayTarget } from '../../../src/replay/kafka-target.js';
import { REPLAY_SOURCE_HEADER, type ReplayMessage } from '../../../src/replay/message.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

const logger = pino({ level: 'silent' });

/** One topic md.bars with partition 0 (offsets 0..10); sends answer from `sendBatch`; reads never deliver. */
function fakeKafka(sendBatch: () => Promise<unknown>): Kafka {
  const admin = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    listTopics: () => Promise.resolve(['md.bars']),
    fetchTopicMetadata: () =>
      Promise.resolve({
        topics: [
          {
            name: 'md.bars',
            partitions: [{ partitionId: 0, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }],
          },
        ],
      }),
    fetchTopicOffsets: () => Promise.resolve([{ partition: 0, offset: '10', low: '0', high: '10' }]),
    deleteGroups: () => Promise.resolve([]),
  };
  const consumer = {
    events: { CRASH: 'crash', GROUP_JOIN: 'join' },
    on: () => undefined,
    connect: () => Promise.resolve(),
    subscribe: () => Promise.resolve(),
    run: () => Promise.resolve(),
    seek: () => undefined,
    pause: () => undefined,
    disconnect: () => Promise.resolve(),
  };
  const producer = { connect: () => Promise.resolve(), disconnect: () => Promise.resolve(), sendBatch };
  return { admin: () => admin, consumer: () => consumer, producer: () => producer } as unknown as Kafka;
}

const message: ReplayMessage = {
  topic: 'md.bars',
  key: Buffer.from('k'),
  value: Buffer.from('{}'),
  headers: { [REPLAY_SOURCE_HEADER]: 'md.bars/0/1' },
};

void describe('KafkaReplayTarget on an injected clock', () => {
  void it('a failed send is tried again after SEND_RETRY_MS on the given clock', async () => {
    const clock = new FakeClock();
    let sends = 0;
    const target = new KafkaReplayTarget({
      kafka: fakeKafka(() => {
        sends++;
        return sends === 1
          ? Promise.reject(new Error('leader gone'))
          : Promise.resolve([{ topicName: 'md.bars', partition: 0, errorCode: 0, baseOffset: '4' }]);
      }),
      logger,
      clock,
    });
    await target.start();
    const sent = target.send([message]);
    await flushMicrotasks();
    assert.equal(sends, 1);
    await clock.advance(999);
    await flushMicrotasks();
    assert.equal(sends, 1);
    await clock.advance(1);
    await flushMicrotasks();
    // Tried again at once on the fake clock: no real second went by.
    assert.equal(sends, 2);
    assert.deepEqual(
      (await sent).map((r) => [r.partition, r.offset]),
      [[0, 4]],
    );
    assert.equal(sends, 2);
    await target.close();
  });

  void it("the read-back's stall timeout runs on the given clock", async () => {
    const clock = new FakeClock();
    const target = new KafkaReplayTarget({
      kafka: fakeKafka(() => Promise.resolve([])),
      logger,
      clock,
      confirmStallMs: 1000,
    });
    let outcome: unknown;
    const confirming = target.confirm([{ message, partition: 0, offset: 4 }]).then(
      () => (outcome = 'confirmed'),
      (e: unknown) => (outcome = e),
    );
    // Three tries of the read (readRanges' attempts), each stalled for 1 s of fake time.
    for (let i = 0; i < 60 && outcome === undefined; i++) {
      await clock.advance(100);
      await flushMicrotasks();
    }
    assert.equal((outcome as { code?: unknown } | undefined)?.code, 'RANGE_READ_STALLED');
    await confirming;
  });
});
