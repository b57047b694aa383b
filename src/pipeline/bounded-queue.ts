// The buffer between the Kafka consumer and the sink workers: FIFO lanes (a partition always
// maps to one lane, so its records stay in offset order) that any idle worker may claim, one
// worker per lane at a time, with record and byte accounting that signals the consumer to
// pause at the high watermark and to resume under the low one. It never drops and never
// blocks: Kafka itself is the buffer. One module on purpose: lanes, claims, held-record
// accounting and watermarks are one data structure whose every method updates them together.
import { ConfigError } from '../core/errors.js';
import { waitOn, wakeAll } from '../util/waiters.js';

export interface QueueStats {
  /** Records held: queued plus taken by a worker and not yet released. */
  readonly records: number;
  /** Bytes held, counted like `records`. */
  readonly bytes: number;
  /** Records still waiting in the lanes. */
  readonly queued: number;
  readonly capacityRecords: number;
  readonly capacityBytes: number;
  /** Above the high watermark and not yet back under the low one. */
  readonly high: boolean;
}

export interface BoundedQueueOptions {
  readonly capacityRecords: number;
  readonly capacityBytes: number;
  /** Fraction of capacity (records or bytes) at which onHigh fires; 0 < low < high <= 1. */
  readonly highWatermark: number;
  /** Fraction of capacity (records and bytes) under which onLow fires. */
  readonly lowWatermark: number;
  /** Lanes partitions are hashed to; any number of workers share them. */
  readonly lanes: number;
  readonly onHigh?: (s: QueueStats) => void;
  readonly onLow?: (s: QueueStats) => void;
}

/**
 * One FIFO as parallel arrays read from `head`: take() advances an index instead of
 * Array.shift() (O(n) per call), and the consumed prefix is dropped in bulk.
 */
class Lane<T> {
  items: (T | undefined)[] = [];
  bytes: number[] = [];
  seqs: number[] = [];
  head = 0;
  /** A worker holds this lane: nobody else takes from it until it is unclaimed. */
  claimed = false;
  readonly waiters = new Set<() => void>();

  get size(): number {
    return this.items.length - this.head;
  }

  /** Called after the head moved: reclaim the consumed prefix when it is worth it. */
  compact(): void {
    if (this.head === this.items.length) {
      // Empty: the common case for a keeping-up worker, and free to reset.
      this.items.length = 0;
      this.bytes.length = 0;
      this.seqs.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Copying at most as many entries as were consumed keeps this amortised O(1).
      this.items = this.items.slice(this.head);
      this.bytes = this.bytes.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }
}

interface Removed<T> {
  readonly seq: number;
  readonly item: T;
}

export class BoundedQueue<T> {
  private readonly lanes: Lane<T>[] = [];
  private heldRecords = 0;
  private heldBytes = 0;
  private queued = 0;
  private seq = 0;
  private high = false;
  /** Workers waiting for any unclaimed lane to have items. */
  private readonly idleWaiters = new Set<() => void>();
  // Integer thresholds, computed once: 0.7 * 10 is 7.000000000000001 in floating point,
  // and 7 held records must count as reaching a 70% watermark.
  private readonly highRecords: number;
  private readonly highBytes: number;
  private readonly lowRecords: number;
  private readonly lowBytes: number;

  constructor(private readonly o: BoundedQueueOptions) {
    validate(o);
    for (let i = 0; i < o.lanes; i++) this.lanes.push(new Lane<T>());
    this.highRecords = Math.max(1, Math.ceil(o.highWatermark * o.capacityRecords - 1e-9));
    this.highBytes = Math.max(1, Math.ceil(o.highWatermark * o.capacityBytes - 1e-9));
    this.lowRecords = Math.floor(o.lowWatermark * o.capacityRecords + 1e-9);
    this.lowBytes = Math.floor(o.lowWatermark * o.capacityBytes + 1e-9);
  }

