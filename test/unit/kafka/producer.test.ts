// The shared producer setup: one idempotent producer replaced after a failed send, placement
// by key, and the check of a send's results (KafkaJS can resolve a send without a result for
// a partition whose leader died, and those records are not in the log).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Partitioners, type Kafka, type RecordMetadata } from 'kafkajs';
import { ProducerSlot, createPlacer, partitionsWithoutResult } from '../../../src/kafka/producer.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

const result = (partition: number, over: Partial<RecordMetadata> = {}): RecordMetadata => ({
  topicName: 'md.dlq',
  partition,
  errorCode: 0,
  baseOffset: '10',
  ...over,
});

void describe('partitionsWithoutResult', () => {
  void it('names each targeted partition without a good result, once', () => {
    assert.deepEqual(partitionsWithoutResult('md.dlq', [0, 1, 1, 0], [result(0), result(1)]), []);
    // The failover case: a result for partition 1 only.
    assert.deepEqual(partitionsWithoutResult('md.dlq', [0, 1, 0, 2], [result(1)]), [0, 2]);
    assert.deepEqual(
      partitionsWithoutResult(
        'md.dlq',
        [0, 1, 2],
        [result(0, { errorCode: 6 }), result(1, { baseOffset: '-1' }), result(2, { topicName: 'other' })],
      ),
      [0, 1, 2],
    );
  });
});

/** A KafkaJS stand-in that records which producers were made, connected and disconnected. */
function fakeKafka(failConnects = 0, connectDelay: () => Promise<void> = () => Promise.resolve()) {
  const made: { id: number; connected: boolean; disconnected: boolean; config: unknown }[] = [];
  let failures = failConnects;
  const kafka = {
    producer(config: unknown) {
      const p = { id: made.length, connected: false, disconnected: false, config };
      made.push(p);
      return {
        connect: async () => {
          await connectDelay();
          if (failures > 0) {
            failures--;
            throw new Error('broker down');
          }
          p.connected = true;
        },
        disconnect: () => {
          p.disconnected = true;
          return Promise.resolve();
        },
        id: p.id,
      };
    },
  };
  return { kafka: kafka as unknown as Kafka, made };
}

void describe('ProducerSlot', () => {
  void it('one idempotent producer, bounded retries, kept until marked suspect, then replaced', async () => {
    const { kafka, made } = fakeKafka();
    const slot = new ProducerSlot(kafka, { retries: 5 });
    const first = await slot.current();
    assert.equal(await slot.current(), first);
    assert.equal(made.length, 1);
    assert.deepEqual(made[0]!.config, {
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: 5 },
    });
    slot.markSuspect();
    const second = await slot.current();
    assert.notEqual(second, first);
    assert.deepEqual(
      made.map((p) => [p.connected, p.disconnected]),
      [
        [true, true],
        [true, false],
      ],
    );
  });

  void it('a failed reconnect is tried again on the next call', async () => {
    const { kafka, made } = fakeKafka(1);
    const slot = new ProducerSlot(kafka, { retries: 1 });
    await assert.rejects(slot.current(), /broker down/);
    await slot.current();
    assert.deepEqual(
      made.map((p) => p.connected),
      [false, true],
    );
  });

  void it('concurrent callers share one connect: at first and after markSuspect, nothing leaks', async () => {
    const { kafka, made } = fakeKafka();
    const slot = new ProducerSlot(kafka, { retries: 1 });
    const [a, b, c] = await Promise.all([slot.current(), slot.current(), slot.current()]);
    assert.ok(a === b && b === c);
    slot.markSuspect();
    const [d, e, f] = await Promise.all([slot.current(), slot.current(), slot.current()]);
    assert.ok(d === e && e === f && d !== a);
    assert.deepEqual(
      made.map((p) => [p.connected, p.disconnected]),
      [
        [true, true],
        [true, false],
      ],
    );
  });

  void it('a connect that does not settle fails as PRODUCER_CONNECT_TIMEOUT; its late producer is disconnected', async () => {
    const clock = new FakeClock();
    let release: () => void = () => undefined;
    const hang = new Promise<void>((resolve) => (release = resolve));
    let delay = (): Promise<void> => hang;
    const { kafka, made } = fakeKafka(0, () => delay());
    const slot = new ProducerSlot(kafka, { retries: 1 }, { clock, connectTimeoutMs: 1000 });
    let outcome: unknown;
    const first = slot.current().then(
      () => (outcome = 'connected'),
      (e: unknown) => (outcome = e),
    );
    await clock.advance(999);
    await flushMicrotasks();
    assert.equal(outcome, undefined);
    await clock.advance(1);
    await first;
    const err = outcome as unknown as { code?: unknown; retriable?: unknown };
    assert.deepEqual([err.code, err.retriable], ['PRODUCER_CONNECT_TIMEOUT', true]);
    // The abandoned connect completes later: that producer is not kept, it is disconnected.
    delay = () => Promise.resolve();
    release();
    await flushMicrotasks();
    assert.deepEqual(
      made.map((p) => [p.connected, p.disconnected]),
      [[true, true]],
    );
    const next = await slot.current();
    assert.equal((next as unknown as { id: number }).id, 1);
  });

  void it('close() during a connect: the producer it yields is disconnected, the caller refused', async () => {
    let release: () => void = () => undefined;
    const hang = new Promise<void>((resolve) => (release = resolve));
    const { kafka, made } = fakeKafka(0, () => hang);
    const slot = new ProducerSlot(kafka, { retries: 1 });
    const pending = slot.current();
    await slot.close();
    release();
    await assert.rejects(pending, { code: 'PRODUCER_CLOSED' });
    assert.deepEqual(
      made.map((p) => [p.connected, p.disconnected]),
      [[true, true]],
    );
  });

  void it('close is idempotent and later calls are refused', async () => {
    const { kafka, made } = fakeKafka();
    const slot = new ProducerSlot(kafka, { retries: 1 });
    await slot.current();
    await Promise.all([slot.close(), slot.close()]);
    assert.equal(made[0]!.disconnected, true);
    await assert.rejects(slot.current(), { code: 'PRODUCER_CLOSED' });
  });
});

void describe('createPlacer', () => {
  void it('places by key as the default partitioner does: same key, same partition', () => {
    const place = createPlacer();
    const partitions = [0, 1, 2, 3, 4, 5].map((partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    const reference = Partitioners.DefaultPartitioner();
    for (const key of ['AAPL', 'MSFT', 'k1', 'k2', 'k3']) {
      const message = { key: Buffer.from(key), value: null };
      const p = place('md.dlq', partitions, message);
      assert.equal(p, reference({ topic: 'md.dlq', partitionMetadata: partitions, message }));
      assert.equal(place('md.dlq', partitions, message), p);
    }
  });
});
