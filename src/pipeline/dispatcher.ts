// Turns fetched Kafka messages into SinkRecords (decoded against their topic's mapping) and
// hands them to the queue lane of the worker that owns their partition. This is where the
// overflow strategy acts: block (pause at the high watermark, done by the consumer),
// drop_oldest (dead-letter the oldest queued records) or error (stop the member).
import type { KafkaMessage } from 'kafkajs';
import type { BoundedQueue } from './bounded-queue.js';
import { tpKey, type SinkRecord } from './sink-record.js';
import type { TopicMapping } from './topic-mapping.js';
import { decodeFailure, type DecodeResult, type RecordDecoder } from './decode.js';
import { RecordError, SinkError } from '../errors.js';

export type OverflowStrategy = 'block' | 'drop_oldest' | 'error';

/** Stable partition → lane choice: a partition's records stay in one FIFO, in offset order. */
export function laneOf(topic: string, partition: number, lanes: number): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (h * 31 + topic.charCodeAt(i)) | 0;
  return ((h >>> 0) + partition) % lanes;
}

export class QueueOverflowError extends SinkError {
  constructor(message: string) {
    super('QUEUE_OVERFLOW', message, { retriable: false });
  }
}

export interface DispatcherOptions {
  readonly queue: BoundedQueue<SinkRecord>;
  readonly lanes: number;
  /** keyDecoder decodes a tombstone's key (JSON of the conflict-key columns) for deletes. */
  readonly routes: ReadonlyMap<
    string,
    { mapping: TopicMapping; decoder: RecordDecoder; keyDecoder?: RecordDecoder }
  >;
  readonly tombstones: 'dlq' | 'ignore' | 'delete';
  readonly overflow: OverflowStrategy;
  readonly now: () => number;
  /**
   * drop_oldest: whether the overflow gate takes one more record of `bytes`. When it does
   * not, records stay queued past capacity (by at most the fetch in progress) while the
   * consumer pauses, as under `block`.
   */
  readonly overflowAdmits?: (bytes: number) => boolean;
  /** drop_oldest: called with the records taken out of the queue; must dead-letter them. */
  readonly onOverflowDrop?: (dropped: SinkRecord[]) => void;
}

export interface DispatchStats {
  submitted: number;
  ignoredTombstones: number;
  belowFloor: number;
}

const TOMBSTONE = new RecordError(
  'decode',
  'TOMBSTONE',
  'value: expected a JSON object, got null (tombstone)',
);

export class Dispatcher {
  /** Per partition: offsets below this are known to be applied (from sink_offsets). */
  private readonly floor = new Map<string, number>();
  readonly stats: DispatchStats = { submitted: 0, ignoredTombstones: 0, belowFloor: 0 };

  constructor(private readonly o: DispatcherOptions) {}

  setFloor(topic: string, partition: number, nextOffset: number): void {
    const k = tpKey(topic, partition);
    if ((this.floor.get(k) ?? -1) < nextOffset) this.floor.set(k, nextOffset);
  }

  clearFloor(topic: string, partition: number): void {
    this.floor.delete(tpKey(topic, partition));
  }

  private decodeDeleteKey(
    route: { mapping: TopicMapping; keyDecoder?: RecordDecoder },
    key: Buffer | null,
  ): DecodeResult {
    if (route.keyDecoder === undefined) {
      return decodeFailure(
        'decode',
        'TOMBSTONE_NO_KEY',
        `tombstone: table ${route.mapping.table} has no conflict key to delete by`,
      );
    }
    if (key === null) {
      return decodeFailure(
        'decode',
        'TOMBSTONE_NO_KEY',
        `key: expected a JSON object with ${route.mapping.key.join(', ')} for a delete, got null`,
      );
    }
    const d = route.keyDecoder.decode(key);
    if (d.ok) return d;
    return decodeFailure(d.error.reason, d.error.code, `tombstone key: ${d.error.message}`);
  }

  /**
   * Hands one partition's fetched messages to the queue, in offset order. Never drops a
   * record under `block`; the caller resolves the offsets of everything dispatched.
   */
  dispatch(topic: string, partition: number, messages: readonly KafkaMessage[]): void {
    const route = this.o.routes.get(topic);
    if (route === undefined) throw new Error(`no mapping for topic ${topic}`);
    const lane = laneOf(topic, partition, this.o.lanes);
    const floor = this.floor.get(tpKey(topic, partition)) ?? -1;
    const now = this.o.now();
    const { queue } = this.o;
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < floor) {
        this.stats.belowFloor++;
        continue;
      }
      const value = m.value;
      if (value === null && this.o.tombstones === 'ignore') {
        this.stats.ignoredTombstones++;
        continue;
      }
      const isDelete = value === null && this.o.tombstones === 'delete';
      const decoded =
        value !== null
          ? route.decoder.decode(value)
          : isDelete
            ? this.decodeDeleteKey(route, m.key ?? null)
            : null;
      const bytes = (value?.length ?? 0) + (m.key?.length ?? 0) + 64;
      const record: SinkRecord = {
        topic,
        partition,
        offset,
        timestamp: Number(m.timestamp),
        key: m.key ?? null,
        value,
        headers: m.headers,
        bytes,
        enqueuedAt: now,
        mapping: route.mapping,
        values: decoded?.ok === true ? decoded.values : null,
        conflictKey: decoded?.ok === true ? decoded.key : '',
        error: decoded === null ? TOMBSTONE : decoded.ok ? null : decoded.error,
        ...(isDelete && decoded?.ok === true ? { isDelete: true } : {}),
      };
      if (this.o.overflow === 'error' && queue.isFull()) {
        const s = queue.stats();
        throw new QueueOverflowError(
          `queue full (${s.records}/${s.capacityRecords} records, ${s.bytes}/${s.capacityBytes} bytes) with queue.overflow=error; stopping this member`,
        );
      }
      queue.push(lane, record, bytes);
      this.stats.submitted++;
      if (this.o.overflow === 'drop_oldest') this.dropWhileFull();
    }
  }

  /** drop_oldest: the oldest queued records go to the gate while the queue is full and the gate has room. */
  private dropWhileFull(): void {
    const { queue } = this.o;
    while (queue.isFull()) {
      const bytes = queue.oldestBytes();
      if (bytes === undefined || this.o.overflowAdmits?.(bytes) === false) return;
      this.o.onOverflowDrop?.(queue.shiftOldest(1));
    }
  }
}
