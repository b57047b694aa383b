// Queue semantics: FIFO per lane, one onHigh/onLow per crossing (hysteresis), byte bounds,
// promise-based waiting (the seed's idle worker busy-looped), revocation and drop_oldest.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BoundedQueue,
  type BoundedQueueOptions,
  type QueueStats,
} from '../../../src/pipeline/bounded-queue.js';
import { ConfigError } from '../../../src/core/errors.js';
import { flushMicrotasks } from '../../helpers/fake-clock.js';

interface Item {
  readonly id: string;
  readonly p: number; // partition
}

/** The stats of setup()'s queue (capacity 10 records / 1000 bytes) while under its low watermark. */
function held(records: number, bytes: number, queued: number): QueueStats {
  return { records, bytes, queued, capacityRecords: 10, capacityBytes: 1000, high: false };
}

function setup(overrides: Partial<BoundedQueueOptions> = {}) {
  const events: string[] = [];
  const seen: QueueStats[] = [];
  const q = new BoundedQueue<Item>({
    capacityRecords: 10,
    capacityBytes: 1000,
    highWatermark: 0.8,
    lowWatermark: 0.5,
    lanes: 2,
    onHigh: (s) => {
      events.push(`high@${s.records}r/${s.bytes}b`);
      seen.push(s);
    },
    onLow: (s) => {
      events.push(`low@${s.records}r/${s.bytes}b`);
      seen.push(s);
    },
    ...overrides,
  });
  return { q, events, seen };
}

const item = (id: string, p = 0): Item => ({ id, p });
const ids = (items: readonly Item[]): string[] => items.map((i) => i.id);

