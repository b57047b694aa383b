// What a rebalance means downstream of the consumer. Revoked partitions are the new owner's
// to read: their queued records are discarded and the committer, the lag tracker and the lag
// gauge forget them. Newly assigned partitions are positioned from PostgreSQL (the truth),
// and the stored offsets also go to Kafka, whose mirror may be behind after a crash or a move.
import type { Logger } from 'pino';
import { tpKey, type PartitionOffset, type SinkRecord } from '../core/sink-record.js';
import type { AssignmentChange, TopicPartition } from './assignment.js';

export interface RebalanceDeps {
  readonly queue: { removeWhere(pred: (r: SinkRecord) => boolean): readonly SinkRecord[] };
  readonly committer: {
    forget(parts: readonly TopicPartition[]): void;
    add(offsets: readonly PartitionOffset[]): void;
  };
  readonly lag: {
    forget(topic: string, partition: number): void;
    committed(topic: string, partition: number, nextOffset: number): void;
  };
  /** The stored next offsets of these topics' partitions (PostgreSQL's sink_offsets). */
  readonly readOffsets: (topics: readonly string[]) => Promise<readonly PartitionOffset[]>;
  readonly instrumentation: {
    rebalanced(): void;
    partitionRevoked(topic: string, partition: number): void;
  };
  readonly log: Logger;
}

export class RebalanceHandler {
  constructor(private readonly d: RebalanceDeps) {}

  onAssignment(change: AssignmentChange): void {
    const { queue, committer, lag, instrumentation, log } = this.d;
    instrumentation.rebalanced();
    if (change.revoked.length === 0) return;
    const gone = new Set(change.revoked.map((p) => tpKey(p.topic, p.partition)));
    const removed = queue.removeWhere((r) => gone.has(tpKey(r.topic, r.partition)));
    committer.forget(change.revoked);
    for (const p of change.revoked) {
      lag.forget(p.topic, p.partition);
      instrumentation.partitionRevoked(p.topic, p.partition);
    }
    log.info({ revoked: change.revoked.length, discarded: removed.length }, 'partitions revoked');
  }

  /**
   * next_offset per tpKey of the `added` partitions that have one. The consumer keeps them
   * paused until this answers, then seeks them there, ahead of or behind Kafka's committed
   * offsets; a rejection is retried with backoff (see PartitionPositioner).
   */
  async readStoredOffsets(added: readonly TopicPartition[]): Promise<ReadonlyMap<string, number>> {
    const { committer, lag, readOffsets } = this.d;
    const want = new Set(added.map((p) => tpKey(p.topic, p.partition)));
    const out = new Map<string, number>();
    for (const s of await readOffsets([...new Set(added.map((p) => p.topic))])) {
      const k = tpKey(s.topic, s.partition);
      if (!want.has(k)) continue;
      out.set(k, s.nextOffset);
      lag.committed(s.topic, s.partition, s.nextOffset);
      // Idempotent when Kafka already holds it.
      committer.add([s]);
    }
    return out;
  }
}
