// Retry backoff: the exact curve without jitter, bounded and reproducible jitter, and option
// validation messages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RetryPolicy, type RetryPolicyOptions } from '../../../src/resilience/retry-policy.js';
import { ConfigError } from '../../../src/core/errors.js';

const base: RetryPolicyOptions = {
  maxAttempts: 5,
  initialBackoffMs: 50,
  maxBackoffMs: 2000,
  multiplier: 2,
  jitter: false,
};

void describe('RetryPolicy', () => {
  void it('grows exponentially from initialBackoffMs and stops at the cap', () => {
    const p = new RetryPolicy(base);
    const curve = [1, 2, 3, 4, 5, 6, 7, 8].map((a) => p.backoffMs(a));
    assert.deepEqual(curve, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
    assert.equal(p.backoffMs(10_000), 2000); // multiplier ** n overflows to Infinity: still the cap
  });

  void it('supports a fractional multiplier and a constant delay', () => {
    assert.deepEqual(
      [1, 2, 3].map((a) => new RetryPolicy({ ...base, initialBackoffMs: 100, multiplier: 1.5 }).backoffMs(a)),
      [100, 150, 225],
    );
    assert.deepEqual(
      [1, 2, 9].map((a) => new RetryPolicy({ ...base, multiplier: 1 }).backoffMs(a)),
      [50, 50, 50],
    );
  });

  void it('with jitter returns random() * capped delay, deterministic for an injected random', () => {
    const values = [0, 0.5, 0.25, 0.999];
    let i = 0;
    const p = new RetryPolicy({ ...base, jitter: true }, () => values[i++] ?? 0);
    assert.deepEqual(
      [1, 2, 3, 10].map((a) => p.backoffMs(a)),
      [0, 50, 50, 1998],
    );
  });

  void it('with jitter never exceeds the capped delay', () => {
    const p = new RetryPolicy({ ...base, jitter: true }, () => 0.9999999);
    for (let a = 1; a <= 20; a++) {
      const d = p.backoffMs(a);
      assert.ok(d >= 0 && d < Math.min(2000, 50 * 2 ** (a - 1)), `attempt ${a}: ${d}`);
    }
  });

  void it('rejects an attempt number below 1', () => {
    const p = new RetryPolicy(base);
    assert.throws(() => p.backoffMs(0), {
      name: 'RangeError',
      message: 'backoffMs: expected an integer attempt >= 1, got 0',
    });
  });

  const invalid: [Partial<RetryPolicyOptions>, string][] = [
    [{ maxAttempts: 0 }, 'retry.maxAttempts: expected an integer >= 1, got 0'],
    [{ maxAttempts: 2.5 }, 'retry.maxAttempts: expected an integer >= 1, got 2.5'],
    [{ initialBackoffMs: -1 }, 'retry.initialBackoffMs: expected a finite number >= 0, got -1'],
    [{ maxBackoffMs: 10 }, 'retry.maxBackoffMs: expected >= initialBackoffMs (50), got 10'],
    [{ multiplier: 0.5 }, 'retry.multiplier: expected a finite number >= 1, got 0.5'],
    [{ multiplier: Number.NaN }, 'retry.multiplier: expected a finite number >= 1, got NaN'],
  ];
  for (const [patch, message] of invalid) {
    void it(`rejects ${JSON.stringify(patch)}`, () => {
      assert.throws(
        () => new RetryPolicy({ ...base, ...patch }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.equal(e.message, message);
          assert.equal(e.code, 'CONFIG_INVALID');
          return true;
        },
      );
    });
  }
});
