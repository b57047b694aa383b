// One writer: claims a queue lane (the partitions hashed to it; while claimed, no other
// worker takes from it, so a partition's records are written in offset order), writes a
// batch from it with retry and the shared circuit breaker, reports it, gives the lane back.
// The classifier's verdict decides a failure's fate: transient ones are retried behind the
// breaker; undecided ones are retried, then isolated by the writer on the last quick attempt
// (or the breaker's probe); what isolation cannot pin on records is the environment's: the
// batch waits behind the breaker and the hook reports the SQLSTATE until a write succeeds.
// Waiting is always on a promise (new records, a timer, the breaker), never a polling loop.
import type { Logger } from 'pino';
import type { BoundedQueue } from '../pipeline/bounded-queue.js';
import type { SinkRecord } from '../core/sink-record.js';
import type { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { RetryPolicy } from '../resilience/retry-policy.js';
import { classifyError, type Classified } from '../resilience/classify-error.js';
import type { Clock } from '../core/clock.js';
import type { BatchResult, BatchWriter } from './batch-writer.js';
import type { SinkConnection } from './sink-connection.js';
import type { LaneInbox } from './lane-inbox.js';
import type { WritesInFlight } from './writes-in-flight.js';
import type { PartitionOffset } from '../core/sink-record.js';
import { toError } from '../core/errors.js';

export interface WorkerHooks {
  /** After the batch's transaction committed (rows and offsets durable). */
  onCommitted(result: BatchResult, batch: readonly SinkRecord[], writeMs: number, workerId: number): void;
  /** After offsets of records handled elsewhere (dropped to the DLQ) were committed. */
  onOffsetsAdvanced(offsets: readonly PartitionOffset[], workerId: number): void;
  /**
   * After a failed attempt (it will be retried), with the verdict acted on and the records it
   * tried to write (none when it only advanced offsets).
   */
  onAttemptFailed(error: Classified, attempt: number, workerId: number, batch: readonly SinkRecord[]): void;
  /**
   * The environment holds this worker's writes (`error`), or no longer does (null, after
   * the next write that succeeded).
   */
  onEnvironment(error: Classified | null, workerId: number): void;
}

export interface SinkWorkerOptions {
  readonly id: number;
  readonly queue: BoundedQueue<SinkRecord>;
  /** Offsets of records already in the DLQ (drop_oldest), shared by all workers. */
  readonly inbox: LaneInbox;
  readonly writer: BatchWriter;
  readonly breaker: CircuitBreaker;
  readonly retry: RetryPolicy;
  readonly clock: Clock;
  readonly openConnection: () => Promise<SinkConnection>;
  readonly batchSize: number;
  /** A backlog is taken up to this many records at once (>= batchSize). */
  readonly maxBatchSize: number;
  /** Upper bound on how long a batch under batchSize waits for another worker's write to end. */
  readonly flushIntervalMs: number;
  /** Batch writes in flight across the pool (shared by all workers): group commit. */
  readonly writes: WritesInFlight;
  readonly hooks: WorkerHooks;
  readonly log: Logger;
}

export class SinkWorker {
  private conn: SinkConnection | null = null;
  private draining = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  /** Aborted by drain()/stop() to wake an idle wait. */
  private idle = new AbortController();
  private alive = false;

  constructor(private readonly o: SinkWorkerOptions) {}

  get isAlive(): boolean {
    return this.alive;
  }

  start(): void {
    if (this.running !== null) return;
    this.alive = true;
    this.running = this.loop()
      .catch((e: unknown) => {
        this.o.log.error({ err: toError(e) }, 'sink worker crashed');
        throw e;
      })
      .finally(() => {
        this.alive = false;
      });
  }

  /** Resolves when the loop has ended; rejects if the worker crashed. */
  get done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Write what is queued without waiting for the flush interval, then stop. */
  async drain(): Promise<void> {
    this.draining = true;
    this.idle.abort();
    await this.done;
  }

  /** Stop now: abandon waits and retries; the open batch is not committed (it is re-read). */
  async stop(): Promise<void> {
    this.draining = true;
    this.abort.abort();
    this.idle.abort();
    // Closed before the loop ends, not after: a statement in flight (a slow or hung
    // database) then fails now, and its transaction is rolled back, instead of being waited for.
    const closing = this.conn?.close();
    await this.done.catch(() => undefined);
    await closing;
    await this.conn?.close(); // one opened while we waited
    this.conn = null;
  }

  private async loop(): Promise<void> {
    const { queue, inbox, id } = this.o;
    const signal = this.abort.signal;
    signal.addEventListener('abort', () => this.idle.abort(), { once: true });
    for (;;) {
      if (signal.aborted) return;
      // Dropped records' offsets go first, by whoever can hold their lane: holding it means
      // every older record of those partitions is already written (none is in flight).
      const inboxLane = inbox.lanes().find((l) => queue.claim(l));
      if (inboxLane !== undefined) {
        const offsets = inbox.take(inboxLane);
        let done = false;
        try {
          done = await this.withRetry([], async (conn) => {
            const advanced = await this.o.writer.advance(conn, offsets);
            this.o.hooks.onOffsetsAdvanced(advanced, id);
          });
        } finally {
          if (done) queue.unclaim(inboxLane);
          else inbox.add(inboxLane, offsets); // the lane stays held, like an abandoned batch's
        }
        continue;
      }
      const lanes: number[] = [];
      let committed = false;
      try {
        const batch = await this.collect(lanes);
        if (lanes.length === 0) {
          if (this.draining) return;
          this.idle = new AbortController();
          await queue.waitForWork(this.idle.signal);
          continue;
        }
        let bytes = 0;
        for (const r of batch) bytes += r.bytes;
        try {
          committed = await this.writeWithRetry(batch);
        } finally {
          // Abandoned batches are released too: their records are re-read after restart.
          queue.release(batch.length, bytes);
        }
      } finally {
        // A batch that was not committed (stop, crash) keeps its lanes held, so no other
        // worker writes those partitions past it and moves their offsets over it.
        if (committed) for (const l of lanes) queue.unclaim(l);
      }
    }
  }

  /**
   * Claims lanes into `lanes` and takes their records: the lane waiting longest first, up to
   * maxBatchSize; while that is under batchSize, further waiting lanes join the batch. Group
   * commit: a batch under batchSize goes at once when no other write is in flight (an idle
   * pool adds no latency); while one is, it waits for that write to end and grows meanwhile,
   * at most flushIntervalMs after its first record arrived. A backlog thus goes out in few
   * large transactions, light load in small ones without a fixed linger, and lanes that keep
   * up share one transaction. Claims nothing and returns [] when no lane is waiting.
   */
  private async collect(lanes: number[]): Promise<SinkRecord[]> {
    const { queue, batchSize, maxBatchSize, flushIntervalMs, clock, writes } = this.o;
    const batch: SinkRecord[] = [];
    const fill = (limit: number): void => {
      for (const l of lanes) for (const r of queue.take(l, limit - batch.length)) batch.push(r);
      while (batch.length < limit) {
        const l = queue.claimNext();
        if (l < 0) break;
        lanes.push(l);
        for (const r of queue.take(l, limit - batch.length)) batch.push(r);
      }
    };
    fill(Math.max(batchSize, maxBatchSize));
    const first = batch[0];
    if (first === undefined) return batch;
    const deadline = first.enqueuedAt + flushIntervalMs;
    while (batch.length < batchSize && writes.count > 0 && !this.draining && !this.abort.signal.aborted) {
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      const wait = new AbortController();
      const onAbort = (): void => wait.abort();
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      await Promise.race([
        writes.waitForEnd(wait.signal),
        queue.waitForWork(wait.signal),
        ...lanes.map((l) => queue.waitForItems(l, wait.signal)),
        clock.sleep(remaining, wait.signal),
      ]);
      wait.abort();
      this.abort.signal.removeEventListener('abort', onAbort);
      fill(batchSize);
    }
    return batch;
  }

  private async writeWithRetry(batch: readonly SinkRecord[]): Promise<boolean> {
    const { clock, writer, hooks, id, writes } = this.o;
    writes.begin();
    try {
      return await this.withRetry(batch, async (conn, attempt, decide) => {
        const started = clock.now();
        const result = await writer.write(conn, batch, attempt, decide);
        hooks.onCommitted(result, batch, clock.now() - started, id);
      });
    } finally {
      writes.end();
    }
  }

  /**
   * Runs `work` until it succeeds (true) or the worker is stopped (false), with backoff and
   * the breaker. `decide` tells `work` that this attempt may isolate any non-transient
   * failure: the last of the quick attempts, and the breaker's probe. A non-transient error
   * that still escapes it, or that comes before any batch is written (opening the
   * connection), is not bound to records: it is the environment.
   */
  private async withRetry(
    batch: readonly SinkRecord[],
    work: (conn: SinkConnection, attempt: number, decide: boolean) => Promise<void>,
  ): Promise<boolean> {
    const { breaker, retry, clock, hooks, id, log } = this.o;
    const { maxAttempts } = retry;
    const signal = this.abort.signal;
    let attempt = 0;
    let held = false;
    while (!signal.aborted) {
      if (!breaker.tryAcquire()) {
        await breaker.waitUntilProbe(signal);
        continue;
      }
      attempt++;
      // A half-open breaker let exactly this attempt through: its verdict must be conclusive.
      const decide = attempt >= maxAttempts || breaker.state === 'half_open';
      let connected = this.conn !== null;
      try {
        this.conn ??= await this.o.openConnection();
        connected = true;
        await work(this.conn, attempt, decide);
        breaker.onSuccess();
        if (held) hooks.onEnvironment(null, id);
        return true;
      } catch (e) {
        const c = verdict(classifyError(e), decide || !connected);
        // Transient and environment failures are the database's: they count against the
        // breaker. An undecided one may be one record's; it must not stop every worker.
        if (c.kind === 'transient' || c.kind === 'environment') breaker.onFailure();
        if (c.kind === 'environment') {
          held = true;
          hooks.onEnvironment(c, id);
        }
        await this.conn?.close();
        this.conn = null;
        hooks.onAttemptFailed(c, attempt, id, batch);
        const fields = { code: c.code, kind: c.kind, sqlState: c.sqlState, attempt };
        if (c.kind === 'environment') {
          log.error(
            fields,
            `database refuses the batch, not its records: ${c.message}; waiting behind the breaker`,
          );
        } else if (attempt === maxAttempts) {
          log.error(
            fields,
            `batch still failing after ${attempt} attempts: ${c.message}; retrying at the breaker's pace`,
          );
        } else {
          log.warn(fields, `batch write failed: ${c.message}`);
        }
        await clock.sleep(retry.backoffMs(Math.min(attempt, maxAttempts)), signal);
      }
    }
    return false;
  }
}

/** A non-transient failure left once isolation was allowed (`decided`) is the environment's. */
function verdict(c: Classified, decided: boolean): Classified {
  return decided && c.kind !== 'transient' ? { ...c, kind: 'environment' } : c;
}
