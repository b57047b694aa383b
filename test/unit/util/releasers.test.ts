// Teardown runs newest first, each release once; a failing release is reported and the
// older ones still run. A late-bound reference says when it is used before it exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Releasers } from '../../../src/util/releasers.js';
import { LateBound } from '../../../src/util/late-bound.js';

test('Releasers: last in, first out; each release runs once', async () => {
  const ran: string[] = [];
  const r = new Releasers((e) => assert.fail(e));
  r.add(() => void ran.push('pool'));
  r.add(async () => {
    await Promise.resolve();
    ran.push('admin');
  });
  r.add(() => void ran.push('consumer'));
  await r.releaseAll();
  assert.deepEqual(ran, ['consumer', 'admin', 'pool']);
  await r.releaseAll();
  assert.deepEqual(ran, ['consumer', 'admin', 'pool']);
  r.add(() => void ran.push('late'));
  await r.releaseAll();
  assert.deepEqual(ran, ['consumer', 'admin', 'pool', 'late']);
});

test('Releasers: a failing release is reported and the older ones still run', async () => {
  const ran: string[] = [];
  const errors: string[] = [];
  const r = new Releasers((e) => errors.push(e.message));
  r.add(() => void ran.push('first'));
  r.add(() => Promise.reject(new Error('broker away')));
  r.add(() => {
    throw new Error('already closed');
  });
  await r.releaseAll();
  assert.deepEqual(ran, ['first']);
  assert.deepEqual(errors, ['already closed', 'broker away']);
});

test('LateBound: null (or a clear error) before bind, the value after; bound once', () => {
  const ref = new LateBound<{ n: number }>('consumer');
  assert.equal(ref.current, null);
  assert.throws(() => ref.get(), /consumer: used before it was created/);
  const v = { n: 1 };
  assert.equal(ref.bind(v), v);
  assert.equal(ref.current, v);
  assert.equal(ref.get(), v);
  assert.throws(() => ref.bind({ n: 2 }), /consumer: already bound/);
});