  /** Appends to a lane. Never drops, never blocks; may cross the high watermark. */
  push(lane: number, item: T, bytes: number): void {
    const l = this.lane(lane);
    if (!(bytes >= 0)) throw new RangeError(`push: expected bytes >= 0, got ${bytes}`);
    l.items.push(item);
    l.bytes.push(bytes);
    l.seqs.push(this.seq++);
    this.queued++;
    this.heldRecords++;
    this.heldBytes += bytes;
    if (!this.high && (this.heldRecords >= this.highRecords || this.heldBytes >= this.highBytes)) {
      // State first: a callback that pushes again must not fire onHigh a second time.
      this.high = true;
      this.o.onHigh?.(this.stats());
    }
    if (l.waiters.size > 0) wakeAll(l.waiters);
    if (!l.claimed) this.notify();
  }

  /**
   * Claims the unclaimed lane whose oldest record is the oldest queued, or returns -1 when
   * no unclaimed lane has records. Until unclaim() no other worker takes from it, so a
   * partition's records are written by one worker at a time, in order, while any idle
   * worker can pick up any lane: with fewer lanes in use than workers, or uneven
   * partitions, no worker sits idle beside a backlog.
   */
  claimNext(): number {
    let best = -1;
    let bestSeq = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.lanes.length; i++) {
      const l = this.lanes[i]!;
      if (l.claimed || l.size === 0) continue;
      const s = l.seqs[l.head]!;
      if (s < bestSeq) {
        best = i;
        bestSeq = s;
      }
    }
    if (best >= 0) this.lanes[best]!.claimed = true;
    return best;
  }

  /** Claims this lane, empty or not, if no worker holds it. */
  claim(lane: number): boolean {
    const l = this.lane(lane);
    if (l.claimed) return false;
    l.claimed = true;
    return true;
  }

  /** Gives a claimed lane back; if it still holds records, an idle worker is woken for it. */
  unclaim(lane: number): void {
    const l = this.lane(lane);
    l.claimed = false;
    if (l.size > 0) this.notify();
  }

