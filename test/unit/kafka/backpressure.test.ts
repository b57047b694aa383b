// Which transitions pause or resume fetching: the queue's watermarks only under
// overflow=block, the overflow gate always; a stopping member never resumes, and nothing
// happens before the consumer exists. Transitions are logged at debug; one summary line per
// interval says what happened, at warn when the overflow gate paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backpressure } from '../../../src/kafka/backpressure.js';
import type { QueueStats } from '../../../src/pipeline/bounded-queue.js';
import { createLogger } from '../../../src/core/logger.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const stats = { records: 10, bytes: 100 } as QueueStats;

function setup(o: { block: boolean; stopping?: boolean; consumer?: boolean }) {
  const calls: string[] = [];
  const lines: { level: number; msg: string }[] = [];
  const clock = new FakeClock();
  const consumer = {
    pauseAll: () => void calls.push('pauseAll'),
    resumeAll: () => void calls.push('resumeAll'),
  };
  const b = new Backpressure({
    consumer: () => (o.consumer === false ? null : consumer),
    pauseOnHighWatermark: o.block,
    isStopping: () => o.stopping === true,
    onTransition: (event, s) => void calls.push(`${event} ${s.records}`),
    clock,
    summaryIntervalMs: 10_000,
    log: createLogger('debug', {
      write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }),
    }),
  });
  return { b, calls, lines, clock };
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

test('transitions log at debug; one info summary per interval, a last one at stop', async () => {
  const { b, lines, clock } = setup({ block: true });
  const stop = b.startSummaries();
  for (let i = 0; i < 50; i++) {
    b.queueHigh(stats);
    await clock.advance(100);
    b.queueLow(stats);
    await clock.advance(100);
  }
  await clock.advance(5000);
  b.queueHigh(stats);
  await clock.advance(1000);
  stop();
  await clock.advance(0);
  const info = lines.filter((l) => l.level >= 30);
  assert.equal(lines.filter((l) => l.level === 20).length, 101, 'every transition at debug');
  assert.deepEqual(
    info.map((l) => l.msg),
    [
      'backpressure in the last 10.0 s: 50 pause(s), 50 resume(s), paused 5.0 s (50%)',
      'backpressure in the last 6.0 s: 1 pause(s), 0 resume(s), paused 1.0 s (17%), paused now',
    ],
  );
  assert.ok(
    info.every((l) => l.level === 30),
    'info',
  );
  assert.equal(clock.pendingSleepers(), 0, 'the summary loop ended');
});

test('a pause by the overflow gate makes the summary a warning naming it', async () => {
  const { b, lines, clock } = setup({ block: false });
  const stop = b.startSummaries();
  b.gateFull(stats, { records: 5 });
  await clock.advance(2000);
  b.gateRoom(stats, { records: 0 });
  await clock.advance(8000);
  await clock.advance(10_000);
  stop();
  await clock.advance(0);
  const summaries = lines.filter((l) => l.level >= 30);
  assert.equal(summaries.length, 1, 'quiet intervals log nothing');
  assert.equal(summaries[0]!.level, 40);
  assert.equal(
    summaries[0]!.msg,
    'backpressure in the last 10.0 s: 1 pause(s), 1 resume(s), paused 2.0 s (20%); 1 by the overflow gate (the DLQ is slower than the input)',
  );
});
