// The replay's rate limit: a token bucket read against an injected clock, so its timing is
// tested in milliseconds of real time.
import type { Clock } from '../core/clock.js';

/**
 * Token bucket: `rate` tokens per second, at most `burst` stored. `take` answers how long to
 * wait instead of sleeping, so the caller can send what it holds before it waits.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly burst = Math.max(1, rate),
  ) {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`rate: expected a number > 0, got ${rate}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes one token and returns 0, or returns the ms until one is available (nothing taken). */
  take(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}
