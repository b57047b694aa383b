// Mirrors the offsets committed in PostgreSQL to Kafka, for lag tooling and fast restarts.
// PostgreSQL's sink_offsets is the truth; a Kafka commit that fails (rebalance in progress,
// broker away) is only logged and superseded by the next one. Commits are coalesced so a
// busy sink sends at most one OffsetCommit per interval, and only for owned partitions.
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { tpKey } from '../pipeline/sink-record.js';
import { toError } from '../errors.js';
import type { PartitionOffset } from '../sink/offset-store.js';

export interface CommitTarget {
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  owns(topic: string, partition: number): boolean;
}

export class OffsetCommitter {
  private pending = new Map<string, PartitionOffset>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly target: CommitTarget,
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onCommitted: (offsets: readonly PartitionOffset[], ms: number) => void = () => undefined,
  ) {}

  add(offsets: readonly PartitionOffset[]): void {
    for (const o of offsets) {
      const k = tpKey(o.topic, o.partition);
      const cur = this.pending.get(k);
      if (cur === undefined || cur.nextOffset < o.nextOffset) this.pending.set(k, o);
    }
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.intervalMs);
    }
  }

  /** Drops pending commits of partitions this member no longer owns. */
  forget(parts: readonly { topic: string; partition: number }[]): void {
    for (const p of parts) this.pending.delete(tpKey(p.topic, p.partition));
  }

  async flush(): Promise<void> {
    const run = async (): Promise<void> => {
      const batch = [...this.pending.values()].filter((o) => this.target.owns(o.topic, o.partition));
      this.pending.clear();
      if (batch.length === 0) return;
      const started = this.clock.now();
      try {
        await this.target.commitOffsets(
          batch.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.nextOffset) })),
        );
        this.onCommitted(batch, this.clock.now() - started);
      } catch (e) {
        this.log.debug({ err: toError(e) }, 'Kafka offset commit failed; PostgreSQL holds the offsets');
      }
    };
    this.inFlight = this.inFlight.then(run);
    return this.inFlight;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }
}
