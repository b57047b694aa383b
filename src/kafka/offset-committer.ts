// Mirrors the offsets committed in PostgreSQL to Kafka, for lag tooling and fast restarts.
// PostgreSQL's sink_offsets is the truth and the mirror is idempotent, so a commit that fails
// (coordinator moved, rebalance, broker away, missing ACL) is kept and retried with backoff
// until Kafka holds the newest offset of every owned partition; each attempt is bounded in
// time. Commits are coalesced (at most one OffsetCommit per interval), failures are counted
// and warned about at most once per warnEveryMs, and close() commits what is left, bounded.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { tpKey } from '../core/sink-record.js';
import { classifyError } from '../resilience/classify-error.js';
import { KafkaError, toError } from '../core/errors.js';
import type { PartitionOffset } from '../core/sink-record.js';

export interface CommitTarget {
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  owns(topic: string, partition: number): boolean;
}

export interface OffsetCommitterOptions {
  readonly target: CommitTarget;
  readonly clock: Clock;
  readonly log: Logger;
  /** Offsets arriving within this window go out in one commit; also the first retry delay. */
  readonly intervalMs: number;
  /** Cap of the retry delay, which doubles from intervalMs. */
  readonly maxBackoffMs: number;
  /** One commit that has not answered by then counts as failed (reason `timeout`). */
  readonly attemptTimeoutMs: number;
  /** close() stops retrying after this long. */
  readonly closeTimeoutMs: number;
  /** At most one warning per this many ms while commits fail. */
  readonly warnEveryMs: number;
  readonly onCommitted?: (offsets: readonly PartitionOffset[], ms: number) => void;
  readonly onFailed?: (reason: string) => void;
}

const TIMEOUT = Symbol('timeout');

export class OffsetCommitter {
  /** Newest offset per partition not yet known to be in Kafka. */
  private readonly pending = new Map<string, PartitionOffset>();
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** A commit that timed out may still be in flight; the next one waits for it (bounded). */
  private inFlight: Promise<unknown> = Promise.resolve();
  private readonly abort = new AbortController();
  private closing: Promise<void> | null = null;
  private failuresSinceWarn = 0;
  private failing = false;
  private lastWarnAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: OffsetCommitterOptions) {}

  /** Offsets now stored in PostgreSQL; keeps the newest per partition. */
  add(offsets: readonly PartitionOffset[]): void {
    for (const o of offsets) {
      const k = tpKey(o.topic, o.partition);
      const cur = this.pending.get(k);
      if (cur === undefined || cur.nextOffset < o.nextOffset) this.pending.set(k, o);
    }
    if (!this.running && this.closing === null && this.pending.size > 0) {
      this.running = true;
      this.loopDone = this.loop();
    }
  }

  /** Drops pending commits of partitions this member no longer owns (their new owner commits). */
  forget(parts: readonly { topic: string; partition: number }[]): void {
    for (const p of parts) this.pending.delete(tpKey(p.topic, p.partition));
  }

  /** Offsets waiting for Kafka (for tests and health). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Stops retrying, then commits what is pending, for at most closeTimeoutMs. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort();
      await this.loopDone;
      const deadline = this.o.clock.now() + this.o.closeTimeoutMs;
      for (let attempt = 1; this.pending.size > 0; attempt++) {
        const left = deadline - this.o.clock.now();
        if (left <= 0) break;
        if (await this.commitOnce(Math.min(this.o.attemptTimeoutMs, left))) continue;
        await this.o.clock.sleep(Math.min(this.backoffMs(attempt), deadline - this.o.clock.now()));
      }
      if (this.pending.size > 0) {
        this.o.log.warn(
          { partitions: this.pending.size, timeoutMs: this.o.closeTimeoutMs },
          'stopping with Kafka offsets behind PostgreSQL; the next owner seeks to the offsets stored in PostgreSQL',
        );
      }
    })();
    return this.closing;
  }

  /** Stops at once, committing nothing more (kill). */
  abandon(): void {
    this.closing ??= Promise.resolve();
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    try {
      let failures = 0;
      while (this.pending.size > 0 && !signal.aborted) {
        await this.o.clock.sleep(failures === 0 ? this.o.intervalMs : this.backoffMs(failures), signal);
        if (signal.aborted) break;
        failures = (await this.commitOnce(this.o.attemptTimeoutMs)) ? 0 : failures + 1;
      }
    } finally {
      // Same turn as the loop's exit: an add() after this starts a new loop.
      this.running = false;
    }
  }

  private backoffMs(failures: number): number {
    return Math.min(this.o.maxBackoffMs, this.o.intervalMs * 2 ** Math.min(failures, 20));
  }

  /** One commit of every pending offset of an owned partition; true when nothing is left to retry. */
  private async commitOnce(timeoutMs: number): Promise<boolean> {
    const { target, clock } = this.o;
    const batch: PartitionOffset[] = [];
    for (const [k, o] of this.pending) {
      if (target.owns(o.topic, o.partition)) batch.push(o);
      else this.pending.delete(k); // not ours (any more): its owner commits it
    }
    if (batch.length === 0) return true;
    const wait = new AbortController();
    const started = clock.now();
    try {
      await Promise.race([this.inFlight, clock.sleep(timeoutMs, wait.signal)]);
      const commit = target.commitOffsets(
        batch.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.nextOffset) })),
      );
      this.inFlight = commit.catch(() => undefined);
      const outcome = await Promise.race([
        commit,
        clock.sleep(Math.max(0, timeoutMs - (clock.now() - started)), wait.signal).then(() => TIMEOUT),
      ]);
      if (outcome === TIMEOUT) {
        throw new KafkaError('COMMIT_TIMEOUT', `Kafka offset commit: no answer within ${timeoutMs} ms`, true);
      }
      for (const o of batch) {
        const k = tpKey(o.topic, o.partition);
        if (this.pending.get(k) === o) this.pending.delete(k); // unless a newer one arrived
      }
      this.o.onCommitted?.(batch, clock.now() - started);
      if (this.failing) {
        this.failing = false;
        this.o.log.info('Kafka offset commits succeed again');
      }
      return true;
    } catch (e) {
      this.failed(classifyError(e).code, e, batch.length);
      return false;
    } finally {
      wait.abort();
    }
  }

  private failed(reason: string, e: unknown, partitions: number): void {
    this.o.onFailed?.(reason);
    this.failing = true;
    this.failuresSinceWarn++;
    const now = this.o.clock.now();
    if (now - this.lastWarnAt >= this.o.warnEveryMs) {
      this.o.log.warn(
        { err: toError(e), reason, partitions, failures: this.failuresSinceWarn },
        `Kafka offset commit failed (${reason}); retrying until Kafka holds PostgreSQL's offsets`,
      );
      this.lastWarnAt = now;
      this.failuresSinceWarn = 0;
    } else {
      this.o.log.debug({ err: toError(e), reason }, 'Kafka offset commit failed; retrying');
    }
  }
}
