// The wake-up primitive behind the pipeline's and sink's waits (queue lanes, idle workers,
// writes in flight): a set of parked resolvers that one event wakes together. A pending wait
// costs nothing until then, so idle workers do not spin; an abort signal ends it early.

export function wakeAll(waiters: Set<() => void>): void {
  const all = [...waiters];
  waiters.clear();
  for (const w of all) w();
}

/** A promise resolved by the next wakeAll(waiters) or by the signal, whichever comes first. */
export function waitOn(waiters: Set<() => void>, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const onAbort = (): void => {
      waiters.delete(wake);
      resolve();
    };
    const wake = (): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    waiters.add(wake);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
