// Group commit across the worker pool: how many batch writes are in flight right now, and a
// wait for the next one to end. A worker whose batch is small waits here while another write
// is in flight (its batch grows meanwhile) instead of sending a second small transaction;
// with none in flight it writes at once. One instance is shared by all workers of a sink.
import { waitOn, wakeAll } from '../util/waiters.js';

export class WritesInFlight {
  private n = 0;
  private readonly waiters = new Set<() => void>();

  get count(): number {
    return this.n;
  }

  begin(): void {
    this.n++;
  }

  end(): void {
    if (this.n === 0) throw new RangeError('WritesInFlight.end: no write in flight');
    this.n--;
    if (this.waiters.size > 0) wakeAll(this.waiters);
  }

  /** Resolves when a write in flight ends (at once if none is), or when the signal aborts. */
  waitForEnd(signal?: AbortSignal): Promise<void> {
    if (this.n === 0 || signal?.aborted === true) return Promise.resolve();
    return waitOn(this.waiters, signal);
  }
}
