// Consumer lag per partition = high watermark − next offset committed in PostgreSQL. High
// watermarks come from fetches and, while paused (no fetches), from a periodic admin query,
// so lag keeps rising on the dashboard during a database outage instead of freezing.
import { tpKey } from '../core/sink-record.js';

interface PartitionLag {
  topic: string;
  partition: number;
  highWatermark: number;
  committed: number;
}

export class LagTracker {
  private readonly parts = new Map<string, PartitionLag>();

  private entry(topic: string, partition: number): PartitionLag {
    const k = tpKey(topic, partition);
    let e = this.parts.get(k);
    if (e === undefined) this.parts.set(k, (e = { topic, partition, highWatermark: -1, committed: -1 }));
    return e;
  }

  highWatermark(topic: string, partition: number, hw: number): void {
    const e = this.entry(topic, partition);
    if (hw > e.highWatermark) e.highWatermark = hw;
  }

  committed(topic: string, partition: number, nextOffset: number): void {
    const e = this.entry(topic, partition);
    if (nextOffset > e.committed) e.committed = nextOffset;
  }

  forget(topic: string, partition: number): void {
    this.parts.delete(tpKey(topic, partition));
  }

  /** What is known per partition (-1: not yet), for the member's /status. */
  partitions(): Readonly<PartitionLag>[] {
    return [...this.parts.values()].map((e) => ({ ...e }));
  }

  /** Known lags; partitions with no committed offset yet count from 0 only if a watermark is known. */
  snapshot(): { topic: string; partition: number; lag: number }[] {
    const out: { topic: string; partition: number; lag: number }[] = [];
    for (const e of this.parts.values()) {
      if (e.highWatermark < 0) continue;
      out.push({
        topic: e.topic,
        partition: e.partition,
        lag: Math.max(0, e.highWatermark - Math.max(0, e.committed)),
      });
    }
    return out;
  }
}
