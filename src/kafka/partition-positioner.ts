// Positions newly assigned partitions before anything of them is queued: the consumer keeps
// them paused from the group-join event on, this reads their next offsets from PostgreSQL
// (the truth, whether Kafka's committed offset is behind, ahead or gone), seeks there and
// only then lets the consumer fetch them. A failed read is retried with backoff while the
// partitions stay paused (fetching blindly could skip records); a read that hangs counts
// as failed after readTimeoutMs; close() ends the wait.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { tpKey } from '../core/sink-record.js';
import { DatabaseError, toError } from '../core/errors.js';
import type { TopicPartition } from './assignment.js';

export interface PositionerTarget {
  /** Still assigned to this member (a read can outlive the assignment it was made for). */
  owns(topic: string, partition: number): boolean;
  /** Make the next fetch of this partition start at `offset`. */
  seek(topic: string, partition: number, offset: number): void;
  /** The partition is positioned: `nextOffset` null means nothing is stored, Kafka decides. */
  positioned(topic: string, partition: number, nextOffset: number | null): void;
  /** Fetching of these positioned partitions may start. */
  release(partitions: readonly TopicPartition[]): void;
}

export interface PositionerOptions {
  /** next_offset per "topic/partition" key (tpKey) for the partitions that have one. */
  readonly read: (partitions: readonly TopicPartition[]) => Promise<ReadonlyMap<string, number>>;
  readonly target: PositionerTarget;
  readonly clock: Clock;
  readonly log: Logger;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A read not answered by then is abandoned and retried (default 10 s). */
  readonly readTimeoutMs?: number;
}

/** One assignment of a partition; a re-assignment is a new entry, so a stale read skips it. */
interface Pending {
  readonly tp: TopicPartition;
}

export class PartitionPositioner {
  private readonly pending = new Map<string, Pending>();
  private running = false;
  private readonly abort = new AbortController();

  constructor(private readonly o: PositionerOptions) {}

  /** Newly assigned partitions, already paused by the caller: position them. */
  add(partitions: readonly TopicPartition[]): void {
    if (this.abort.signal.aborted) return;
    for (const tp of partitions) this.pending.set(tpKey(tp.topic, tp.partition), { tp });
    if (this.running) return;
    this.running = true;
    void this.run()
      .catch((e: unknown) => this.o.log.error({ err: toError(e) }, 'positioning partitions failed'))
      .finally(() => {
        this.running = false;
      });
  }

  /** Revoked partitions: a read in flight no longer positions them. */
  revoke(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.pending.delete(tpKey(tp.topic, tp.partition));
  }

  isPending(topic: string, partition: number): boolean {
    return this.pending.has(tpKey(topic, partition));
  }

  /** The partitions still waiting for their position (to keep paused). */
  waiting(): TopicPartition[] {
    return [...this.pending.values()].map((p) => p.tp);
  }

  /**
   * Ends the wait (stop): partitions not positioned yet stay paused. Idempotent, and does
   * not wait for a read in flight (a hung database must not hold a stop): its answer is
   * ignored.
   */
  close(): void {
    this.abort.abort();
    this.pending.clear();
  }

  private async run(): Promise<void> {
    const initial = this.o.initialBackoffMs ?? 200;
    const max = this.o.maxBackoffMs ?? 5000;
    let backoff = initial;
    let failures = 0;
    while (this.pending.size > 0 && !this.abort.signal.aborted) {
      const batch = [...this.pending];
      let stored: ReadonlyMap<string, number>;
      try {
        stored = await this.readBounded(batch.map(([, p]) => p.tp));
      } catch (e) {
        failures++;
        this.o.log.warn(
          { err: toError(e), partitions: batch.length, failures, retryInMs: backoff },
          'could not read the offsets stored in PostgreSQL; the new partitions stay paused',
        );
        await this.o.clock.sleep(backoff, this.abort.signal);
        backoff = Math.min(max, backoff * 2);
        continue;
      }
      backoff = initial;
      if (this.abort.signal.aborted) return;
      this.apply(batch, stored);
    }
  }

  /** The read, abandoned (rejected) after readTimeoutMs or on close(). */
  private async readBounded(partitions: readonly TopicPartition[]): Promise<ReadonlyMap<string, number>> {
    const timeoutMs = this.o.readTimeoutMs ?? 10_000;
    const timer = new AbortController();
    const stop = (): void => timer.abort();
    this.abort.signal.addEventListener('abort', stop, { once: true });
    try {
      return await Promise.race([
        this.o.read(partitions),
        this.o.clock.sleep(timeoutMs, timer.signal).then((): never => {
          throw new DatabaseError(
            'OFFSET_READ_TIMEOUT',
            `reading sink_offsets for ${partitions.length} partition(s): no answer within ${timeoutMs} ms`,
            true,
          );
        }),
      ]);
    } finally {
      timer.abort();
      this.abort.signal.removeEventListener('abort', stop);
    }
  }

  private apply(batch: readonly [string, Pending][], stored: ReadonlyMap<string, number>): void {
    const { target } = this.o;
    const released: TopicPartition[] = [];
    const sought: { partition: number; offset: number }[] = [];
    for (const [k, p] of batch) {
      // Revoked, or revoked and assigned again (the next round reads it afresh).
      if (this.pending.get(k) !== p) continue;
      this.pending.delete(k);
      const { topic, partition } = p.tp;
      if (!target.owns(topic, partition)) continue;
      const next = stored.get(k) ?? null;
      target.positioned(topic, partition, next);
      if (next !== null) {
        target.seek(topic, partition, next);
        sought.push({ partition, offset: next });
      }
      released.push(p.tp);
    }
    if (released.length > 0) target.release(released);
    if (sought.length > 0)
      this.o.log.info({ partitions: sought }, 'sought to the offsets stored in PostgreSQL');
  }
}
