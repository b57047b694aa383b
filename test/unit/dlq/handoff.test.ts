// The handoff between KafkaJS's eachBatch and the replay loop, on a fake clock: a batch is
// released only when the loop asks for the next one, a push wakes a waiting loop at once,
// and the wait policy decides between waiting, stopping and failing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Handoff } from '../../../src/dlq/topic/handoff.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

void describe('Handoff', () => {
  void it('hands out a pushed value and releases its pusher only on the next call', async () => {
    const h = new Handoff<string>(new FakeClock());
    let released = false;
    const pushed = h.push('a').then(() => (released = true));
    assert.equal(await h.next(() => 1000), 'a');
    await flushMicrotasks();
    assert.equal(released, false, 'released while the loop still works on it');
    h.end();
    assert.equal(await h.next(() => 1000), undefined);
    await pushed;
    assert.equal(released, true);
  });

  void it('a push wakes a waiting loop without waiting out the policy', async () => {
    const clock = new FakeClock();
    const h = new Handoff<number>(clock);
    let got: number | undefined;
    const next = h.next(() => 60_000).then((v) => (got = v));
    await flushMicrotasks();
    void h.push(7);
    await next;
    assert.equal(got, 7);
    assert.equal(clock.now(), 0);
  });

  void it('the policy is asked again after each wait: null stops, an Error fails', async () => {
    const clock = new FakeClock();
    const h = new Handoff<number>(clock);
    let asked = 0;
    const stop = h.next(() => (++asked < 3 ? 100 : null));
    for (let i = 0; i < 3; i++) {
      await flushMicrotasks();
      await clock.advance(100);
    }
    assert.equal(await stop, undefined);
    assert.equal(asked, 3);
    await assert.rejects(
      h.next(() => new Error('stalled')),
      /stalled/,
    );
  });

  void it('fail() makes the waiting loop throw; close() releases a pusher never taken', async () => {
    const h = new Handoff<number>(new FakeClock());
    const waiting = h.next(() => 60_000);
    await flushMicrotasks();
    h.fail(new Error('consumer crashed'));
    await assert.rejects(waiting, /consumer crashed/);
    const h2 = new Handoff<number>(new FakeClock());
    const pushed = h2.push(1);
    h2.close();
    await pushed;
    assert.equal(await h2.next(() => 1), undefined);
  });
});
