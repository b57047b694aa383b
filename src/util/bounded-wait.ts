// Bounds for waits that cannot be cancelled themselves (a KafkaJS join, a pg connect, a
// drain): the caller stops waiting while the work goes on, and whatever the work still
// produces is cleaned up instead of leaking.
import { AbortedError, toError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';

/**
 * Settles as `work` does, or rejects with AbortedError(`what`) as soon as `signal` aborts
 * (at once if it already has). A value `work` yields after that goes to `dispose` (release
 * a pool client, say); its later failure is swallowed, nobody waits for it any more.
 */
export function unlessAborted<T>(
  what: string,
  work: Promise<T>,
  signal: AbortSignal | undefined,
  dispose?: (value: T) => unknown,
): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let abandoned = false;
    const onAbort = (): void => {
      abandoned = true;
      reject(new AbortedError(what));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (!abandoned) resolve(value);
        else if (dispose !== undefined)
          void Promise.resolve(value)
            .then(dispose)
            .catch(() => undefined);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!abandoned) reject(toError(e));
      },
    );
  });
}

/** True when `work` settled (resolved or rejected) within `ms`; false when time ran out first. */
export async function settlesWithin(work: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  const timer = new AbortController();
  const settled = work.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, clock.sleep(ms, timer.signal).then(() => false)]);
  } finally {
    timer.abort();
  }
}
