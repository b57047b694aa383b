// The one producer setup for records that must land exactly where we say and be checked
// there: idempotent (a retried request is not appended twice), one request in flight (order
// kept), no topic created by accident, and each message placed by the caller with Kafka's
// default partitioner so every sent record's partition is known.
import {
  Partitioners,
  type Kafka,
  type Message,
  type PartitionMetadata,
  type Producer,
  type RecordMetadata,
  type RetryOptions,
} from 'kafkajs';
import { SinkError } from '../core/errors.js';

/**
 * A connected idempotent producer. `retry` bounds KafkaJS's retries of one send: its
 * idempotent default is unbounded, which would hide an outage inside one send forever.
 */
async function connectIdempotentProducer(kafka: Kafka, retry: RetryOptions): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // Same key → same partition, as the original producer placed it (murmur2).
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    retry,
  });
  await producer.connect();
  return producer;
}

/**
 * Holds the idempotent producer of a writer. After a failed send, or one resolved without a
 * result for a partition, the producer's sequence numbers may no longer match the broker's
 * (the next send would fail with OUT_OF_ORDER_SEQUENCE_NUMBER): the holder marks it suspect
 * and the next `current()` replaces it with a new one.
 */
export class ProducerSlot {
  private producer: Producer | null = null;
  private suspect = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly retry: RetryOptions,
  ) {}

  /** Connected, and not closed since. */
  get open(): boolean {
    return this.producer !== null && this.closing === undefined;
  }

  /** The producer to send with: a new one after markSuspect() or a failed reconnect. */
  async current(): Promise<Producer> {
    if (this.closing !== undefined) throw new SinkError('PRODUCER_CLOSED', 'producer: closed');
    if (this.producer === null || this.suspect) {
      const old = this.producer;
      this.producer = null;
      await old?.disconnect().catch(() => undefined);
      this.producer = await connectIdempotentProducer(this.kafka, this.retry);
      this.suspect = false;
    }
    return this.producer;
  }

  markSuspect(): void {
    this.suspect = true;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const p = this.producer;
      this.producer = null;
      if (p !== null) await p.disconnect();
    })();
    return this.closing;
  }
}

/** Places messages as the default partitioner would, so the caller knows each partition. */
export function createPlacer(): (topic: string, partitions: PartitionMetadata[], message: Message) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  return (topic, partitionMetadata, message) => partitioner({ topic, partitionMetadata, message });
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
