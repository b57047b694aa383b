// The handle startSink returns: on() delivers exactly the typed event it subscribed to until
// unsubscribed, and snapshot() reports the components' state at the time it is called.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createSinkHandle, type HandleParts } from '../../../src/app/handle.js';
import type { SinkEventMap } from '../../../src/app/types.js';
import { AssignmentTracker } from '../../../src/kafka/assignment.js';
import type { QueueStats } from '../../../src/pipeline/bounded-queue.js';
import type { OverflowGateStats } from '../../../src/pipeline/overflow-gate.js';
import { SinkMetrics } from '../../../src/metrics/sink-metrics.js';

function parts() {
  const events = new EventEmitter<SinkEventMap>();
  const empty = { records: 0, bytes: 0, queued: 0 };
  const state = {
    queue: { ...empty, capacityRecords: 100, capacityBytes: 1000, high: false } as QueueStats,
    gate: { records: 0, bytes: 0, peakRecords: 0, peakBytes: 0, full: false } as OverflowGateStats,
    joined: false,
    paused: false,
    kafkaPaused: [] as { topic: string; partitions: number[] }[],
  };
  const assignment = new AssignmentTracker();
  const p: HandleParts = {
    stop: () => Promise.resolve(),
    kill: () => Promise.resolve(),
    done: Promise.resolve(),
    metrics: new SinkMetrics(),
    metricsPort: 0,
    events,
    consumer: {
      get isJoined() {
        return state.joined;
      },
      get isPaused() {
        return state.paused;
      },
      assignment,
      pausedByKafka: () => state.kafkaPaused,
    },
    queue: { stats: () => state.queue },
    gate: { stats: () => state.gate },
  };
  return { events, state, assignment, handle: createSinkHandle(p) };
}

test('on() delivers the event with its arguments until the returned function unsubscribes', () => {
  const { events, handle } = parts();
  const joins: number[] = [];
  const off = handle.on('joined', (assigned) => joins.push(assigned));
  events.emit('joined', 3);
  events.emit('pause', { records: 1, bytes: 1, queued: 1, capacityRecords: 1, capacityBytes: 1, high: true });
  events.emit('joined', 2);
  off();
  events.emit('joined', 5);
  assert.deepEqual(joins, [3, 2]);
  assert.equal(events.listenerCount('joined'), 0);
});

test('snapshot() reads the state at call time: queue, gate, membership, pauses', () => {
  const { state, assignment, handle } = parts();
  const before = handle.snapshot();
  assert.deepEqual(before.consumer, { joined: false, paused: false, assigned: 0, kafkaPaused: [] });
  state.queue = { ...state.queue, records: 42, queued: 40, high: true };
  state.gate = { ...state.gate, records: 7, full: true };
  state.joined = true;
  state.paused = true;
  state.kafkaPaused = [{ topic: 'md.bars', partitions: [0, 1] }];
  assignment.update({ 'md.bars': [0, 1], 'md.news': [4] });
  const after = handle.snapshot();
  assert.equal(after.queue.records, 42);
  assert.equal(after.queue.high, true);
  assert.equal(after.overflowGate.records, 7);
  assert.deepEqual(after.consumer, {
    joined: true,
    paused: true,
    assigned: 3,
    kafkaPaused: [{ topic: 'md.bars', partitions: [0, 1] }],
  });
  assert.equal(before.queue.records, 0, 'an earlier snapshot is not changed by later state');
});
