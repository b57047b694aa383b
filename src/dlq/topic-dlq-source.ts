// Reads the DLQ topic for replay, with its own consumer group so a replay resumes where it
// stopped; stops at the end of the topic as of the start (or on an idle timeout).
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { DeadLetterSource, SourceBatch, SourceEntry } from './replay.js';
import { deadLetterFromKafkaMessage } from './topic-dlq.js';
import { KafkaError, toError } from '../core/errors.js';

export interface TopicDeadLetterSourceOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** The replay's own group: its committed offsets are where the next replay resumes. */
  readonly groupId: string;
  readonly logger: Logger;
  /** Stop when no message arrived for this long after joining the group. */
  readonly idleTimeoutMs: number;
  /** false for dry runs: positions move in memory only, so a later real run sees every record. */
  readonly commit: boolean;
  /** Longest wait for the group join (default 60 s). */
  readonly joinTimeoutMs?: number;
}

/**
 * Hands batches from the consumer's eachBatch to the replay loop one at a time: eachBatch
 * waits until the loop asks for the next batch, so offsets are only resolved and committed
 * for records the loop has finished.
 */
class Handoff<T> {
  private item: { value: T; release: () => void } | undefined;
  private waiter: (() => void) | undefined;
  private ended = false;
  private error: Error | undefined;
  private releaseCurrent: (() => void) | undefined;

  push(value: T): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((release) => {
      this.item = { value, release };
      this.poke();
    });
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  fail(e: Error): void {
    this.error ??= e;
    this.end();
  }

  /** Wakes a waiting `next` so it re-evaluates its wait policy. */
  poke(): void {
    this.waiter?.();
  }

  /**
   * Releases the batch handed out last (the loop is done with it) and waits for the next.
   * `policy` says how much longer to wait (ms), to stop (null) or to fail (an Error).
   */
  async next(policy: () => number | null | Error): Promise<T | undefined> {
    this.releaseCurrent?.();
    this.releaseCurrent = undefined;
    for (;;) {
      if (this.error !== undefined) throw this.error;
      if (this.item !== undefined) {
        const { value, release } = this.item;
        this.item = undefined;
        this.releaseCurrent = release;
        return value;
      }
      if (this.ended) return undefined;
      const wait = policy();
      if (wait instanceof Error) throw wait;
      if (wait === null) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Ends the handoff and lets every waiting eachBatch return. */
  close(): void {
    this.ended = true;
    this.releaseCurrent?.();
    this.releaseCurrent = undefined;
    this.item?.release();
    this.item = undefined;
    this.poke();
  }
}

export class TopicDeadLetterSource implements DeadLetterSource {
  private total: number | undefined;
  private readonly log: Logger;

  constructor(private readonly options: TopicDeadLetterSourceOptions) {
    this.log = options.logger.child({ component: 'dlq-replay-source', topic: options.topic });
  }

  expectedTotal(): number | undefined {
    return this.total;
  }

  /**
   * Reads from the group's committed offsets up to the high watermarks fetched here: records
   * dead-lettered while the replay runs are left for the next one.
   */
  async *batches(): AsyncGenerator<SourceBatch> {
    const { kafka, topic, groupId, commit } = this.options;
    const ends = await this.endOffsets();
    if (ends.size === 0) return;

    const handoff = new Handoff<SourceBatch>();
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    let joined = false;
    // Idle time counts only while the loop waits for a batch, never while it works on one.
    let waitingSince = Date.now();
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
      waitingSince = Date.now();
      handoff.poke();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) handoff.fail(toError(e.payload.error));
    });
    const remaining = new Set(ends.keys());
    const done = (partition: number): void => {
      remaining.delete(partition);
      consumer.pause([{ topic, partitions: [partition] }]);
      if (remaining.size === 0) handoff.end();
    };

    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const end = ends.get(batch.partition);
          // Partitions with nothing to replay at the start, and finished ones, wait for the
          // next replay; pausing them keeps KafkaJS from fetching them again and again.
          if (end === undefined || !remaining.has(batch.partition)) {
            consumer.pause([{ topic, partitions: [batch.partition] }]);
            return;
          }
          const messages = batch.messages.filter((m) => Number(m.offset) < end);
          if (messages.length === 0) {
            if (batch.messages.length > 0) done(batch.partition);
            return;
          }
          const entries = messages.map((m): SourceEntry => {
            const where = `${topic}/${batch.partition}/${m.offset}`;
            try {
              return { ok: true, where, deadLetter: deadLetterFromKafkaMessage(m) };
            } catch (e) {
              return { ok: false, where, error: toError(e).message };
            }
          });
          let acked = 0;
          const ack = async (count: number): Promise<void> => {
            if (count <= acked) return;
            const last = messages[count - 1]!;
            const next = Number(last.offset) + 1;
            payload.resolveOffset(last.offset);
            if (commit)
              await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(next) }]);
            acked = count;
            if (next >= end) done(batch.partition);
          };
          // KafkaJS heartbeats only from the fetch loop and explicit calls; a slow, rate-limited
          // replay of one batch must not get the member evicted.
          const beat = setInterval(() => {
            payload.heartbeat().catch((e: unknown) => this.log.warn({ err: toError(e) }, 'heartbeat failed'));
          }, 1000);
          try {
            await handoff.push({ entries, ack });
          } finally {
            clearInterval(beat);
          }
        },
      });

      const joinTimeoutMs = this.options.joinTimeoutMs ?? 60_000;
      const joinDeadline = Date.now() + joinTimeoutMs;
      for (;;) {
        waitingSince = Date.now();
        const next = await handoff.next(() => {
          const now = Date.now();
          if (!joined) {
            if (now < joinDeadline) return joinDeadline - now;
            return new KafkaError(
              'REPLAY_JOIN_TIMEOUT',
              `replay group ${groupId}: not joined after ${joinTimeoutMs} ms`,
              true,
            );
          }
          const left = waitingSince + this.options.idleTimeoutMs - now;
          if (left > 0) return left;
          this.log.info({ idleTimeoutMs: this.options.idleTimeoutMs }, 'no new DLQ message: stopping');
          return null;
        });
        if (next === undefined) return;
        yield next;
      }
    } finally {
      handoff.close();
      await consumer.disconnect();
    }
  }

  /** Exclusive end offset per partition that still has records for this group. */
  private async endOffsets(): Promise<Map<number, number>> {
    const { kafka, topic, groupId } = this.options;
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Checked first: KafkaJS would retry a missing topic for a while and end in a vague error.
      if (!(await admin.listTopics()).includes(topic)) {
        throw new KafkaError(
          'REPLAY_DLQ_TOPIC_MISSING',
          `DLQ topic ${topic} does not exist (see --dlq-topic)`,
          false,
        );
      }
      const [watermarks, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const startOf = new Map<number, number>();
      for (const p of committed.find((t) => t.topic === topic)?.partitions ?? [])
        startOf.set(p.partition, Number(p.offset));
      const ends = new Map<number, number>();
      let total = 0;
      for (const w of watermarks) {
        const low = Number(w.low);
        const high = Number(w.high);
        const c = startOf.get(w.partition) ?? -1;
        // No commit yet, or a commit below what retention kept: the consumer starts at low.
        const start = c < low ? low : c;
        if (start < high) {
          ends.set(w.partition, high);
          total += high - start;
        }
      }
      this.total = total;
      this.log.info({ partitions: ends.size, total }, 'replay range fixed at the current high watermarks');
      return ends;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
