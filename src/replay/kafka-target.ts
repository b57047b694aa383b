// The replay's Kafka target: an idempotent acks=all producer that places each message itself
// (Kafka's murmur2 on the key, as the original producer did), so every sent record has a known
// partition and offset, and reads those offsets back to confirm what it sent.
import type { Kafka, Message, PartitionMetadata, RecordMetadata } from 'kafkajs';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { KafkaError, SinkError, toError } from '../core/errors.js';
import { topicPartitions, withAdmin } from '../kafka/admin.js';
import { ProducerSlot, createPlacer, partitionsWithoutResult } from '../kafka/producer.js';
import { readRanges, type PartitionRange } from '../kafka/range-reader.js';
import { REPLAY_SOURCE_HEADER, type ReplayMessage, type ReplayTarget, type SentRecord } from './message.js';

export interface KafkaReplayTargetOptions {
  readonly kafka: Kafka;
  readonly logger: Logger;
  /** Longest a read-back of sent records may go without progress (default 30 s). */
  readonly confirmStallMs?: number;
  /** Time for the waits between send tries, the read-back and the connects (default: the system's). */
  readonly clock?: Clock;
}

/** Tries of one send, each after the first through a new producer. */
const SEND_ATTEMPTS = 3;
const SEND_RETRY_MS = 1000;

/**
 * Idempotent, acks=all producer; checks each target topic exists before its first send. It
 * picks each message's partition itself (Kafka's murmur2 on the key, as the original producer
 * did), so every sent record has a known partition and offset that `confirm` reads back.
 */
export class KafkaReplayTarget implements ReplayTarget {
  /** Replaced after a failed send or one resolved without a result for a partition. */
  private readonly producer: ProducerSlot;
  private started = false;
  private readonly partitionsOf = new Map<string, PartitionMetadata[]>();
  private readonly place = createPlacer();
  private readonly clock: Clock;

  constructor(private readonly options: KafkaReplayTargetOptions) {
    this.clock = options.clock ?? systemClock;
    // Bounded, unlike KafkaJS's idempotent default: an outage ends the run with exit 1 and
    // the next run resumes from the last confirmed chunk, instead of hanging. About 20 s of
    // retries (200 ms doubling, at most 5 s apart) ride out a leader failover, which takes
    // the broker's session timeout (9 s by default) plus an election; a run ended by one
    // would send again everything after its last confirmed chunk.
    this.producer = new ProducerSlot(
      options.kafka,
      { retries: 8, maxRetryTime: 5000 },
      { clock: this.clock },
    );
  }

  async start(): Promise<void> {
    await this.producer.current();
    this.started = true;
  }

  async send(messages: readonly ReplayMessage[]): Promise<SentRecord[]> {
    if (!this.started) throw new SinkError('REPLAY_NOT_STARTED', 'replay target: send before start()');
    await this.checkTopics([...new Set(messages.map((m) => m.topic))]);
    const placed = messages.map((message) => ({
      message,
      partition: this.place(message.topic, this.partitionsOf.get(message.topic)!, {
        key: message.key,
        value: message.value,
      }),
    }));
    const byTopic = new Map<string, Message[]>();
    for (const { message, partition } of placed) {
      const list = byTopic.get(message.topic) ?? [];
      list.push({ key: message.key, value: message.value, headers: message.headers, partition });
      byTopic.set(message.topic, list);
    }
    const metadata = await this.sendWithFreshProducerOnFailure(byTopic, messages.length);
    for (const [topic, msgs] of byTopic) {
      const lost = partitionsWithoutResult(
        topic,
        msgs.map((m) => m.partition!),
        metadata,
      );
      if (lost.length > 0) {
        // Their records get offset -1 below: confirm() reports them and they are sent again.
        this.producer.markSuspect();
        this.options.logger.warn(
          { topic, partitions: lost },
          'send resolved without a result for partitions',
        );
      }
    }
    // KafkaJS keeps each partition's messages in order in one record batch: the n-th message of
    // a partition is at its base offset + n.
    const base = new Map(metadata.map((m) => [`${m.topicName}/${m.partition}`, Number(m.baseOffset ?? -1)]));
    const next = new Map<string, number>();
    return placed.map(({ message, partition }) => {
      const key = `${message.topic}/${partition}`;
      const b = base.get(key) ?? -1;
      const n = next.get(key) ?? 0;
      next.set(key, n + 1);
      return { message, partition, offset: b < 0 ? -1 : b + n };
    });
  }

  /**
   * Up to SEND_ATTEMPTS tries, each after the first with a new producer (fresh sequence numbers).
   * A failed try may have written part of its records: they can arrive twice, which a replay
   * allows (upserts), where failing would make the next run send its whole unconfirmed window again.
   */
  private async sendWithFreshProducerOnFailure(
    byTopic: Map<string, Message[]>,
    count: number,
  ): Promise<RecordMetadata[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const producer = await this.producer.current();
        return await producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      } catch (e) {
        this.producer.markSuspect();
        if (attempt >= SEND_ATTEMPTS) {
          throw new KafkaError(
            'REPLAY_SEND_FAILED',
            `replay: send of ${count} records failed ${attempt} times: ${toError(e).message}`,
            true,
            e,
          );
        }
        this.options.logger.warn(
          { err: toError(e), attempt },
          'replay send failed: trying with a new producer',
        );
        await this.clock.sleep(SEND_RETRY_MS);
      }
    }
  }

  /** Reads the sent offsets back; a record is confirmed when its offset holds its replay source. */
  async confirm(sent: readonly SentRecord[]): Promise<SentRecord[]> {
    const ranges = new Map<string, PartitionRange>();
    for (const r of sent) {
      if (r.offset < 0) continue;
      const key = `${r.message.topic}\u0000${r.partition}`;
      const cur = ranges.get(key);
      ranges.set(key, {
        topic: r.message.topic,
        partition: r.partition,
        from: Math.min(cur?.from ?? r.offset, r.offset),
        to: Math.max(cur?.to ?? r.offset + 1, r.offset + 1),
      });
    }
    const found = new Map<string, string>();
    await readRanges(
      [...ranges.values()],
      (topic, partition, m) => {
        const source = m.headers?.[REPLAY_SOURCE_HEADER];
        if (source !== undefined && !Array.isArray(source))
          found.set(`${topic}\u0000${partition}\u0000${m.offset}`, source.toString());
      },
      {
        kafka: this.options.kafka,
        logger: this.options.logger,
        stallTimeoutMs: this.options.confirmStallMs ?? 30_000,
        clock: this.clock,
      },
    );
    return sent.filter(
      (r) =>
        r.offset < 0 ||
        found.get(`${r.message.topic}\u0000${r.partition}\u0000${r.offset}`) !==
          r.message.headers[REPLAY_SOURCE_HEADER],
    );
  }

  close(): Promise<void> {
    this.started = false;
    return this.producer.close();
  }

  /** Without this, a missing topic shows up as a long retry loop ending in a vague error. */
  private async checkTopics(topics: readonly string[]): Promise<void> {
    const unknown = topics.filter((t) => !this.partitionsOf.has(t));
    if (unknown.length === 0) return;
    const { partitions, missing } = await withAdmin(
      this.options.kafka,
      (admin) => topicPartitions(admin, unknown),
      { clock: this.clock },
    );
    if (missing.length > 0) {
      throw new KafkaError(
        'REPLAY_TOPIC_MISSING',
        `replay: target topic ${missing.join(', ')} does not exist`,
        false,
      );
    }
    for (const [topic, p] of partitions) this.partitionsOf.set(topic, p);
  }
}
