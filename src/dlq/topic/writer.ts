// The Kafka half of the dual DLQ: writes dead letters to the DLQ topic (codec.ts) through an
// idempotent acks=all producer, in sends of bounded size, and checks each send's result per
// partition, because a send can resolve without its records reaching the log.
import type { Kafka, Message, PartitionMetadata } from 'kafkajs';
import type { Logger } from 'pino';
import type { DeadLetter, DeadLetterSink } from '../../core/dead-letter.js';
import { KafkaError, SinkError, toError } from '../../core/errors.js';
import { ensureTopic, withAdmin } from '../../kafka/admin.js';
import { ProducerSlot, createPlacer, partitionsWithoutResult } from '../../kafka/producer.js';
import { kafkaMessageFromDeadLetter } from './codec.js';

/**
 * A dead letter is the original message plus error headers: the topic gets room above the
 * broker's default 1 MiB so a record rejected for its size can still be stored.
 */
const DLQ_TOPIC_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** One send stays well under the broker's request and batch limits. */
const SEND_CHUNK_BYTES = 512 * 1024;

function approxSize(m: Message): number {
  let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers ?? {}))
    n += k.length + (Array.isArray(v) ? v.join('').length : (v?.length ?? 0));
  return n;
}

/** Splits messages into sends of at most SEND_CHUNK_BYTES (a single larger message goes alone). */
function chunkMessages(messages: readonly Message[]): Message[][] {
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
  /** After a failed send the producer's sequence state is suspect: the next write replaces it. */
  private readonly producer: ProducerSlot;
  private started = false;
  /** The topic's partitions as of start(): messages are placed here, so each send's result can be checked. */
  private partitions: PartitionMetadata[] = [];
  private readonly place = createPlacer();
  private closing: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly options: KafkaTopicDeadLetterSinkOptions) {
    // The caller names the component; we add what only we know.
    this.log = options.logger.child({ topic: options.topic });
    this.producer = new ProducerSlot(options.kafka, { retries: options.retries ?? 5 });
  }

  async start(): Promise<void> {
    if (this.started) return;
    const { kafka, topic } = this.options;
    try {
      await withAdmin(kafka, async (admin) => {
        const created = await ensureTopic(admin, {
          topic,
          numPartitions: this.options.numPartitions ?? -1,
          replicationFactor: this.options.replicationFactor ?? -1,
          configEntries: [{ name: 'max.message.bytes', value: String(DLQ_TOPIC_MAX_MESSAGE_BYTES) }],
        });
        if (created) this.log.info('created the DLQ topic');
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        this.partitions = meta.topics[0]?.partitions ?? [];
      });
      if (this.partitions.length === 0)
        throw new KafkaError('DLQ_TOPIC_NO_PARTITIONS', 'no partition metadata for the topic', true);
      await this.producer.current();
      this.started = true;
    } catch (e) {
      throw new KafkaError(
        'DLQ_TOPIC_START_FAILED',
        `DLQ topic ${topic}: start failed: ${toError(e).message}`,
        true,
        e,
      );
    }
  }

  async write(entries: readonly DeadLetter[]): Promise<void> {
    if (this.closing !== undefined) throw new SinkError('DLQ_CLOSED', 'DLQ topic sink is closed');
    if (!this.started) throw new SinkError('DLQ_NOT_STARTED', 'DLQ topic sink: write before start()');
    if (entries.length === 0) return;
    try {
      const producer = await this.producer.current();
      // In order, one chunk at a time: a failure leaves a prefix written, which the caller's
      // retry writes again (the DLQ is at-least-once; replays are idempotent).
      const { topic } = this.options;
      for (const chunk of chunkMessages(entries.map(kafkaMessageFromDeadLetter))) {
        const messages = chunk.map((m) => ({ ...m, partition: this.place(topic, this.partitions, m) }));
        const results = await producer.send({ topic, messages, acks: -1 });
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
      this.producer.markSuspect();
      throw new KafkaError(
        'DLQ_TOPIC_WRITE_FAILED',
        `DLQ topic ${this.options.topic}: send of ${entries.length} records failed: ${toError(e).message}`,
        true,
        e,
      );
    }
  }

  close(): Promise<void> {
    this.closing ??= this.producer.close();
    return this.closing;
  }
}
