// The dispatcher's offset sequence per partition: nothing is queued before the partition is
// positioned, nothing below the next expected offset is queued (an offset fetched twice is
// queued once), and revoke / assign / seek reset what is expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { builtinMappings } from '../../../src/config/builtin-mappings.js';
import { BoundedQueue } from '../../../src/pipeline/bounded-queue.js';
import { createDecoder } from '../../../src/pipeline/decode.js';
import { Dispatcher } from '../../../src/pipeline/dispatcher.js';
import type { SinkRecord } from '../../../src/core/sink-record.js';
import { sampleMessage, symbols } from '../../../src/sample/sample-data.js';

const TOPIC = 'md.bars';
const bars = builtinMappings().find((m) => m.table === 'bars')!;
const universe = symbols(10);

function setup(): { dispatcher: Dispatcher; queued: () => number[] } {
  const queue = new BoundedQueue<SinkRecord>({
    capacityRecords: 10_000,
    capacityBytes: 100_000_000,
    highWatermark: 0.8,
    lowWatermark: 0.5,
    lanes: 4,
  });
  const decoder = createDecoder(bars, { maxMessageBytes: 1_000_000 });
  const dispatcher = new Dispatcher({
    queue,
    lanes: 4,
    routes: new Map([[TOPIC, { mapping: bars, decoder }]]),
    tombstones: 'ignore',
    overflow: 'block',
    now: () => 0,
  });
  // Every queued offset of partition 0, in queue order (taken out of the queue).
  const queued = (): number[] => queue.removeWhere(() => true).map((r) => r.offset);
  return { dispatcher, queued };
}

function messages(...offsets: number[]): KafkaMessage[] {
  return offsets.map((o) => {
    const m = sampleMessage('bars', o, universe);
    return {
      key: Buffer.from(m.key),
      value: Buffer.from(JSON.stringify(m.value)),
      timestamp: '0',
      attributes: 0,
      offset: String(o),
      headers: {},
    };
  });
}

test('a partition not positioned yet queues nothing and tells the caller not to resolve', () => {
  const { dispatcher, queued } = setup();
  assert.equal(dispatcher.dispatch(TOPIC, 0, messages(10, 11, 12)), false);
  assert.deepEqual(queued(), []);
  assert.equal(dispatcher.stats.unpositioned, 3);
  assert.equal(dispatcher.nextExpected(TOPIC, 0), undefined);
});

test('positioned at the stored offset: anything below it is dropped, the rest queued once', () => {
  const { dispatcher, queued } = setup();
  dispatcher.open(TOPIC, 0, 100);
  assert.equal(dispatcher.dispatch(TOPIC, 0, messages(98, 99, 100, 101)), true);
  // Fetched again (KafkaJS restarted the partition at Kafka's committed offset).
  assert.equal(dispatcher.dispatch(TOPIC, 0, messages(99, 100, 101, 102, 103)), true);
  assert.deepEqual(queued(), [100, 101, 102, 103]);
  assert.equal(dispatcher.stats.belowExpected, 5);
  assert.equal(dispatcher.nextExpected(TOPIC, 0), 104);
});

test('an offset repeated within one fetch is queued once; gaps (compaction) are accepted', () => {
  const { dispatcher, queued } = setup();
  dispatcher.open(TOPIC, 0, 0);
  dispatcher.dispatch(TOPIC, 0, messages(0, 1, 1, 5, 3, 9));
  assert.deepEqual(queued(), [0, 1, 5, 9]);
  assert.equal(dispatcher.nextExpected(TOPIC, 0), 10);
});

test('nothing stored: the first offset Kafka delivers starts the sequence', () => {
  const { dispatcher, queued } = setup();
  dispatcher.open(TOPIC, 0, null);
  assert.equal(dispatcher.nextExpected(TOPIC, 0), undefined, 'unknown until the first fetch');
  dispatcher.dispatch(TOPIC, 0, messages(40, 41));
  dispatcher.dispatch(TOPIC, 0, messages(40, 41, 42));
  assert.deepEqual(queued(), [40, 41, 42]);
  assert.equal(dispatcher.nextExpected(TOPIC, 0), 43);
});

test('revoke closes the partition; a new assignment or a seek back resets the sequence', () => {
  const { dispatcher, queued } = setup();
  dispatcher.open(TOPIC, 0, 0);
  dispatcher.dispatch(TOPIC, 0, messages(0, 1, 2));
  dispatcher.close(TOPIC, 0);
  assert.equal(dispatcher.dispatch(TOPIC, 0, messages(3)), false, 'revoked: nothing queued');
  // Assigned again, positioned behind what was queued before (another member applied less).
  dispatcher.open(TOPIC, 0, 1);
  dispatcher.dispatch(TOPIC, 0, messages(1, 2));
  assert.deepEqual(queued(), [0, 1, 2, 1, 2]);
  // Partitions are independent.
  assert.equal(dispatcher.dispatch(TOPIC, 1, messages(0)), false);
});

test('a floor from sink_offsets raises the sequence of a positioned partition only', () => {
  const { dispatcher, queued } = setup();
  dispatcher.setFloor(TOPIC, 0, 50);
  assert.equal(dispatcher.nextExpected(TOPIC, 0), undefined, 'a floor does not position a partition');
  dispatcher.open(TOPIC, 0, 10);
  dispatcher.setFloor(TOPIC, 0, 50);
  dispatcher.setFloor(TOPIC, 0, 20);
  assert.equal(dispatcher.nextExpected(TOPIC, 0), 50, 'never lowered');
  dispatcher.dispatch(TOPIC, 0, messages(49, 50));
  assert.deepEqual(queued(), [50]);
});
