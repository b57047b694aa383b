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
import { systemClock, type Clock } from '../core/clock.js';
import { KafkaError, SinkError } from '../core/errors.js';
import { settlesWithin } from '../util/bounded-wait.js';
import { kafkaConnectGiveUpMs } from './client-timing.js';

/**
 * An idempotent producer, not yet connected. `retry` bounds KafkaJS's retries of one send: its
 * idempotent default is unbounded, which would hide an outage inside one send forever.
 */
function idempotentProducer(kafka: Kafka, retry: RetryOptions): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // Same key → same partition, as the original producer placed it (murmur2).
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    retry,
  });
}

/** A disconnect that does not finish in this time is left to the socket's own timeout. */
const DISCONNECT_TIMEOUT_MS = 5_000;

export interface ProducerSlotOptions {
  /**
   * Longest wait for a connect (default: KafkaJS's own give-up time with the slowest SASL
   * exchange, so only a connect that hangs past every KafkaJS timeout is cut).
   */
  readonly connectTimeoutMs?: number;
  readonly clock?: Clock;
}

/**
 * Holds the idempotent producer of a writer. After a failed send, or one resolved without a
 * result for a partition, the producer's sequence numbers may no longer match the broker's
 * (the next send would fail with OUT_OF_ORDER_SEQUENCE_NUMBER): the holder marks it suspect
 * and the next `current()` replaces it with a new one. Callers that ask while a producer is
 * being connected wait for that one, so there is never more than one producer to disconnect.
 */
export class ProducerSlot {
  private producer: Producer | null = null;
  private suspect = false;
  private connecting: Promise<Producer> | undefined;
  private closing: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly connectTimeoutMs: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly retry: RetryOptions,
    options: ProducerSlotOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.connectTimeoutMs = options.connectTimeoutMs ?? kafkaConnectGiveUpMs(true);
  }

  /** Connected, and not closed since. */
  get open(): boolean {
    return this.producer !== null && this.closing === undefined;
  }

  /** The producer to send with: a new one after markSuspect() or a failed reconnect. */
  current(): Promise<Producer> {
    if (this.closing !== undefined) return Promise.reject(closedError());
    if (this.producer !== null && !this.suspect) return Promise.resolve(this.producer);
    this.connecting ??= this.replace().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  markSuspect(): void {
    this.suspect = true;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Not waiting for a connect under way: replace() disconnects what it yields after this.
      const p = this.producer;
      this.producer = null;
      if (p !== null) await p.disconnect();
    })();
    return this.closing;
  }

  private async replace(): Promise<Producer> {
    const old = this.producer;
    this.producer = null;
    this.suspect = false;
    if (old !== null) await settlesWithin(old.disconnect(), DISCONNECT_TIMEOUT_MS, this.clock);
    const producer = idempotentProducer(this.kafka, this.retry);
    const connected = producer.connect();
    if (!(await settlesWithin(connected, this.connectTimeoutMs, this.clock))) {
      // KafkaJS goes on connecting: a producer it connects late is nobody's, so it is closed.
      connected.then(() => producer.disconnect()).catch(() => undefined);
      throw new KafkaError(
        'PRODUCER_CONNECT_TIMEOUT',
        `Kafka producer: not connected within ${this.connectTimeoutMs} ms`,
        true,
      );
    }
    await connected;
    if (this.closing !== undefined) {
      await settlesWithin(producer.disconnect(), DISCONNECT_TIMEOUT_MS, this.clock);
      throw closedError();
    }
    this.producer = producer;
    return producer;
  }
}

function closedError(): SinkError {
  return new SinkError('PRODUCER_CLOSED', 'producer: closed');
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