void describe('BoundedQueue', () => {
  void it('keeps FIFO order per lane and lanes independent', () => {
    const { q } = setup();
    q.push(0, item('a1'), 1);
    q.push(1, item('b1'), 1);
    q.push(0, item('a2'), 1);
    q.push(0, item('a3'), 1);
    assert.equal(q.laneSize(0), 3);
    assert.equal(q.laneSize(1), 1);
    assert.deepEqual(ids(q.take(0, 2)), ['a1', 'a2']);
    assert.deepEqual(ids(q.take(0, 5)), ['a3']);
    assert.deepEqual(ids(q.take(0, 5)), []);
    assert.deepEqual(ids(q.take(1, 0)), []);
    assert.deepEqual(ids(q.take(1, 1)), ['b1']);
  });

  void it('stays FIFO across many takes (index + compaction, no shift)', () => {
    const { q } = setup({ capacityRecords: 100_000, capacityBytes: 1e9, lanes: 1 });
    const out: string[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) q.push(0, item(String(next++)), 1);
      for (const it of q.take(0, 70)) out.push(it.id);
    }
    for (const it of q.take(0, 10_000)) out.push(it.id);
    assert.equal(out.length, 5000);
    assert.deepEqual(
      out,
      Array.from({ length: 5000 }, (_, i) => String(i)),
    );
    assert.equal(q.stats().queued, 0);
    assert.equal(q.stats().records, 5000); // taken but never released
  });

  void it('counts taken items as held until released', () => {
    const { q } = setup();
    q.push(0, item('a'), 100);
    q.push(0, item('b'), 50);
    q.take(0, 1);
    assert.deepEqual(q.stats(), held(2, 150, 1));
    q.release(1, 100);
    assert.deepEqual(q.stats(), held(1, 50, 1));
  });

  void it('fires onHigh once and onLow once per crossing, with no flapping in between', () => {
    const { q, events } = setup(); // high at 8 records, low at 5
    for (let i = 0; i < 7; i++) q.push(0, item(`x${i}`), 1);
    assert.deepEqual(events, []);
    q.push(0, item('x7'), 1); // 8 held
    assert.deepEqual(events, ['high@8r/8b']);
    // oscillate between low and high: nothing fires
    q.take(0, 8);
    q.release(2, 2); // 6
    q.push(1, item('y0'), 1); // 7
    q.push(1, item('y1'), 1); // 8
    q.push(1, item('y2'), 1); // 9
    q.take(1, 3);
    q.release(3, 3); // 6
    q.push(1, item('y3'), 1); // 7
    q.release(1, 1); // 6
    assert.deepEqual(events, ['high@8r/8b']);
    assert.equal(q.stats().high, true);
    q.release(1, 1); // 5: at the low watermark
    assert.deepEqual(events, ['high@8r/8b', 'low@5r/5b']);
    assert.equal(q.stats().high, false);
    // oscillation below high after low: nothing fires
    q.push(0, item('z0'), 1); // 6
    q.take(1, 1);
    q.release(2, 2); // 4
    q.push(0, item('z1'), 1); // 5
    q.push(0, item('z2'), 1); // 6
    q.push(0, item('z3'), 1); // 7
    assert.deepEqual(events, ['high@8r/8b', 'low@5r/5b']);
    q.push(0, item('z4'), 1); // 8: second crossing
    assert.deepEqual(events, ['high@8r/8b', 'low@5r/5b', 'high@8r/8b']);
  });

  void it('triggers high on bytes alone and needs both records and bytes to go low', () => {
    const { q, events } = setup(); // bytes: high at 800, low at 500
    q.push(0, item('big'), 790);
    assert.deepEqual(events, []);
    q.push(0, item('small'), 10); // 800 bytes, 2 records
    assert.deepEqual(events, ['high@2r/800b']);
    for (let i = 0; i < 6; i++) q.push(1, item(`r${i}`), 1); // 8 records, 806 bytes
    assert.deepEqual(events, ['high@2r/800b']);
    q.take(0, 1);
    q.release(1, 790); // 7 records, 16 bytes: bytes low, records not
    assert.deepEqual(events, ['high@2r/800b']);
    q.take(1, 2);
    q.release(2, 2); // 5 records, 14 bytes
    assert.deepEqual(events, ['high@2r/800b', 'low@5r/14b']);
  });

  void it('uses exact integer thresholds despite floating point (0.7 * 10)', () => {
    const { q, events } = setup({ highWatermark: 0.7, lowWatermark: 0.3 });
    for (let i = 0; i < 7; i++) q.push(0, item(String(i)), 1);
    assert.deepEqual(events, ['high@7r/7b']);
    q.take(0, 7);
    q.release(4, 4);
    assert.deepEqual(events, ['high@7r/7b', 'low@3r/3b']);
  });

  void it('reports isFull at capacity in records or bytes', () => {
    const a = setup().q;
    for (let i = 0; i < 9; i++) a.push(0, item(String(i)), 1);
    assert.equal(a.isFull(), false);
    a.push(0, item('9'), 1);
    assert.equal(a.isFull(), true);
    const b = setup().q;
    b.push(1, item('huge'), 1000);
    assert.equal(b.isFull(), true);
  });

  void it('never drops: pushes beyond capacity are kept', () => {
    const { q, events } = setup();
    for (let i = 0; i < 15; i++) q.push(0, item(String(i)), 1);
    assert.equal(q.stats().records, 15);
    assert.equal(q.laneSize(0), 15);
    assert.deepEqual(events, ['high@8r/8b']);
  });

  void it('waitForItems resolves on the next push to that lane, not before, not for other lanes', async () => {
    const { q } = setup();
    let woke = false;
    const p = q.waitForItems(0).then(() => {
      woke = true;
    });
    await flushMicrotasks();
    assert.equal(woke, false);
    q.push(1, item('other'), 1);
    await flushMicrotasks();
    assert.equal(woke, false);
    q.push(0, item('mine'), 1);
    await p;
    assert.equal(woke, true);
  });

  void it('waitForItems resolves at once when the lane has items, and on abort', async () => {
    const { q } = setup();
    q.push(1, item('a'), 1);
    await q.waitForItems(1);
    const ac = new AbortController();
    const p = q.waitForItems(0, ac.signal);
    ac.abort();
    await p;
    await q.waitForItems(0, AbortSignal.abort());
    assert.equal(q.laneSize(0), 0);
  });

  void it('removeWhere removes queued (not taken) matches in push order and releases them', () => {
    const { q, events } = setup();
    q.push(0, item('a1', 1), 10);
    q.push(1, item('b1', 2), 20);
    q.push(0, item('a2', 3), 30);
    q.push(1, item('b2', 1), 40);
    q.push(0, item('a3', 1), 50);
    q.push(1, item('b3', 2), 60);
    q.push(0, item('a4', 1), 70);
    q.push(1, item('b4', 1), 80); // 8 records: high
    assert.deepEqual(ids(q.take(0, 1)), ['a1']); // taken: stays with its worker
    const removed = q.removeWhere((i) => i.p === 1);
    assert.deepEqual(ids(removed), ['b2', 'a3', 'a4', 'b4']);
    assert.deepEqual(q.stats(), held(4, 120, 3));
    assert.deepEqual(events, ['high@8r/360b', 'low@4r/120b']);
    assert.deepEqual(ids(q.take(0, 10)), ['a2']);
    assert.deepEqual(ids(q.take(1, 10)), ['b1', 'b3']);
    assert.deepEqual(
      q.removeWhere(() => true),
      [],
    );
  });

  void it('shiftOldest removes the globally oldest queued items across lanes and releases them', () => {
    const { q, events } = setup();
    q.push(1, item('1'), 1);
    q.push(0, item('2'), 2);
    q.push(1, item('3'), 3);
    q.push(0, item('4'), 4);
    q.push(0, item('5'), 5);
    q.push(1, item('6'), 6);
    q.push(0, item('7'), 7);
    q.push(1, item('8'), 8); // high
    assert.deepEqual(ids(q.take(1, 1)), ['1']); // taken items are not candidates
    assert.deepEqual(ids(q.shiftOldest(3)), ['2', '3', '4']);
    assert.deepEqual(q.stats(), held(5, 27, 4));
    assert.deepEqual(events, ['high@8r/36b', 'low@5r/27b']);
    assert.deepEqual(ids(q.shiftOldest(10)), ['5', '6', '7', '8']);
    assert.deepEqual(q.shiftOldest(1), []);
    assert.deepEqual(q.stats(), held(1, 1, 0));
  });

  void it('rejects bad lanes and over-release', () => {
    const { q } = setup();
    assert.throws(() => q.push(2, item('x'), 1), {
      name: 'RangeError',
      message: 'lane: expected an integer in [0, 2), got 2',
    });
    q.push(0, item('x'), 5);
    assert.throws(() => q.release(2, 5), {
      name: 'RangeError',
      message: 'release: expected at most the held 1 records / 5 bytes, got 2 / 5',
    });
  });

  it('claimNext gives the unclaimed lane with the oldest record, one claimant per lane', () => {
    const { q } = setup({ lanes: 3, capacityRecords: 100 });
    q.push(1, item('a'), 1);
    q.push(0, item('b'), 1);
    q.push(2, item('c'), 1);
    assert.equal(q.claimNext(), 1, 'lane 1 holds the oldest record');
    assert.equal(q.claimNext(), 0, 'lane 1 is claimed: the next oldest');
    q.push(1, item('d'), 1);
    assert.equal(q.claimNext(), 2);
    assert.equal(q.claimNext(), -1, 'every lane with records is claimed');
    assert.equal(q.claim(1), false, 'a claimed lane cannot be claimed again');
    q.unclaim(1);
    assert.equal(q.claimNext(), 1, 'given back with records: claimable again');
    q.take(2, 10);
    q.unclaim(2);
    assert.equal(q.claimNext(), -1, 'an empty lane is not handed out');
    assert.equal(q.claim(2), true, 'but can be claimed by name');
  });

  it('waitForWork wakes on a push to an unclaimed lane or an unclaim with records, not on a claimed lane', async () => {
    const { q } = setup({ lanes: 2, capacityRecords: 100 });
    let woken = 0;
    const wait = (): void => void q.waitForWork().then(() => woken++);
    q.push(0, item('a'), 1);
    assert.equal(q.claimNext(), 0);
    wait();
    q.push(0, item('b'), 1);
    await flushMicrotasks();
    assert.equal(woken, 0, 'a record for a claimed lane waits for its claimant');
    q.unclaim(0);
    await flushMicrotasks();
    assert.equal(woken, 1, 'the lane came back with a record');
    assert.equal(q.claimNext(), 0);
    q.take(0, 10);
    wait();
    q.push(1, item('c'), 1);
    await flushMicrotasks();
    assert.equal(woken, 2, 'a push to an unclaimed lane');
    wait();
    q.notify();
    await flushMicrotasks();
    assert.equal(woken, 3, 'notify() for work held outside the queue');
    const ac = new AbortController();
    void q.waitForWork(ac.signal).then(() => woken++);
    ac.abort();
    await flushMicrotasks();
    assert.equal(woken, 4, 'an aborted wait resolves');
  });

  const invalid: [Partial<BoundedQueueOptions>, string][] = [
    [{ highWatermark: 1.5 }, 'queue.highWatermark: expected a fraction in (0, 1], got 1.5'],
    [{ highWatermark: 0 }, 'queue.highWatermark: expected a fraction in (0, 1], got 0'],
    [{ lowWatermark: 0.8 }, 'queue.lowWatermark: expected > 0 and < queue.highWatermark (0.8), got 0.8'],
    [{ lowWatermark: 0 }, 'queue.lowWatermark: expected > 0 and < queue.highWatermark (0.8), got 0'],
    [{ capacityRecords: 0 }, 'queue.capacityRecords: expected an integer >= 1, got 0'],
    [{ capacityBytes: 0 }, 'queue.capacityBytes: expected a number >= 1, got 0'],
    [{ lanes: 0 }, 'queue.lanes: expected an integer >= 1, got 0'],
  ];
  for (const [patch, message] of invalid) {
    void it(`rejects ${JSON.stringify(patch)}`, () => {
      assert.throws(
        () => setup(patch),
        (e: unknown) => e instanceof ConfigError && e.message === message,
      );
    });
  }
});
