// drop_oldest takes records out of the queue and dead-letters them outside any batch; once
// they are durable in the DLQ their offsets wait here, per queue lane, for a worker to
// commit them. That worker must hold the lane, so no older record of those partitions is
// still in flight: moving next_offset past a batch that then rolls back would skip it.
import { tpKey, type PartitionOffset } from '../core/sink-record.js';

export class LaneInbox {
  private readonly byLane = new Map<number, Map<string, PartitionOffset>>();

  /** Keeps the highest next offset per partition. */
  add(lane: number, offsets: readonly PartitionOffset[]): void {
    let m = this.byLane.get(lane);
    if (m === undefined) this.byLane.set(lane, (m = new Map<string, PartitionOffset>()));
    for (const o of offsets) {
      const k = tpKey(o.topic, o.partition);
      if ((m.get(k)?.nextOffset ?? -1) < o.nextOffset) m.set(k, o);
    }
  }

  /** Lanes with offsets waiting, oldest first. */
  lanes(): number[] {
    return [...this.byLane.keys()];
  }

  /** The lane's waiting offsets, removed from the inbox. */
  take(lane: number): PartitionOffset[] {
    const m = this.byLane.get(lane);
    this.byLane.delete(lane);
    return m === undefined ? [] : [...m.values()];
  }
}
