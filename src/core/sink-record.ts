// A Kafka message as it travels from the consumer to a sink worker: its coordinates, the
// raw bytes (kept for the DLQ, which must be able to replay the original), and the result
// of decoding it against its topic's mapping.
import type { IHeaders } from 'kafkajs';
import type { RecordError } from './errors.js';
import type { TopicMapping } from './topic-mapping.js';

export interface SinkRecord {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset. A JS number is exact up to 2^53, far past any real partition's offset. */
  readonly offset: number;
  /** Producer/broker timestamp, epoch ms. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders | undefined;
  /** Bytes accounted against the queue (key + value + headers, roughly). */
  readonly bytes: number;
  /** When the consumer handed it to the queue (clock ms), for the flush interval. */
  readonly enqueuedAt: number;
  readonly mapping: TopicMapping;
  /**
   * The row as one line of COPY text (columns in mapping order, escaped, no newline), or null
   * when the record was rejected (see `error`).
   */
  readonly row: string | null;
  /** Conflict-key values joined, for in-batch dedup (empty when rejected). */
  readonly conflictKey: string;
  readonly error: RecordError | null;
  /** A tombstone under TOMBSTONE_POLICY=delete: `row` holds the conflict-key columns. */
  readonly isDelete?: boolean;
}

/** Where a partition resumes: the next offset to apply (stored with the rows, mirrored to Kafka). */
export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
