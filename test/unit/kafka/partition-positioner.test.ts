// Positioning newly assigned partitions before their first fetch: each is sought to the
// offset stored in PostgreSQL (or left to Kafka when none is stored) and only then
// released; a failed read keeps them waiting and is retried with backoff until close();
// a read that outlives the assignment it was made for positions nothing. Fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionPositioner, type PositionerTarget } from '../../../src/kafka/partition-positioner.js';
import type { TopicPartition } from '../../../src/kafka/assignment.js';
import { tpKey } from '../../../src/core/sink-record.js';
import { createLogger } from '../../../src/core/logger.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

const T = 'md.bars';
const tp = (partition: number): TopicPartition => ({ topic: T, partition });

interface Deferred {
  partitions: readonly TopicPartition[];
  resolve(m: ReadonlyMap<string, number>): void;
  reject(e: Error): void;
}

function setup(): {
  positioner: PartitionPositioner;
  clock: FakeClock;
  reads: Deferred[];
  events: string[];
  owned: Set<number>;
} {
  const clock = new FakeClock();
  const reads: Deferred[] = [];
  const events: string[] = [];
  const owned = new Set<number>();
  const target: PositionerTarget = {
    owns: (_t, p) => owned.has(p),
    seek: (_t, p, o) => events.push(`seek ${p}@${o}`),
    positioned: (_t, p, n) => events.push(`positioned ${p}@${n ?? 'kafka'}`),
    release: (ps) => events.push(`release ${ps.map((x) => x.partition).join(',')}`),
  };
  const positioner = new PartitionPositioner({
    read: (partitions) => new Promise((resolve, reject) => reads.push({ partitions, resolve, reject })),
    target,
    clock,
    log: createLogger('silent'),
    initialBackoffMs: 100,
    maxBackoffMs: 400,
    readTimeoutMs: 1000,
  });
  return { positioner, clock, reads, events, owned };
}

test('seeks to the stored offset (ahead of or behind Kafka alike), then releases', async () => {
  const { positioner, reads, events, owned } = setup();
  owned.add(0).add(1).add(2);
  positioner.add([tp(0), tp(1), tp(2)]);
  assert.deepEqual(positioner.waiting(), [tp(0), tp(1), tp(2)]);
  assert.equal(reads.length, 1);
  assert.deepEqual(events, [], 'nothing released before the read answers');
  reads[0]!.resolve(
    new Map([
      [tpKey(T, 0), 1200],
      [tpKey(T, 2), 0],
    ]),
  );
  await flushMicrotasks();
  assert.deepEqual(events, [
    'positioned 0@1200',
    'seek 0@1200',
    'positioned 1@kafka',
    'positioned 2@0',
    'seek 2@0',
    'release 0,1,2',
  ]);
  assert.deepEqual(positioner.waiting(), []);
});

test('a failed read keeps the partitions waiting and is retried with growing backoff', async () => {
  const { positioner, clock, reads, events, owned } = setup();
  owned.add(0);
  positioner.add([tp(0)]);
  reads[0]!.reject(new Error('connection refused'));
  await flushMicrotasks();
  assert.equal(positioner.isPending(T, 0), true);
  await clock.advance(99);
  assert.equal(reads.length, 1, 'no retry before the backoff');
  await clock.advance(1);
  assert.equal(reads.length, 2);
  reads[1]!.reject(new Error('connection refused'));
  await flushMicrotasks();
  await clock.advance(199);
  assert.equal(reads.length, 2, 'backoff doubled');
  await clock.advance(1);
  assert.equal(reads.length, 3);
  assert.deepEqual(events, [], 'never released without a position');
  reads[2]!.resolve(new Map([[tpKey(T, 0), 7]]));
  await flushMicrotasks();
  assert.deepEqual(events, ['positioned 0@7', 'seek 0@7', 'release 0']);
});

test('close() ends the wait: no more reads, nothing released', async () => {
  const { positioner, clock, reads, events, owned } = setup();
  owned.add(0);
  positioner.add([tp(0)]);
  reads[0]!.reject(new Error('down'));
  await flushMicrotasks();
  positioner.close();
  positioner.close();
  await clock.advance(10_000);
  assert.equal(reads.length, 1);
  assert.equal(clock.pendingSleepers(), 0, 'the backoff sleep was aborted');
  positioner.add([tp(1)]);
  assert.equal(reads.length, 1, 'closed: nothing more is read');
  assert.deepEqual(events, []);
});

test('a read that outlives a revoke positions nothing; a re-assignment is read afresh', async () => {
  const { positioner, reads, events, owned } = setup();
  owned.add(0).add(1);
  positioner.add([tp(0), tp(1)]);
  // Partition 0 revoked and assigned again while the first read is in flight.
  positioner.revoke([tp(0)]);
  positioner.add([tp(0)]);
  // Partition 1 revoked for good.
  positioner.revoke([tp(1)]);
  owned.delete(1);
  reads[0]!.resolve(
    new Map([
      [tpKey(T, 0), 5],
      [tpKey(T, 1), 5],
    ]),
  );
  await flushMicrotasks();
  assert.deepEqual(events, [], 'the stale answer positions neither');
  assert.equal(reads.length, 2);
  assert.deepEqual(reads[1]!.partitions, [tp(0)]);
  reads[1]!.resolve(new Map([[tpKey(T, 0), 9]]));
  await flushMicrotasks();
  assert.deepEqual(events, ['positioned 0@9', 'seek 0@9', 'release 0']);
});

test('partitions added while a read is in flight are read next, in one more round', async () => {
  const { positioner, reads, events, owned } = setup();
  owned.add(0).add(1);
  positioner.add([tp(0)]);
  positioner.add([tp(1)]);
  assert.equal(reads.length, 1, 'one read at a time');
  reads[0]!.resolve(new Map([[tpKey(T, 0), 3]]));
  await flushMicrotasks();
  assert.equal(reads.length, 2);
  reads[1]!.resolve(new Map([[tpKey(T, 1), 4]]));
  await flushMicrotasks();
  assert.deepEqual(events, [
    'positioned 0@3',
    'seek 0@3',
    'release 0',
    'positioned 1@4',
    'seek 1@4',
    'release 1',
  ]);
});

test('a read that hangs is abandoned after the timeout and retried; its late answer is ignored', async () => {
  const { positioner, clock, reads, events, owned } = setup();
  owned.add(0);
  positioner.add([tp(0)]);
  await clock.advance(999);
  assert.equal(reads.length, 1);
  await clock.advance(1);
  assert.equal(reads.length, 1, 'timed out; the retry waits for the backoff');
  await clock.advance(100);
  assert.equal(reads.length, 2);
  reads[0]!.resolve(new Map([[tpKey(T, 0), 1]]));
  await flushMicrotasks();
  assert.deepEqual(events, [], 'the abandoned read positions nothing');
  reads[1]!.resolve(new Map([[tpKey(T, 0), 2]]));
  await flushMicrotasks();
  assert.deepEqual(events, ['positioned 0@2', 'seek 0@2', 'release 0']);
});

test('close() during a hung read ends the wait at once', async () => {
  const { positioner, clock, reads, events, owned } = setup();
  owned.add(0);
  positioner.add([tp(0)]);
  positioner.close();
  await flushMicrotasks();
  assert.equal(clock.pendingSleepers(), 0, 'neither the read timeout nor a backoff is pending');
  reads[0]!.resolve(new Map([[tpKey(T, 0), 1]]));
  await clock.advance(10_000);
  assert.equal(reads.length, 1);
  assert.deepEqual(events, []);
});
