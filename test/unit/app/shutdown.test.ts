// The stop sequence on a fake clock: its order, the bounded drain and what `done` says —
// resolved after a drain that finished, SHUTDOWN_TIMED_OUT after one that ran out of time,
// the fatal error after fail(); a second stop shares the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Shutdown, type ShutdownSteps } from '../../../src/app/shutdown.js';
import { SinkError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/logger.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

function setup(opts: { drainMs?: number; hangDrain?: boolean } = {}) {
  const clock = new FakeClock(1000);
  const calls: string[] = [];
  const steps: ShutdownSteps = {
    stopFetching: () => void calls.push('stopFetching'),
    drain: async () => {
      calls.push('drain');
      if (opts.hangDrain === true) await new Promise(() => undefined);
      await clock.sleep(opts.drainMs ?? 0);
      calls.push('drained');
    },
    closeGate: () => void calls.push('closeGate'),
    stopWorkers: () => {
      calls.push('stopWorkers');
      return Promise.resolve();
    },
    closeCommitter: () => {
      calls.push(`closeCommitter at ${clock.now()}`);
      return Promise.resolve();
    },
    releaseAll: () => {
      calls.push('releaseAll');
      return Promise.resolve();
    },
    summary: () => ({ leftInQueue: 0 }),
  };
  const s = new Shutdown({ clock, log: createLogger('silent'), timeoutMs: 5000, stopStepMs: 1000 });
  s.attach(steps);
  return { s, clock, calls };
}

test('stop(): fetching stops, the drain, the gate, the workers, the last commit, then release', async () => {
  const { s, clock, calls } = setup({ drainMs: 300 });
  const stopping = s.stop(true);
  assert.equal(s.isStopping, true);
  await flushMicrotasks();
  await clock.advance(300);
  await stopping;
  await s.done;
  assert.deepEqual(calls, [
    'stopFetching',
    'drain',
    'drained',
    'closeGate',
    'stopWorkers',
    'closeCommitter at 1300',
    'releaseAll',
  ]);
  assert.equal(s.stop(true), stopping, 'a second stop shares the first');
});

test('stop(): a drain past the timeout still closes everything; done rejects SHUTDOWN_TIMED_OUT', async () => {
  const { s, clock, calls } = setup({ hangDrain: true });
  const stopping = s.stop(true);
  await flushMicrotasks();
  await clock.advance(5000);
  await stopping;
  await assert.rejects(s.done, (e: unknown) => e instanceof SinkError && e.code === 'SHUTDOWN_TIMED_OUT');
  // The commit still gets at least stopStepMs, so it starts right after the workers stop.
  assert.deepEqual(calls, [
    'stopFetching',
    'drain',
    'closeGate',
    'stopWorkers',
    'closeCommitter at 6000',
    'releaseAll',
  ]);
});

test('kill(): no drain and no last commit', async () => {
  const { s, calls } = setup();
  await s.stop(false);
  await s.done;
  assert.deepEqual(calls, ['stopFetching', 'closeGate', 'stopWorkers', 'releaseAll']);
});

test('fail(): the first fatal error stops without draining and is what done rejects with', async () => {
  const { s, calls } = setup();
  const boom = new Error('dispatcher: queue overflow');
  s.fail(boom);
  s.fail(new Error('a later one'));
  assert.equal(s.fatal, boom);
  await assert.rejects(s.done, (e: unknown) => e === boom);
  assert.deepEqual(calls, ['stopFetching', 'closeGate', 'stopWorkers', 'releaseAll']);
});

test('fail() before attach: recorded, and the stop runs as soon as the steps exist', async () => {
  const clock = new FakeClock();
  const s = new Shutdown({ clock, log: createLogger('silent'), timeoutMs: 5000, stopStepMs: 1000 });
  const boom = new Error('crashed');
  s.fail(boom);
  assert.equal(s.fatal, boom);
  await assert.rejects(s.stop(true), /before the sink was wired/);
  const released: string[] = [];
  s.attach({
    stopFetching: () => undefined,
    drain: () => Promise.resolve(),
    closeGate: () => undefined,
    stopWorkers: () => Promise.resolve(),
    closeCommitter: () => Promise.resolve(),
    releaseAll: () => {
      released.push('all');
      return Promise.resolve();
    },
    summary: () => ({}),
  });
  await assert.rejects(s.done, (e: unknown) => e === boom);
  assert.deepEqual(released, ['all']);
});
