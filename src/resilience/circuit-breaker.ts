// Shared by all sink workers: after `failureThreshold` consecutive failed writes the
// database is left alone for `openMs`, then exactly one probe batch is let through; its
// outcome closes the circuit or opens it for another `openMs`.
import { ConfigError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface TransitionInfo {
  /** Clock time of the transition. */
  readonly at: number;
  /** Consecutive failures counted when the transition happened. */
  readonly consecutiveFailures: number;
}

export interface CircuitBreakerOptions {
  readonly failureThreshold: number;
  readonly openMs: number;
  readonly clock: Clock;
  readonly onTransition?: (from: CircuitState, to: CircuitState, info: TransitionInfo) => void;
}

const STATE_CODES: Readonly<Record<CircuitState, number>> = { closed: 0, open: 1, half_open: 2 };

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  /** Callers waiting for the probe's verdict; settled by onSuccess/onFailure. */
  private probeWaiters: (() => void)[] = [];

  constructor(private readonly o: CircuitBreakerOptions) {
    if (!Number.isInteger(o.failureThreshold) || o.failureThreshold < 1) {
      throw new ConfigError(`breaker.failureThreshold: expected an integer >= 1, got ${o.failureThreshold}`);
    }
    if (!Number.isFinite(o.openMs) || o.openMs < 0) {
      throw new ConfigError(`breaker.openMs: expected a finite number >= 0, got ${o.openMs}`);
    }
  }

  get state(): CircuitState {
    return this.current;
  }

  /** 0 closed, 1 open, 2 half-open: the value of the circuit-state gauge. */
  get stateCode(): number {
    return STATE_CODES[this.current];
  }

  /**
   * May the caller attempt a write now? Closed: yes. Open: no, until openMs have passed;
   * then this caller becomes the single probe (half-open) and gets yes. Half-open: no,
   * the probe is in flight. A caller that got `true` must report onSuccess or onFailure.
   */
  tryAcquire(): boolean {
    switch (this.current) {
      case 'closed':
        return true;
      case 'open':
        if (this.msUntilProbe() > 0) return false;
        this.transition('half_open');
        return true;
      case 'half_open':
        return false;
    }
  }

  onSuccess(): void {
    // While open, results of writes started before the circuit opened are stale: they
    // neither close it early nor extend the wait.
    if (this.current === 'open') return;
    this.failures = 0;
    if (this.current === 'half_open') this.transition('closed');
  }

  onFailure(): void {
    if (this.current === 'open') return;
    this.failures++;
    if (this.current === 'half_open' || this.failures >= this.o.failureThreshold) {
      this.openedAt = this.o.clock.now();
      this.transition('open');
    }
  }

  /**
   * 0 when a caller may try now (closed, or open with the wait over); the remaining wait
   * while open; Infinity while half-open, since that depends on the probe in flight.
   */
  msUntilProbe(): number {
    switch (this.current) {
      case 'closed':
        return 0;
      case 'open':
        return Math.max(0, this.openedAt + this.o.openMs - this.o.clock.now());
      case 'half_open':
        return Number.POSITIVE_INFINITY;
    }
  }

  /**
   * Waits (on the clock or on the probe's verdict, never polling) until tryAcquire() is
   * worth calling again, or until the signal aborts. Returning does not reserve the probe:
   * several waiters may wake together and only one of them will acquire it.
   */
  async waitUntilProbe(signal?: AbortSignal): Promise<void> {
    while (signal?.aborted !== true) {
      if (this.current === 'closed') return;
      if (this.current === 'open') {
        const ms = this.msUntilProbe();
        if (ms > 0) await this.o.clock.sleep(ms, signal);
        return;
      }
      await this.probeSettled(signal);
    }
  }

  private probeSettled(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onAbort = (): void => {
        this.probeWaiters = this.probeWaiters.filter((w) => w !== wake);
        resolve();
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.probeWaiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    this.current = to;
    if (from === 'half_open') {
      const waiters = this.probeWaiters;
      this.probeWaiters = [];
      for (const w of waiters) w();
    }
    this.o.onTransition?.(from, to, { at: this.o.clock.now(), consecutiveFailures: this.failures });
  }
}
