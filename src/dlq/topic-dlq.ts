// The Kafka half of the dual DLQ: each dead letter is the original record (key, value,
// headers, timestamp) plus Kafka Connect style error headers and ours. Also the way back:
// rebuilding the dead letter from a DLQ message (replay reads the topic in topic-dlq-source.ts).
import {
  Partitioners,
  type Admin,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  type Message,
  type PartitionMetadata,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import type { Logger } from 'pino';
import {
  DEAD_LETTER_REASONS,
  isDeadLetterReason,
  type DeadLetter,
  type DeadLetterSink,
} from '../core/dead-letter.js';
import { KafkaError, SinkError, toError } from '../core/errors.js';

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

/** defineProperty, not assignment: a header named "__proto__" must stay a header. */
function setHeader(headers: IHeaders, name: string, value: HeaderValue): void {
  Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The headers as KafkaJS 2.2 can send them: it cannot encode a header without a value (it
 * throws while sizing the record), which would block the partition forever. Such a header
 * goes out with an empty value instead; the NDJSON copy keeps the exact original.
 */
export function sendableHeaders(from: IHeaders | undefined, skip: readonly string[] = []): IHeaders {
  const headers: IHeaders = {};
  for (const [name, v] of Object.entries(from ?? {})) {
    if (skip.includes(name)) continue;
    setHeader(headers, name, Array.isArray(v) ? v.map((x) => x ?? EMPTY) : (v ?? EMPTY));
  }
  return headers;
}

const EMPTY = Buffer.alloc(0);

function copyHeaders(from: IHeaders | undefined): IHeaders {
  const headers: IHeaders = {};
  // KafkaJS decodes a header without a value as null, which IHeaders spells undefined.
  for (const [name, v] of Object.entries(from ?? {})) setHeader(headers, name, v ?? undefined);
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
  setHeader(headers, name, next);
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
      else setHeader(headers, name, rest.length === 1 ? rest[0] : rest);
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

function isTopicAlreadyExists(e: unknown): boolean {
  const err = e as { type?: unknown; errors?: unknown } | null;
  if (err?.type === 'TOPIC_ALREADY_EXISTS') return true;
  return (
    Array.isArray(err?.errors) && err.errors.length > 0 && err.errors.every((x) => isTopicAlreadyExists(x))
  );
}

/** Creates the topic unless it exists; losing a creation race to another member is fine. */
export const DLQ_TOPIC_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** One send stays well under the broker's request and batch limits. */
const SEND_CHUNK_BYTES = 512 * 1024;

function approxSize(m: Message): number {
  let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers ?? {}))
    n += k.length + (Array.isArray(v) ? v.join('').length : (v?.length ?? 0));
  return n;
}

/** Splits messages into sends of at most SEND_CHUNK_BYTES (a single larger message goes alone). */
export function chunkMessages(messages: readonly Message[]): Message[][] {
  const chunks: Message[][] = [];
  let cur: Message[] = [];
  let size = 0;
  for (const m of messages) {
    const s = approxSize(m);
    if (cur.length > 0 && size + s > SEND_CHUNK_BYTES) {
      chunks.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(m);
    size += s;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

/**
 * The partitions of `topic` a send targeted that came back without a result (errorCode 0 and a
 * base offset). KafkaJS 2.2 can resolve a send with no result at all for a partition whose
 * leader died mid-send, and those records are not in the log (tulios/kafkajs#1303).
 */
export function partitionsWithoutResult(
  topic: string,
  targeted: Iterable<number>,
  results: readonly RecordMetadata[],
): number[] {
  const ok = new Set(
    results
      .filter((r) => r.topicName === topic && r.errorCode === 0 && Number(r.baseOffset ?? -1) >= 0)
      .map((r) => r.partition),
  );
  return [...new Set(targeted)].filter((p) => !ok.has(p)).sort((a, b) => a - b);
}

export async function ensureTopic(
  admin: Admin,
  topic: string,
  numPartitions = -1,
  replicationFactor = -1,
): Promise<boolean> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return false;
  try {
    return await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions,
          replicationFactor,
          // A dead letter is the original message plus error headers: give it room above the
          // broker's default 1 MiB so a record rejected for its size can still be stored.
          configEntries: [{ name: 'max.message.bytes', value: String(DLQ_TOPIC_MAX_MESSAGE_BYTES) }],
        },
      ],
      waitForLeaders: true,
    });
  } catch (e) {
    if (isTopicAlreadyExists(e)) return false;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Writer

export interface KafkaTopicDeadLetterSinkOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly logger: Logger;
  /** Used only when start() has to create the topic (default: broker defaults). */
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
  /**
   * KafkaJS retries of one send before it rejects (default 5). The idempotent default is
   * unbounded, which would hide a DLQ outage inside one send forever; we surface it and let
   * the caller retry (and count it), at the price of possible duplicates across those retries.
   */
  readonly retries?: number;
}

