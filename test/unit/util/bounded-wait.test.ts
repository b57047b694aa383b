// unlessAborted gives up a wait at once when its signal fires and cleans up what the
// abandoned work yields later; settlesWithin tells a drain that ended from one that ran out
// of time, on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settlesWithin, unlessAborted } from '../../../src/util/bounded-wait.js';
import { AbortedError } from '../../../src/core/errors.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('unlessAborted: settles as the work does while the signal is quiet', async () => {
  const c = new AbortController();
  assert.equal(await unlessAborted('connect', Promise.resolve(7), c.signal), 7);
  await assert.rejects(unlessAborted('connect', Promise.reject(new Error('refused')), c.signal), /refused/);
  assert.equal(await unlessAborted('connect', Promise.resolve(8), undefined), 8);
});

test('unlessAborted: an abort rejects at once; a value that comes later is disposed of', async () => {
  const c = new AbortController();
  const work = deferred<string>();
  const disposed: string[] = [];
  const waiting = unlessAborted('PostgreSQL connect', work.promise, c.signal, (v) => disposed.push(v));
  c.abort();
  await assert.rejects(
    waiting,
    (e: unknown) => e instanceof AbortedError && /PostgreSQL connect: aborted/.test(e.message),
  );
  work.resolve('client');
  await flushMicrotasks();
  assert.deepEqual(disposed, ['client']);
});

test('unlessAborted: an already aborted signal rejects without waiting; a late failure is swallowed', async () => {
  const c = new AbortController();
  c.abort();
  const work = deferred<number>();
  await assert.rejects(unlessAborted('join', work.promise, c.signal), AbortedError);
  work.reject(new Error('late')); // must not surface as an unhandled rejection
  await flushMicrotasks();
});

test('settlesWithin: true when the work ends (even by failing) in time, false when time runs out', async () => {
  const clock = new FakeClock();
  const ok = deferred<void>();
  const inTime = settlesWithin(ok.promise, 5000, clock);
  await clock.advance(4999);
  ok.resolve();
  assert.equal(await inTime, true);
  assert.equal(clock.pendingSleepers(), 0, 'the timer is cancelled');

  const failed = deferred<void>();
  const failing = settlesWithin(failed.promise, 5000, clock);
  failed.reject(new Error('worker crashed'));
  assert.equal(await failing, true);

  const never = new Promise<void>(() => undefined);
  const late = settlesWithin(never, 5000, clock);
  await clock.advance(5000);
  assert.equal(await late, false);
});
