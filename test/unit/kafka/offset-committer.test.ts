// The Kafka offset mirror with a fake clock and a scripted commit target: failed commits are
// retried with backoff until Kafka holds the newest offset of each owned partition, each
// attempt is bounded, failures are counted by reason and warned about at most once per
// window, and close() commits what is left within its budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OffsetCommitter, type CommitTarget } from '../../../src/kafka/offset-committer.js';
import { createLogger } from '../../../src/core/logger.js';
import { KafkaError } from '../../../src/core/errors.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

type Commit = { topic: string; partition: number; offset: string }[];

class FakeTarget implements CommitTarget {
  readonly calls: Commit[] = [];
  /** Kafka's committed offsets: "topic/partition" → offset. */
  readonly kafka = new Map<string, string>();
  owned = new Set(['t/0', 't/1']);
  /** What the next calls do: an error to throw, 'hang' to never answer, or undefined to succeed. */
  script: (Error | 'hang' | undefined)[] = [];
  failAlways: Error | null = null;

  commitOffsets(offsets: Commit): Promise<void> {
    this.calls.push(offsets);
    const step = this.failAlways ?? this.script.shift();
    if (step === 'hang') return new Promise(() => undefined);
    if (step instanceof Error) return Promise.reject(step);
    for (const o of offsets) this.kafka.set(`${o.topic}/${o.partition}`, o.offset);
    return Promise.resolve();
  }

  owns(topic: string, partition: number): boolean {
    return this.owned.has(`${topic}/${partition}`);
  }
}

const rebalancing = (): Error =>
  Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), {
    name: 'KafkaJSProtocolError',
    type: 'REBALANCE_IN_PROGRESS',
    retriable: false,
  });

function setup(target: FakeTarget): {
  committer: OffsetCommitter;
  clock: FakeClock;
  reasons: string[];
  warnings: Record<string, unknown>[];
} {
  const clock = new FakeClock(1_000_000);
  const reasons: string[] = [];
  const warnings: Record<string, unknown>[] = [];
  const log = createLogger('warn', {
    write: (line: string) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.level === 40) warnings.push(entry);
    },
  });
  const committer = new OffsetCommitter({
    target,
    clock,
    log,
    intervalMs: 200,
    maxBackoffMs: 5000,
    attemptTimeoutMs: 10_000,
    closeTimeoutMs: 5000,
    warnEveryMs: 30_000,
    onFailed: (r) => reasons.push(r),
  });
  return { committer, clock, reasons, warnings };
}

test('a failed commit is retried with backoff until Kafka holds the newest offsets', async () => {
  const target = new FakeTarget();
  const { committer, clock, reasons } = setup(target);
  target.script = [rebalancing(), rebalancing(), rebalancing()];
  committer.add([{ topic: 't', partition: 0, nextOffset: 10 }]);
  committer.add([
    { topic: 't', partition: 0, nextOffset: 7 }, // older: ignored
    { topic: 't', partition: 1, nextOffset: 5 },
  ]);
  await clock.advance(200); // coalescing window → attempt 1 fails
  assert.equal(target.calls.length, 1);
  await clock.advance(399);
  assert.equal(target.calls.length, 1, 'second attempt waits 400 ms');
  await clock.advance(1); // attempt 2 fails
  committer.add([{ topic: 't', partition: 1, nextOffset: 9 }]);
  await clock.advance(800); // attempt 3 fails
  assert.equal(target.calls.length, 3);
  await clock.advance(1600); // attempt 4 succeeds
  assert.equal(target.calls.length, 4);
  assert.deepEqual(target.calls[3], [
    { topic: 't', partition: 0, offset: '10' },
    { topic: 't', partition: 1, offset: '9' },
  ]);
  assert.deepEqual(
    [...target.kafka],
    [
      ['t/0', '10'],
      ['t/1', '9'],
    ],
  );
  assert.deepEqual(reasons, ['REBALANCE_IN_PROGRESS', 'REBALANCE_IN_PROGRESS', 'REBALANCE_IN_PROGRESS']);
  assert.equal(committer.pendingCount, 0);
  await clock.advance(60_000);
  assert.equal(target.calls.length, 4, 'nothing more to commit: no further calls');
  assert.equal(clock.pendingSleepers(), 0, 'the loop ended');
});

