// Time as an injected dependency: the queue, retry and breaker logic read `now()` and wait
// with `sleep()` so unit tests drive them with a fake clock instead of real time.

export interface Clock {
  /** Milliseconds since the epoch (or since the fake clock's start). */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. On abort it resolves early instead of rejecting:
   * every caller re-checks its own state after a wait anyway (is the signal aborted? is
   * there work?), and a rejection would force a try/catch around each wait for no gain.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // Not unref'd: a pending retry or flush is work the process must finish.
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};