export class KafkaTopicDeadLetterSink implements DeadLetterSink {
  private producer: Producer | null = null;
  /** After a failed send the producer's sequence state is suspect: the next write replaces it. */
  private producerSuspect = false;
  /** The topic's partitions as of start(): messages are placed here, so each send's result can be checked. */
  private partitions: PartitionMetadata[] = [];
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private closing: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly options: KafkaTopicDeadLetterSinkOptions) {
    // The caller names the component; we add what only we know.
    this.log = options.logger.child({ topic: options.topic });
  }

  async start(): Promise<void> {
    if (this.producer !== null) return;
    const admin = this.options.kafka.admin();
    try {
      await admin.connect();
      const created = await ensureTopic(
        admin,
        this.options.topic,
        this.options.numPartitions,
        this.options.replicationFactor,
      );
      if (created) this.log.info('created the DLQ topic');
      const meta = await admin.fetchTopicMetadata({ topics: [this.options.topic] });
      this.partitions = meta.topics[0]?.partitions ?? [];
      if (this.partitions.length === 0)
        throw new KafkaError('DLQ_TOPIC_NO_PARTITIONS', 'no partition metadata for the topic', true);
      this.producer = await this.connectProducer();
    } catch (e) {
      throw new KafkaError(
        'DLQ_TOPIC_START_FAILED',
        `DLQ topic ${this.options.topic}: start failed: ${toError(e).message}`,
        true,
        e,
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async write(entries: readonly DeadLetter[]): Promise<void> {
    if (this.closing !== undefined) throw new SinkError('DLQ_CLOSED', 'DLQ topic sink is closed');
    if (this.producer === null)
      throw new SinkError('DLQ_NOT_STARTED', 'DLQ topic sink: write before start()');
    if (entries.length === 0) return;
    try {
      if (this.producerSuspect) {
        const old = this.producer;
        await old.disconnect().catch(() => undefined);
        this.producer = await this.connectProducer();
        this.producerSuspect = false;
      }
      // In order, one chunk at a time: a failure leaves a prefix written, which the caller's
      // retry writes again (the DLQ is at-least-once; replays are idempotent).
      const { topic } = this.options;
      for (const chunk of chunkMessages(entries.map(kafkaMessageFromDeadLetter))) {
        const messages = chunk.map((m) => ({
          ...m,
          partition: this.partitioner({ topic, partitionMetadata: this.partitions, message: m }),
        }));
        const results = await this.producer.send({ topic, messages, acks: -1 });
        const lost = partitionsWithoutResult(
          topic,
          messages.map((m) => m.partition),
          results,
        );
        if (lost.length > 0) {
          throw new KafkaError(
            'DLQ_TOPIC_SEND_INCOMPLETE',
            `the send resolved without a result for partition(s) ${lost.join(',')}: their records may be lost`,
            true,
          );
        }
      }
    } catch (e) {
      this.producerSuspect = true;
      throw new KafkaError(
        'DLQ_TOPIC_WRITE_FAILED',
        `DLQ topic ${this.options.topic}: send of ${entries.length} records failed: ${toError(e).message}`,
        true,
        e,
      );
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const p = this.producer;
      this.producer = null;
      if (p !== null) await p.disconnect();
    })();
    return this.closing;
  }

  private async connectProducer(): Promise<Producer> {
    const producer = this.options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // Same key → same DLQ partition, so a key's dead letters keep their order.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: this.options.retries ?? 5 },
    });
    await producer.connect();
    return producer;
  }
}
