// Breaker transitions on a fake clock, counted exactly; in particular the seed's fault: half-open
// must let exactly one probe through, whatever the number of callers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CircuitBreaker,
  type CircuitState,
  type TransitionInfo,
} from '../../../src/resilience/circuit-breaker.js';
import { ConfigError } from '../../../src/core/errors.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

function setup(failureThreshold = 3, openMs = 1000) {
  const clock = new FakeClock(10_000);
  const transitions: [CircuitState, CircuitState, TransitionInfo][] = [];
  const breaker = new CircuitBreaker({
    failureThreshold,
    openMs,
    clock,
    onTransition: (from, to, info) => transitions.push([from, to, info]),
  });
  return { clock, breaker, transitions };
}

function fail(b: CircuitBreaker, n: number): void {
  for (let i = 0; i < n; i++) {
    assert.equal(b.tryAcquire(), true);
    b.onFailure();
  }
}

/** A caller in waitUntilProbe; `at` is the clock time it woke (-1 until then). */
function probeWaiter(b: CircuitBreaker, clock: FakeClock): { at: number; done: Promise<void> } {
  const w = { at: -1, done: Promise.resolve() };
  w.done = b.waitUntilProbe().then(() => {
    w.at = clock.now();
  });
  return w;
}

/** The waiter sleeps on one timer and wakes exactly `ms` from now, not a millisecond earlier. */
async function assertWakesIn(clock: FakeClock, w: { at: number; done: Promise<void> }, ms: number) {
  await flushMicrotasks();
  assert.equal(clock.pendingSleepers(), 1);
  await clock.advance(ms - 1);
  assert.equal(w.at, -1);
  await clock.advance(1);
  await w.done;
}

