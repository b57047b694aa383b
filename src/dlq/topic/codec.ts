// The DLQ topic's message format: each dead letter is the original record (key, value,
// headers, timestamp) plus Kafka Connect style error headers and ours. Encoding and its exact
// inverse live together, because the format is the replay contract (writer.ts, reader.ts).
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { DEAD_LETTER_REASONS, isDeadLetterReason, type DeadLetter } from '../../core/dead-letter.js';
import { SinkError } from '../../core/errors.js';
import { setOwn } from '../../util/own-property.js';

/** Header names on DLQ messages. Kafka Connect's names first, so Connect tooling can read them. */
export const DLQ_HEADERS = {
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  /** Our error code (Connect puts the Java exception class here). */
  exceptionClass: '__connect.errors.exception.class.name',
  exceptionMessage: '__connect.errors.exception.message',
  reason: 'mds.dlq.reason',
  errorCode: 'mds.dlq.error.code',
  attempts: 'mds.dlq.attempts',
  worker: 'mds.dlq.worker',
  /** ISO time the record was dead-lettered. */
  failedAt: 'mds.dlq.failed_at',
  /** Original record timestamp, epoch ms (survives a topic with LogAppendTime). */
  timestamp: 'mds.dlq.timestamp',
} as const;

type HeaderValue = IHeaders[string];

/**
 * The headers as KafkaJS 2.2 can send them: it cannot encode a header without a value (it
 * throws while sizing the record), which would block the partition forever. Such a header
 * goes out with an empty value instead; the NDJSON copy keeps the exact original.
 */
export function sendableHeaders(from: IHeaders | undefined, skip: readonly string[] = []): IHeaders {
  const headers: IHeaders = {};
  for (const [name, v] of Object.entries(from ?? {})) {
    if (skip.includes(name)) continue;
    setOwn(headers, name, Array.isArray(v) ? v.map((x) => x ?? EMPTY) : (v ?? EMPTY));
  }
  return headers;
}

const EMPTY = Buffer.alloc(0);

function copyHeaders(from: IHeaders | undefined): IHeaders {
  const headers: IHeaders = {};
  // KafkaJS decodes a header without a value as null, which IHeaders spells undefined.
  for (const [name, v] of Object.entries(from ?? {})) setOwn(headers, name, v ?? undefined);
  return headers;
}

/**
 * Adds our header after the original ones. A record that already carries a header of that
 * name keeps it: Kafka allows repeated headers, and the last value is ours.
 */
function addHeader(headers: IHeaders, name: string, value: string): void {
  const existing = headers[name];
  const next: HeaderValue =
    existing === undefined && !Object.hasOwn(headers, name)
      ? value
      : [...(Array.isArray(existing) ? existing : [existing as Buffer | string]), value];
  setOwn(headers, name, next);
}

/** The DLQ topic message of a dead letter. */
export function kafkaMessageFromDeadLetter(d: DeadLetter): Message {
  const headers = sendableHeaders(d.headers);
  addHeader(headers, DLQ_HEADERS.topic, d.topic);
  addHeader(headers, DLQ_HEADERS.partition, String(d.partition));
  addHeader(headers, DLQ_HEADERS.offset, String(d.offset));
  addHeader(headers, DLQ_HEADERS.exceptionClass, d.errorCode);
  addHeader(headers, DLQ_HEADERS.exceptionMessage, d.errorMessage);
  addHeader(headers, DLQ_HEADERS.reason, d.reason);
  addHeader(headers, DLQ_HEADERS.errorCode, d.errorCode);
  addHeader(headers, DLQ_HEADERS.attempts, String(d.attempts));
  addHeader(headers, DLQ_HEADERS.worker, d.workerId);
  addHeader(headers, DLQ_HEADERS.failedAt, new Date(d.failedAt).toISOString());
  addHeader(headers, DLQ_HEADERS.timestamp, String(d.timestamp));
  return { key: d.key, value: d.value, headers, timestamp: String(d.timestamp) };
}

function headerText(v: Buffer | string | null | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : v.toString('utf8');
}

/**
 * Rebuilds the dead letter from a DLQ topic message: our headers come off (the last value
 * of a repeated one), the rest are the original headers, byte for byte.
 */
export function deadLetterFromKafkaMessage(message: KafkaMessage): DeadLetter {
  const headers = copyHeaders(message.headers);
  const take = (name: string): string => {
    const v = headers[name];
    if (Array.isArray(v)) {
      const rest = v.slice(0, -1);
      if (rest.length === 0) delete headers[name];
      else setOwn(headers, name, rest.length === 1 ? rest[0] : rest);
      const text = headerText(v[v.length - 1]);
      if (text !== undefined) return text;
    } else {
      delete headers[name];
      const text = headerText(v);
      if (text !== undefined) return text;
    }
    throw new SinkError(
      'DLQ_MESSAGE_INVALID',
      `DLQ message at offset ${message.offset}: header ${name} is missing`,
    );
  };
  const int = (name: string): number => {
    const text = take(name);
    const n = Number(text);
    if (text.trim() === '' || !Number.isSafeInteger(n)) {
      throw new SinkError(
        'DLQ_MESSAGE_INVALID',
        `DLQ message at offset ${message.offset}: header ${name}: expected an integer, got ${JSON.stringify(text)}`,
      );
    }
    return n;
  };
  const topic = take(DLQ_HEADERS.topic);
  const partition = int(DLQ_HEADERS.partition);
  const offset = int(DLQ_HEADERS.offset);
  take(DLQ_HEADERS.exceptionClass); // same as mds.dlq.error.code, which is authoritative
  const errorMessage = take(DLQ_HEADERS.exceptionMessage);
  const reason = take(DLQ_HEADERS.reason);
  if (!isDeadLetterReason(reason)) {
    throw new SinkError(
      'DLQ_MESSAGE_INVALID',
      `DLQ message at offset ${message.offset}: header ${DLQ_HEADERS.reason}: expected one of ${DEAD_LETTER_REASONS.join('|')}, got ${JSON.stringify(reason)}`,
    );
  }
  const errorCode = take(DLQ_HEADERS.errorCode);
  const attempts = int(DLQ_HEADERS.attempts);
  const workerId = take(DLQ_HEADERS.worker);
  const failedAtText = take(DLQ_HEADERS.failedAt);
  const failedAt = Date.parse(failedAtText);
  if (Number.isNaN(failedAt)) {
    throw new SinkError(
      'DLQ_MESSAGE_INVALID',
      `DLQ message at offset ${message.offset}: header ${DLQ_HEADERS.failedAt}: expected an ISO date, got ${JSON.stringify(failedAtText)}`,
    );
  }
  const timestamp = Object.hasOwn(headers, DLQ_HEADERS.timestamp)
    ? int(DLQ_HEADERS.timestamp)
    : Number(message.timestamp);
  return {
    topic,
    partition,
    offset,
    timestamp,
    key: message.key,
    value: message.value,
    headers,
    reason,
    errorCode,
    errorMessage,
    attempts,
    workerId,
    failedAt,
  };
}
