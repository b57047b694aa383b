// What a rejected record becomes: the original message, byte for byte (so it can be
// replayed), its coordinates, and why it was rejected. Both DLQ destinations (topic and
// NDJSON file) store this; a record counts as handled only when both have it.
import type { SinkRecord } from './sink-record.js';

/** Every reason a record is dead-lettered for; the DLQ readers accept exactly these. */
export const DEAD_LETTER_REASONS = ['decode', 'validation', 'database', 'overflow', 'tombstone'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export function isDeadLetterReason(s: string): s is DeadLetterReason {
  return (DEAD_LETTER_REASONS as readonly string[]).includes(s);
}

export interface DeadLetter extends DeadLetterOrigin {
  readonly reason: DeadLetterReason;
  readonly errorCode: string;
  readonly errorMessage: string;
  /** Write attempts made before the record was set aside (0 for decode/validation). */
  readonly attempts: number;
  readonly workerId: string;
  /** When it was dead-lettered, epoch ms. */
  readonly failedAt: number;
}

/** A DLQ destination. `write` resolves only when the entries are durable there. */
export interface DeadLetterSink {
  start(): Promise<void>;
  write(entries: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

/** The record's coordinates and bytes, as a DLQ entry has them. */
export type DeadLetterOrigin = Pick<
  SinkRecord,
  'topic' | 'partition' | 'offset' | 'timestamp' | 'key' | 'value' | 'headers'
>;

export function toDeadLetter(
  r: DeadLetterOrigin,
  why: Pick<DeadLetter, 'reason' | 'errorCode' | 'errorMessage' | 'attempts' | 'workerId' | 'failedAt'>,
): DeadLetter {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    value: r.value,
    headers: r.headers,
    ...why,
  };
}
