// Hands batches from a KafkaJS eachBatch callback to a pulling loop one at a time: eachBatch
// waits until the loop asks for the next batch, so offsets are only resolved and committed
// for records the loop has finished.
import { systemClock, type Clock } from '../../core/clock.js';

export class Handoff<T> {
  private item: { value: T; release: () => void } | undefined;
  /** Aborted to wake a waiting `next` early. */
  private wake: AbortController | undefined;
  private ended = false;
  private error: Error | undefined;
  private releaseCurrent: (() => void) | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  /** Offers `value` to the loop; resolves once the loop is done with it (or the handoff ends). */
  push(value: T): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((release) => {
      this.item = { value, release };
      this.poke();
    });
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  fail(e: Error): void {
    this.error ??= e;
    this.end();
  }

  /** Wakes a waiting `next` so it re-evaluates its wait policy. */
  poke(): void {
    this.wake?.abort();
  }

  /**
   * Releases the batch handed out last (the loop is done with it) and waits for the next.
   * `policy` says how much longer to wait (ms), to stop (null) or to fail (an Error).
   */
  async next(policy: () => number | null | Error): Promise<T | undefined> {
    this.releaseCurrent?.();
    this.releaseCurrent = undefined;
    for (;;) {
      if (this.error !== undefined) throw this.error;
      if (this.item !== undefined) {
        const { value, release } = this.item;
        this.item = undefined;
        this.releaseCurrent = release;
        return value;
      }
      if (this.ended) return undefined;
      const wait = policy();
      if (wait instanceof Error) throw wait;
      if (wait === null) return undefined;
      this.wake = new AbortController();
      await this.clock.sleep(wait, this.wake.signal);
      this.wake = undefined;
    }
  }

  /** Ends the handoff and lets every waiting eachBatch return. */
  close(): void {
    this.ended = true;
    this.releaseCurrent?.();
    this.releaseCurrent = undefined;
    this.item?.release();
    this.item = undefined;
    this.poke();
  }
}
