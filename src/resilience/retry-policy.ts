// How long a sink worker waits before retrying a failed batch: capped exponential backoff,
// optionally with "full jitter" so workers that failed together do not retry in step.
// Randomness is injected so the curve is testable.
import { ConfigError } from '../core/errors.js';

export interface RetryPolicyOptions {
  /** Attempts in total, the first one included (so maxAttempts - 1 quick retries). */
  readonly maxAttempts: number;
  /** Delay before the first retry. */
  readonly initialBackoffMs: number;
  /** Cap of the delay. */
  readonly maxBackoffMs: number;
  /** Growth factor of the delay from one retry to the next (>= 1). */
  readonly multiplier: number;
  /** Full jitter: the delay is uniform in [0, computed) instead of exactly computed. */
  readonly jitter: boolean;
}

export class RetryPolicy {
  readonly maxAttempts: number;

  constructor(
    private readonly o: RetryPolicyOptions,
    /** A source of numbers in [0, 1); Math.random in production. */
    private readonly random: () => number = Math.random,
  ) {
    validate(o);
    this.maxAttempts = o.maxAttempts;
  }

  /**
   * Delay before retry number `attempt` (1 = the first retry, i.e. after the first attempt
   * failed): initial * multiplier^(attempt-1), capped at maxBackoffMs; with jitter, a
   * uniform fraction of that.
   */
  backoffMs(attempt: number): number {
    if (!Number.isInteger(attempt) || attempt < 1) {
      throw new RangeError(`backoffMs: expected an integer attempt >= 1, got ${attempt}`);
    }
    const { initialBackoffMs, maxBackoffMs, multiplier, jitter } = this.o;
    // A large attempt overflows multiplier ** n to Infinity; min() still yields the cap.
    const capped = Math.min(maxBackoffMs, initialBackoffMs * multiplier ** (attempt - 1));
    return jitter ? this.random() * capped : capped;
  }
}

function validate(o: RetryPolicyOptions): void {
  if (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1) {
    throw new ConfigError(`retry.maxAttempts: expected an integer >= 1, got ${o.maxAttempts}`);
  }
  if (!Number.isFinite(o.initialBackoffMs) || o.initialBackoffMs < 0) {
    throw new ConfigError(`retry.initialBackoffMs: expected a finite number >= 0, got ${o.initialBackoffMs}`);
  }
  if (!Number.isFinite(o.maxBackoffMs) || o.maxBackoffMs < o.initialBackoffMs) {
    throw new ConfigError(
      `retry.maxBackoffMs: expected >= initialBackoffMs (${o.initialBackoffMs}), got ${o.maxBackoffMs}`,
    );
  }
  if (!Number.isFinite(o.multiplier) || o.multiplier < 1) {
    throw new ConfigError(`retry.multiplier: expected a finite number >= 1, got ${o.multiplier}`);
  }
  if (typeof o.jitter !== 'boolean') {
    throw new ConfigError(`retry.jitter: expected true or false, got ${String(o.jitter)}`);
  }
}
