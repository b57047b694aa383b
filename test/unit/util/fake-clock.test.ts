// The fake clock every timing test relies on: wake order, chained sleeps, abort; and the
// system clock's early resolve on abort.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../helpers/fake-clock.js';
import { systemClock } from '../../../src/core/clock.js';

void describe('FakeClock', () => {
  void it('starts at the given time and moves only on advance()', async () => {
    const clock = new FakeClock(1000);
    assert.equal(clock.now(), 1000);
    await clock.advance(250);
    assert.equal(clock.now(), 1250);
  });

  void it('wakes sleepers in due order, each at its own due time', async () => {
    const clock = new FakeClock();
    const woke: string[] = [];
    const sleep = (name: string, ms: number): Promise<void> =>
      clock.sleep(ms).then(() => {
        woke.push(`${name}@${clock.now()}`);
      });
    const all = Promise.all([sleep('c', 30), sleep('a', 10), sleep('b', 20), sleep('a2', 10)]);
    assert.equal(clock.pendingSleepers(), 4);
    await clock.advance(15);
    assert.deepEqual(woke, ['a@10', 'a2@10']);
    assert.equal(clock.pendingSleepers(), 2);
    await clock.advance(100);
    await all;
    assert.deepEqual(woke, ['a@10', 'a2@10', 'b@20', 'c@30']);
    assert.equal(clock.now(), 115);
    assert.equal(clock.pendingSleepers(), 0);
  });

  void it('runs chained sleeps within one advance() at the right times', async () => {
    const clock = new FakeClock();
    const ticks: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        // an extra await hop between wake-up and the next sleep, like real code has
        await Promise.resolve();
        ticks.push(clock.now());
      }
    })();
    await clock.advance(250);
    assert.deepEqual(ticks, [100, 200]);
    assert.equal(clock.pendingSleepers(), 1);
    await clock.advance(50);
    await loop;
    assert.deepEqual(ticks, [100, 200, 300]);
  });

  void it('resolves a sleep early on abort and forgets it', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    let done = false;
    const p = clock.sleep(1000, ac.signal).then(() => {
      done = true;
    });
    assert.equal(clock.pendingSleepers(), 1);
    ac.abort();
    await p;
    assert.equal(done, true);
    assert.equal(clock.now(), 0);
    assert.equal(clock.pendingSleepers(), 0);
  });

  void it('resolves at once for an already aborted signal or a non-positive delay', async () => {
    const clock = new FakeClock();
    await clock.sleep(500, AbortSignal.abort());
    await clock.sleep(0);
    await clock.sleep(-5);
    assert.equal(clock.pendingSleepers(), 0);
    assert.equal(clock.now(), 0);
  });

  void it('rejects a negative advance', async () => {
    const clock = new FakeClock();
    await assert.rejects(clock.advance(-1), {
      name: 'RangeError',
      message: 'advance: expected ms >= 0, got -1',
    });
  });
});

void describe('systemClock', () => {
  void it('resolves sleep early on abort without waiting for the timer', async () => {
    const ac = new AbortController();
    const p = systemClock.sleep(60_000, ac.signal);
    ac.abort();
    // If abort did not resolve it, this test would hang on the 60 s timer instead.
    await p;
    await systemClock.sleep(10_000, AbortSignal.abort());
    assert.equal(typeof systemClock.now(), 'number');
  });
});
