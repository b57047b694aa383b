// The fixed intervals and bounds of the wiring, in one place. Settings an operator may
// want to change live in the config schema instead.

/** Queue lanes partitions are hashed to (at least one per worker). */
export const QUEUE_LANES = 64;

/**
 * Stopping the workers gets this long, and the last Kafka commit at least this long (more
 * if the drain left time): both usually take milliseconds, but a hung database or broker
 * must not hold the exit.
 */
export const STOP_STEP_MS = 1000;

/** Kafka offset commits: at most one per interval, retried with backoff, each attempt bounded. */
export const KAFKA_COMMIT = {
  intervalMs: 200,
  maxBackoffMs: 5000,
  attemptTimeoutMs: 10_000,
  /** close() gets at most this long (less if shutdown.timeoutMs is shorter). */
  closeTimeoutMs: 5000,
  warnEveryMs: 30_000,
} as const;

/** How often partition high watermarks are read from the broker for the lag gauge. */
export const WATERMARK_POLL_MS = 5000;
