// Turns fetched Kafka messages into SinkRecords (decoded against their topic's mapping) and
// hands them to their partition's queue lane, which one worker at a time claims. This is
// where the overflow strategy acts: block (pause at the high watermark, done by the
// consumer), drop_oldest (dead-letter the oldest queued records) or error (stop the member).
// Offsets are a strict sequence per partition: a partition is queued only once it has been
// positioned (open()), and never an offset below the next expected one, so an offset
// fetched twice (KafkaJS restarting a kept partition at Kafka's committed offset, a seek
// back) is queued once.
import type { KafkaMessage } from 'kafkajs';
import type { AppConfig } from '../config/load-config.js';
import type { BoundedQueue } from './bounded-queue.js';
import { tpKey, type SinkRecord } from '../core/sink-record.js';
import type { TopicMapping } from '../core/topic-mapping.js';
import { decodeFailure, type DecodeResult, type RecordDecoder } from './decode.js';
import { RecordError, SinkError } from '../core/errors.js';

/** Stable partition → lane choice: a partition's records stay in one FIFO, in offset order. */
export function laneOf(topic: string, partition: number, lanes: number): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (h * 31 + topic.charCodeAt(i)) | 0;
  return ((h >>> 0) + partition) % lanes;
}

class QueueOverflowError extends SinkError {
  constructor(message: string) {
    super('QUEUE_OVERFLOW', message, { retriable: false });
  }
}

/** keyDecoder decodes a tombstone's key (JSON of the conflict-key columns) for deletes. */
export interface Route {
  readonly mapping: TopicMapping;
  readonly decoder: RecordDecoder;
  readonly keyDecoder?: RecordDecoder;
}

export interface DispatcherOptions {
  readonly queue: BoundedQueue<SinkRecord>;
  readonly lanes: number;
  readonly routes: ReadonlyMap<string, Route>;
  readonly tombstones: AppConfig['tombstones'];
  readonly overflow: AppConfig['queue']['overflow'];
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
  /** Fetched again below the next expected offset: already queued or applied. */
  belowExpected: number;
  /** Fetched before the partition was positioned: not queued, not resolved, re-read. */
  unpositioned: number;
}

/** open()'s offset for a partition with no stored position: take what Kafka starts with. */
const ANY_OFFSET = -1;

const TOMBSTONE = new RecordError(
  'decode',
  'TOMBSTONE',
  'value: expected a JSON object, got null (tombstone)',
);

export class Dispatcher {
  /**
   * Per positioned partition: the next offset it may queue (ANY_OFFSET: the first one
   * fetched). A partition not in the map is not positioned yet and queues nothing.
   */
  private readonly expected = new Map<string, number>();
  readonly stats: DispatchStats = { submitted: 0, ignoredTombstones: 0, belowExpected: 0, unpositioned: 0 };

  constructor(private readonly o: DispatcherOptions) {}

  /**
   * The partition is positioned: its fetches start at `nextOffset` (the offset stored in
   * PostgreSQL, sought to), or, with null, wherever Kafka starts it (nothing stored yet).
   * Resets what was expected before.
   */
  open(topic: string, partition: number, nextOffset: number | null): void {
    this.expected.set(tpKey(topic, partition), nextOffset ?? ANY_OFFSET);
  }

  /** The partition was revoked (or the member left): nothing of it is queued until open(). */
  close(topic: string, partition: number): void {
    this.expected.delete(tpKey(topic, partition));
  }

  /** Offsets below `nextOffset` are applied (sink_offsets): never queue them again. */
  setFloor(topic: string, partition: number, nextOffset: number): void {
    const k = tpKey(topic, partition);
    const e = this.expected.get(k);
    // An unpositioned partition stays so: a floor is no fetch position.
    if (e !== undefined && e < nextOffset) this.expected.set(k, nextOffset);
  }

  /** The next offset expected from a positioned partition; undefined when unknown. */
  nextExpected(topic: string, partition: number): number | undefined {
    const e = this.expected.get(tpKey(topic, partition));
    return e === undefined || e === ANY_OFFSET ? undefined : e;
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
   * Hands one partition's fetched messages to the queue, in offset order, skipping offsets
   * below the next expected one. Never drops a record under `block`. Returns false, having
   * queued nothing, when the partition is not positioned: the caller must not resolve
   * these offsets (they are fetched again from the position sought to).
   */
  dispatch(topic: string, partition: number, messages: readonly KafkaMessage[]): boolean {
    const route = this.o.routes.get(topic);
    if (route === undefined) throw new Error(`no mapping for topic ${topic}`);
    const k = tpKey(topic, partition);
    const start = this.expected.get(k);
    if (start === undefined) {
      this.stats.unpositioned += messages.length;
      return false;
    }
    const lane = laneOf(topic, partition, this.o.lanes);
    const now = this.o.now();
    let next = start;
    try {
      for (const m of messages) {
        const offset = Number(m.offset);
        if (offset < next) {
          this.stats.belowExpected++;
          continue;
        }
        this.enqueue(topic, partition, lane, route, m, offset, now);
        // Gaps are legitimate (compaction, transaction markers): the sequence only rises.
        next = offset + 1;
      }
    } finally {
      // Also after a throw (queue.overflow=error): what was queued is not queued again.
      this.expected.set(k, next);
    }
    return true;
  }

  private enqueue(
    topic: string,
    partition: number,
    lane: number,
    route: Route,
    m: KafkaMessage,
    offset: number,
    now: number,
  ): void {
    const { queue } = this.o;
    const value = m.value;
    if (value === null && this.o.tombstones === 'ignore') {
      this.stats.ignoredTombstones++;
      return;
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
      row: decoded?.ok === true ? decoded.row : null,
      conflictKey: decoded?.ok === true ? decoded.key : '',
      error: decoded === null ? TOMBSTONE : decoded.ok ? null : decoded.error,
      // Always set, so every record has one shape (a spread here made two, and cost an object).
      isDelete: isDelete && decoded?.ok === true,
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
