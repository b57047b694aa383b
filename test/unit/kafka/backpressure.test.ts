// Which transitions pause or resume fetching: the queue's watermarks only under
// overflow=block, the overflow gate always; a stopping member never resumes, and nothing
// happens before the consumer exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backpressure } from '../../../src/kafka/backpressure.js';
import type { QueueStats } from '../../../src/pipeline/bounded-queue.js';
import { createLogger } from '../../../src/core/logger.js';

const stats = { records: 10, bytes: 100 } as QueueStats;

function setup(o: { block: boolean; stopping?: boolean; consumer?: boolean }) {
  const calls: string[] = [];
  const consumer = {
    pauseAll: () => void calls.push('pauseAll'),
    resumeAll: () => void calls.push('resumeAll'),
  };
  const b = new Backpressure({
    consumer: () => (o.consumer === false ? null : consumer),
    pauseOnHighWatermark: o.block,
    isStopping: () => o.stopping === true,
    onTransition: (event, s) => void calls.push(`${event} ${s.records}`),
    log: createLogger('silent'),
  });
  return { b, calls };
}

test('overflow=block: the watermarks pause and resume fetching, each announced', () => {
  const { b, calls } = setup({ block: true });
  b.queueHigh(stats);
  b.queueLow(stats);
  assert.deepEqual(calls, ['pauseAll', 'pause 10', 'resumeAll', 'resume 10']);
});

test('other overflow strategies: the watermarks do nothing', () => {
  const { b, calls } = setup({ block: false });
  b.queueHigh(stats);
  b.queueLow(stats);
  assert.deepEqual(calls, []);
});

test('the overflow gate pauses and resumes whatever the strategy', () => {
  const { b, calls } = setup({ block: false });
  b.gateFull(stats, { records: 5 });
  b.gateRoom(stats, { records: 2 });
  assert.deepEqual(calls, ['pauseAll', 'pause 10', 'resumeAll', 'resume 10']);
});

test('a stopping member never resumes; the queue may still pause it, the gate not', () => {
  const { b, calls } = setup({ block: true, stopping: true });
  b.queueLow(stats);
  b.gateRoom(stats, {});
  b.gateFull(stats, {});
  assert.deepEqual(calls, []);
  b.queueHigh(stats);
  assert.deepEqual(calls, ['pauseAll', 'pause 10']);
});

test('before the consumer exists nothing happens', () => {
  const { b, calls } = setup({ block: true, consumer: false });
  b.queueHigh(stats);
  b.queueLow(stats);
  b.gateFull(stats, {});
  b.gateRoom(stats, {});
  assert.deepEqual(calls, []);
});
