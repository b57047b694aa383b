// A Clock whose time moves only when a test calls advance(): sleepers wake in due-time
// order, and the code they resume runs before the next one wakes, so chained sleeps
// (sleep → work → sleep) behave as they would on the real clock, in no real time.
import type { Clock } from '../../src/core/clock.js';

interface Sleeper {
  readonly due: number;
  readonly seq: number;
  readonly wake: () => void;
}

/** Lets every queued microtask (and what they chain) run; no timer, no real delay. */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly sleepers = new Set<Sleeper>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onAbort = (): void => {
        this.sleepers.delete(sleeper);
        resolve();
      };
      const sleeper: Sleeper = {
        due: this.t + ms,
        seq: this.seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Moves time forward by `ms`, waking each sleeper due by then at its own due time, in
   * (due, registration) order, and letting the woken code run before the next wake-up.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance: expected ms >= 0, got ${ms}`);
    const target = this.t + ms;
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.due > target) break;
      this.sleepers.delete(next);
      this.t = next.due;
      next.wake();
      await flushMicrotasks();
    }
    this.t = target;
    await flushMicrotasks();
  }

  /** How many sleeps are waiting (aborted and woken ones are gone). */
  pendingSleepers(): number {
    return this.sleepers.size;
  }

  private earliest(): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.sleepers) {
      if (best === undefined || s.due < best.due || (s.due === best.due && s.seq < best.seq)) best = s;
    }
    return best;
  }
}