test('the backoff is capped and retries go on until the commit succeeds', async () => {
  const target = new FakeTarget();
  const { committer, clock } = setup(target);
  target.failAlways = rebalancing();
  committer.add([{ topic: 't', partition: 0, nextOffset: 3 }]);
  await clock.advance(200 + 400 + 800 + 1600 + 3200);
  assert.equal(target.calls.length, 5);
  await clock.advance(5000);
  assert.equal(target.calls.length, 6, 'capped at 5 s');
  await clock.advance(5 * 60_000);
  assert.equal(target.calls.length, 66);
  target.failAlways = null;
  await clock.advance(5000);
  assert.equal(target.kafka.get('t/0'), '3');
  assert.equal(committer.pendingCount, 0);
});

test('only owned partitions are committed; a partition lost meanwhile is dropped', async () => {
  const target = new FakeTarget();
  const { committer, clock } = setup(target);
  target.script = [rebalancing()];
  committer.add([
    { topic: 't', partition: 0, nextOffset: 4 },
    { topic: 't', partition: 1, nextOffset: 6 },
  ]);
  await clock.advance(200); // fails
  target.owned = new Set(['t/1']);
  await clock.advance(400);
  assert.deepEqual(target.calls[1], [{ topic: 't', partition: 1, offset: '6' }]);
  committer.forget([{ topic: 't', partition: 1 }]);
  committer.add([{ topic: 't', partition: 0, nextOffset: 8 }]);
  await clock.advance(200);
  assert.equal(target.calls.length, 2, 't/0 is not owned: never sent');
  assert.equal(committer.pendingCount, 0);
});

test('an attempt that never answers counts as failed (COMMIT_TIMEOUT) and is retried', async () => {
  const target = new FakeTarget();
  const { committer, clock, reasons } = setup(target);
  target.script = ['hang'];
  committer.add([{ topic: 't', partition: 0, nextOffset: 2 }]);
  await clock.advance(200 + 10_000);
  assert.deepEqual(reasons, ['COMMIT_TIMEOUT']);
  // The hung request is waited for at most one attempt timeout before the next one goes out.
  await clock.advance(400 + 10_000);
  assert.equal(target.calls.length, 2);
  assert.equal(target.kafka.get('t/0'), '2');
});

test('failures are warned about at most once per 30 s, with the reason and the count', async () => {
  const target = new FakeTarget();
  const { committer, clock, warnings } = setup(target);
  target.failAlways = rebalancing();
  committer.add([{ topic: 't', partition: 0, nextOffset: 1 }]);
  await clock.advance(65_000);
  assert.ok(target.calls.length > 15, `${target.calls.length} attempts`);
  assert.equal(warnings.length, 3, 'at 0 s, 30 s and 60 s');
  assert.equal(warnings[0]!.reason, 'REBALANCE_IN_PROGRESS');
  assert.match(String(warnings[0]!.msg), /REBALANCE_IN_PROGRESS/);
  assert.equal(warnings[0]!.failures, 1);
  assert.ok(Number(warnings[1]!.failures) > 1, 'the next warning counts the failures since the last one');
  committer.abandon();
  await clock.advance(10_000);
  assert.equal(clock.pendingSleepers(), 0);
});

test('close() commits what is pending last, without waiting for the interval', async () => {
  const target = new FakeTarget();
  const { committer, clock } = setup(target);
  committer.add([{ topic: 't', partition: 0, nextOffset: 12 }]);
  const closed = committer.close();
  await flushMicrotasks();
  await closed;
  assert.equal(target.kafka.get('t/0'), '12');
  committer.add([{ topic: 't', partition: 0, nextOffset: 13 }]);
  await clock.advance(1000);
  assert.equal(target.kafka.get('t/0'), '12', 'nothing is committed after close');
});

test('close() retries a failing commit within its budget, then gives up', async () => {
  const target = new FakeTarget();
  const { committer, clock, warnings } = setup(target);
  target.failAlways = new KafkaError('X', 'broker away', true);
  committer.add([{ topic: 't', partition: 0, nextOffset: 12 }]);
  let done = false;
  const closed = committer.close().then(() => (done = true));
  await flushMicrotasks(); // close() has made its first attempt
  assert.equal(target.calls.length, 1);
  await clock.advance(4999);
  assert.equal(done, false);
  await clock.advance(1);
  await closed;
  assert.ok(target.calls.length >= 4, `${target.calls.length} attempts during close`);
  assert.match(String(warnings.at(-1)?.msg), /stopping with Kafka offsets behind PostgreSQL/);
});

test('close() during a retry sleep commits at once', async () => {
  const target = new FakeTarget();
  const { committer, clock } = setup(target);
  target.script = [rebalancing()];
  committer.add([{ topic: 't', partition: 0, nextOffset: 5 }]);
  await clock.advance(200); // fails; the loop sleeps 400 ms
  await committer.close();
  assert.equal(target.kafka.get('t/0'), '5');
  assert.equal(target.calls.length, 2);
});