  /**
   * Resolves once an unclaimed lane may have records (a push, an unclaim, notify()), at
   * once if one has, or when the signal aborts. The caller then tries claimNext() again.
   */
  waitForWork(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true || this.lanes.some((l) => !l.claimed && l.size > 0)) {
      return Promise.resolve();
    }
    return waitOn(this.idleWaiters, signal);
  }

  /** Wakes every worker in waitForWork (also for work the queue does not hold). */
  notify(): void {
    if (this.idleWaiters.size > 0) wakeAll(this.idleWaiters);
  }

  /** Up to `max` items of a lane, oldest first. They stay held until release(). */
  take(lane: number, max: number): T[] {
    const l = this.lane(lane);
    const n = Math.min(max, l.size);
    if (n <= 0) return [];
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      out[i] = l.items[l.head] as T;
      l.items[l.head] = undefined; // let the record be collected once the worker is done
      l.head++;
    }
    this.queued -= n;
    l.compact();
    return out;
  }

  /** A worker finished (wrote or dead-lettered) records it took; may cross the low watermark. */
  release(records: number, bytes: number): void {
    if (records > this.heldRecords || bytes > this.heldBytes || records < 0 || bytes < 0) {
      throw new RangeError(
        `release: expected at most the held ${this.heldRecords} records / ${this.heldBytes} bytes, got ${records} / ${bytes}`,
      );
    }
    this.heldRecords -= records;
    this.heldBytes -= bytes;
    this.checkLow();
  }

  /**
   * Resolves once the lane has items, at once if it already has, or when the signal
   * aborts. A pending promise costs nothing: push() wakes it, so idle workers do not spin.
   */
  waitForItems(lane: number, signal?: AbortSignal): Promise<void> {
    const l = this.lane(lane);
    if (l.size > 0 || signal?.aborted === true) return Promise.resolve();
    return waitOn(l.waiters, signal);
  }

  /**
   * Removes and releases every queued (not taken) item matching `pred`, in push order.
   * Used when partitions are revoked: their records belong to the new owner now.
   */
  removeWhere(pred: (item: T) => boolean): T[] {
    const removed: Removed<T>[] = [];
    let bytes = 0;
    for (const l of this.lanes) {
      let w = 0;
      for (let r = l.head; r < l.items.length; r++) {
        const item = l.items[r] as T;
        const b = l.bytes[r] ?? 0;
        const s = l.seqs[r] ?? 0;
        if (pred(item)) {
          removed.push({ seq: s, item });
          bytes += b;
        } else {
          l.items[w] = item;
          l.bytes[w] = b;
          l.seqs[w] = s;
          w++;
        }
      }
      l.items.length = w;
      l.bytes.length = w;
      l.seqs.length = w;
      l.head = 0;
    }
    removed.sort((a, b) => a.seq - b.seq);
    this.dropAccounted(removed.length, bytes);
    return removed.map((r) => r.item);
  }

  /** Removes and releases the `n` oldest queued items across all lanes (drop_oldest). */
  shiftOldest(n: number): T[] {
    const out: T[] = [];
    let bytes = 0;
    while (out.length < n) {
      const oldest = this.oldestLane();
      if (oldest === undefined) break;
      out.push(oldest.items[oldest.head] as T);
      bytes += oldest.bytes[oldest.head] ?? 0;
      oldest.items[oldest.head] = undefined;
      oldest.head++;
      oldest.compact();
    }
    this.dropAccounted(out.length, bytes);
    return out;
  }

  /** Bytes of the item shiftOldest(1) would remove; undefined when nothing is queued. */
  oldestBytes(): number | undefined {
    const l = this.oldestLane();
    return l === undefined ? undefined : l.bytes[l.head];
  }

  /** The lane whose head is the oldest queued item. Lanes are few (dozens): a scan beats a heap. */
  private oldestLane(): Lane<T> | undefined {
    let oldest: Lane<T> | undefined;
    let oldestSeq = Number.POSITIVE_INFINITY;
    for (const l of this.lanes) {
      const s = l.size > 0 ? l.seqs[l.head] : undefined;
      if (s !== undefined && s < oldestSeq) {
        oldest = l;
        oldestSeq = s;
      }
    }
    return oldest;
  }

  /** Held records or bytes have reached capacity. */
  isFull(): boolean {
    return this.heldRecords >= this.o.capacityRecords || this.heldBytes >= this.o.capacityBytes;
  }

  laneSize(lane: number): number {
    return this.lane(lane).size;
  }

  stats(): QueueStats {
    return {
      records: this.heldRecords,
      bytes: this.heldBytes,
      queued: this.queued,
      capacityRecords: this.o.capacityRecords,
      capacityBytes: this.o.capacityBytes,
      high: this.high,
    };
  }

  private dropAccounted(records: number, bytes: number): void {
    if (records === 0) return;
    this.queued -= records;
    this.heldRecords -= records;
    this.heldBytes -= bytes;
    this.checkLow();
  }

  private checkLow(): void {
    if (this.high && this.heldRecords <= this.lowRecords && this.heldBytes <= this.lowBytes) {
      this.high = false;
      this.o.onLow?.(this.stats());
    }
  }

  private lane(lane: number): Lane<T> {
    const l = this.lanes[lane];
    if (l === undefined)
      throw new RangeError(`lane: expected an integer in [0, ${this.lanes.length}), got ${lane}`);
    return l;
  }
}

function validate(o: BoundedQueueOptions): void {
  if (!Number.isInteger(o.capacityRecords) || o.capacityRecords < 1) {
    throw new ConfigError(`queue.capacityRecords: expected an integer >= 1, got ${o.capacityRecords}`);
  }
  if (!Number.isFinite(o.capacityBytes) || o.capacityBytes < 1) {
    throw new ConfigError(`queue.capacityBytes: expected a number >= 1, got ${o.capacityBytes}`);
  }
  if (!(o.highWatermark > 0 && o.highWatermark <= 1)) {
    throw new ConfigError(`queue.highWatermark: expected a fraction in (0, 1], got ${o.highWatermark}`);
  }
  if (!(o.lowWatermark > 0 && o.lowWatermark < o.highWatermark)) {
    throw new ConfigError(
      `queue.lowWatermark: expected > 0 and < queue.highWatermark (${o.highWatermark}), got ${o.lowWatermark}`,
    );
  }
  if (!Number.isInteger(o.lanes) || o.lanes < 1) {
    throw new ConfigError(`queue.lanes: expected an integer >= 1, got ${o.lanes}`);
  }
}