void describe('CircuitBreaker', () => {
  void it('opens after failureThreshold consecutive failures only', () => {
    const { breaker, transitions } = setup(3);
    fail(breaker, 2);
    assert.equal(breaker.tryAcquire(), true);
    breaker.onSuccess(); // resets the count
    fail(breaker, 2);
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.stateCode, 0);
    assert.equal(transitions.length, 0);
    fail(breaker, 1);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.stateCode, 1);
    assert.deepEqual(transitions, [['closed', 'open', { at: 10_000, consecutiveFailures: 3 }]]);
  });

  void it('refuses callers while open and counts down to the probe', async () => {
    const { clock, breaker } = setup(1, 1000);
    fail(breaker, 1);
    assert.equal(breaker.tryAcquire(), false);
    assert.equal(breaker.msUntilProbe(), 1000);
    await clock.advance(999);
    assert.equal(breaker.msUntilProbe(), 1);
    assert.equal(breaker.tryAcquire(), false);
    assert.equal(breaker.state, 'open');
  });

  void it('lets exactly one of N concurrent callers probe in half-open', async () => {
    const { clock, breaker, transitions } = setup(1, 1000);
    fail(breaker, 1);
    await clock.advance(1000);
    const granted = Array.from({ length: 10 }, () => breaker.tryAcquire());
    assert.deepEqual(granted, [true, false, false, false, false, false, false, false, false, false]);
    assert.equal(breaker.state, 'half_open');
    assert.equal(breaker.stateCode, 2);
    assert.equal(breaker.msUntilProbe(), Number.POSITIVE_INFINITY);
    breaker.onSuccess();
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.tryAcquire(), true);
    assert.equal(breaker.tryAcquire(), true);
    assert.deepEqual(
      transitions.map(([from, to]) => `${from}>${to}`),
      ['closed>open', 'open>half_open', 'half_open>closed'],
    );
    assert.deepEqual(transitions[2]?.[2], { at: 11_000, consecutiveFailures: 0 });
  });

  void it('reopens on a failed probe and restarts the open timer', async () => {
    const { clock, breaker, transitions } = setup(2, 1000);
    fail(breaker, 2);
    await clock.advance(1500);
    assert.equal(breaker.tryAcquire(), true);
    breaker.onFailure();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.msUntilProbe(), 1000);
    await clock.advance(999);
    assert.equal(breaker.tryAcquire(), false);
    await clock.advance(1);
    assert.equal(breaker.tryAcquire(), true);
    assert.deepEqual(
      transitions.map(([from, to, info]) => `${from}>${to}@${info.at}`),
      ['closed>open@10000', 'open>half_open@11500', 'half_open>open@11500', 'open>half_open@12500'],
    );
  });

  void it('ignores stale results that arrive while open', async () => {
    const { clock, breaker, transitions } = setup(1, 1000);
    assert.equal(breaker.tryAcquire(), true); // a slow write started while closed
    fail(breaker, 1);
    await clock.advance(600);
    breaker.onSuccess(); // the slow write finishes: does not close the circuit
    breaker.onFailure(); // nor does a late failure extend the wait
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.msUntilProbe(), 400);
    assert.equal(transitions.length, 1);
  });

  void it('waitUntilProbe sleeps on the clock until the open period is over', async () => {
    const { clock, breaker } = setup(1, 1000);
    fail(breaker, 1);
    const w = probeWaiter(breaker, clock);
    await assertWakesIn(clock, w, 1000);
    assert.equal(w.at, 11_000);
    assert.equal(breaker.tryAcquire(), true);
  });

  void it('waitUntilProbe returns at once while closed, and on abort', async () => {
    const { clock, breaker } = setup(1, 1000);
    await breaker.waitUntilProbe();
    fail(breaker, 1);
    const ac = new AbortController();
    const p = breaker.waitUntilProbe(ac.signal);
    ac.abort();
    await p;
    assert.equal(clock.now(), 10_000);
    assert.equal(clock.pendingSleepers(), 0);
  });

  void it('waiters in half-open wait for the probe verdict, without polling', async () => {
    const { clock, breaker } = setup(1, 1000);
    fail(breaker, 1);
    await clock.advance(1000);
    assert.equal(breaker.tryAcquire(), true); // the probe
    const woke: number[] = [];
    const waiters = [1, 2, 3].map((i) =>
      breaker.waitUntilProbe().then(() => {
        woke.push(i);
      }),
    );
    await flushMicrotasks();
    assert.deepEqual(woke, []);
    assert.equal(clock.pendingSleepers(), 0); // waiting on the probe, not on a timer
    breaker.onSuccess();
    await Promise.all(waiters);
    assert.deepEqual(woke, [1, 2, 3]);
    assert.equal(breaker.state, 'closed');
  });

  void it('half-open waiters go back to sleeping for openMs when the probe fails', async () => {
    const { clock, breaker } = setup(1, 1000);
    fail(breaker, 1);
    await clock.advance(1000);
    assert.equal(breaker.tryAcquire(), true);
    const w = probeWaiter(breaker, clock);
    await clock.advance(300);
    breaker.onFailure(); // probe failed at 11_300: next probe at 12_300
    await assertWakesIn(clock, w, 1000);
    assert.equal(w.at, 12_300);
  });

  void it('a fleet of workers: one probe, the rest wait, then all proceed', async () => {
    const { clock, breaker, transitions } = setup(1, 1000);
    fail(breaker, 1);
    let probes = 0;
    let writes = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (!breaker.tryAcquire()) {
          await breaker.waitUntilProbe();
          continue;
        }
        if (breaker.state === 'half_open') probes++;
        await clock.sleep(50); // the write
        writes++;
        breaker.onSuccess();
        return;
      }
    };
    const all = Promise.all(Array.from({ length: 5 }, () => worker()));
    await clock.advance(2000);
    await all;
    assert.equal(probes, 1);
    assert.equal(writes, 5);
    assert.deepEqual(
      transitions.map(([from, to, info]) => `${from}>${to}@${info.at}`),
      ['closed>open@10000', 'open>half_open@11000', 'half_open>closed@11050'],
    );
  });

  void it('validates its options', () => {
    const clock = new FakeClock();
    assert.throws(
      () => new CircuitBreaker({ failureThreshold: 0, openMs: 1000, clock }),
      new ConfigError('breaker.failureThreshold: expected an integer >= 1, got 0'),
    );
    assert.throws(
      () => new CircuitBreaker({ failureThreshold: 1, openMs: -1, clock }),
      new ConfigError('breaker.openMs: expected a finite number >= 0, got -1'),
    );
  });
});
