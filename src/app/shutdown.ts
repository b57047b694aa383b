// The sink's stop, in one order: stop fetching → the drain, bounded by shutdown.timeoutMs →
// close the overflow gate → stop the workers (bounded) → the last Kafka commit (bounded by
// what is left of the deadline, at least stopStepMs) → release everything, newest first.
// The gate closes after the drain, which may still need its DLQ writes, and before the
// workers stop, so none is left waiting on a write that will not be retried. `done` settles
// once, when the sequence ends: rejected with the fatal error that started it, or with
// SHUTDOWN_TIMED_OUT when the drain ran out of time.
import type { Logger } from 'pino';
import { SinkError } from '../core/errors.js';
import { settlesWithin } from '../util/bounded-wait.js';
import type { Clock } from '../core/clock.js';

export interface ShutdownSteps {
  stopFetching(): void;
  /** Write what is queued; ends when every worker is idle. */
  drain(): Promise<unknown>;
  closeGate(): void;
  /** Ends retries and waits, closes the connections: an open transaction is rolled back. */
  stopWorkers(): Promise<unknown>;
  /** Commits to Kafka the offsets PostgreSQL holds. */
  closeCommitter(): Promise<unknown>;
  releaseAll(): Promise<void>;
  /** Fields for the final log line. */
  summary(): Record<string, unknown>;
}

export interface ShutdownOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly stopStepMs: number;
}

export class Shutdown {
  private stopping = false;
  private fatalError: Error | null = null;
  private running: Promise<void> | null = null;
  private steps: ShutdownSteps | null = null;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  /** Settles when the member has stopped; rejects when a fatal error or the deadline stopped it. */
  readonly done: Promise<void>;

  constructor(private readonly o: ShutdownOptions) {
    this.done = new Promise<void>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    this.done.catch(() => undefined); // observed by the caller; avoid an unhandled rejection here
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  get fatal(): Error | null {
    return this.fatalError;
  }

  /** The steps, once every component exists; a failure reported earlier stops at once. */
  attach(steps: ShutdownSteps): void {
    this.steps = steps;
    if (this.fatalError !== null) void this.run(false, this.fatalError);
  }

  /** Graceful (drain) or immediate; the first call decides, later ones share its promise. */
  stop(drain: boolean): Promise<void> {
    return this.run(drain, null);
  }

  /** A fatal error: the member stops without draining and `done` rejects with it. */
  fail(e: Error): void {
    if (this.fatalError !== null) return;
    this.fatalError = e;
    this.o.log.error({ err: e }, `stopping: ${e.message}`);
    if (this.steps !== null) void this.run(false, e);
  }

  private run(drain: boolean, reason: Error | null): Promise<void> {
    const steps = this.steps;
    if (steps === null) return Promise.reject(new Error('shutdown: stop() before the sink was wired'));
    this.running ??= this.sequence(steps, drain, reason);
    return this.running;
  }

  private async sequence(steps: ShutdownSteps, drain: boolean, reason: Error | null): Promise<void> {
    const { clock, log, timeoutMs, stopStepMs } = this.o;
    this.stopping = true;
    steps.stopFetching();
    const started = clock.now();
    let timedOut = false;
    if (drain) {
      // Retries, backoff and breaker waits included: a database that is down keeps the
      // workers retrying until they are stopped.
      timedOut = !(await settlesWithin(steps.drain(), timeoutMs, clock));
      if (timedOut)
        log.warn(
          { timeoutMs },
          'drain did not finish in time: open transactions are rolled back, the rest is re-read later',
        );
    }
    steps.closeGate();
    if (!(await settlesWithin(steps.stopWorkers(), stopStepMs, clock)))
      log.warn('workers did not stop in time; leaving the group regardless');
    // Nothing else is committed anywhere after this.
    if (drain) {
      const left = started + timeoutMs - clock.now();
      await settlesWithin(steps.closeCommitter(), Math.max(stopStepMs, left), clock);
    }
    await steps.releaseAll();
    log.info(
      { drained: drain && !timedOut, ms: clock.now() - started, ...steps.summary() },
      'market-data-sink stopped',
    );
    if (reason !== null) this.rejectDone(reason);
    else if (timedOut)
      this.rejectDone(
        new SinkError(
          'SHUTDOWN_TIMED_OUT',
          `the drain did not finish within SHUTDOWN_TIMEOUT_MS (${timeoutMs} ms); uncommitted records are re-read on restart`,
        ),
      );
    else this.resolveDone();
  }
}
