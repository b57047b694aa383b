// Reads the DLQ topic for replay, with its own consumer group so a replay resumes where it
// stopped. Every read covers the whole topic as of the start: entries behind the group's
// position come as `earlier` (counted, and remembered so a duplicate is not sent again).
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../core/clock.js';
import { KafkaError, toError } from '../../core/errors.js';
import { topicExists, topicWatermarks, withAdmin } from '../../kafka/admin.js';
import type { DeadLetterSource, SourceBatch, SourceEntry } from '../source.js';
import { deadLetterFromKafkaMessage } from './codec.js';
import { Handoff } from './handoff.js';

export interface TopicDeadLetterSourceOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** The replay's own group: its committed offsets are where the next replay resumes. */
  readonly groupId: string;
  readonly logger: Logger;
  /** Fail when the read makes no progress for this long before reaching the end. */
  readonly idleTimeoutMs: number;
  /** false for dry runs: positions move in memory only, so a later real run sees every record. */
  readonly commit: boolean;
  /** Longest wait for the group join (default 60 s). */
  readonly joinTimeoutMs?: number;
  readonly clock?: Clock;
}

/** How long one commit of the replay position is tried before the run goes on without it. */
const COMMIT_TRY_MS = 5_000;
/** How long saving the position after leaving keeps trying (a member left behind must expire). */
const COMMIT_AFTER_LEAVING_MS = 30_000;
const COMMIT_RETRY_MS = 500;
const COMMIT_AFTER_LEAVING_RETRY_MS = 1000;

export class TopicDeadLetterSource implements DeadLetterSource {
  private total: number | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(private readonly options: TopicDeadLetterSourceOptions) {
    this.log = options.logger.child({ component: 'dlq-replay-source', topic: options.topic });
    this.clock = options.clock ?? systemClock;
  }

  expectedTotal(): number | undefined {
    return this.total;
  }

  /**
   * Reads every partition from its low watermark up to the high watermark fetched here:
   * records dead-lettered while the replay runs are left for the next one. Ends only when
   * every partition reached its end; a read that stalls (another member of the group holds
   * partitions, the broker is gone) fails rather than report a short count.
   */
  async *batches(): AsyncGenerator<SourceBatch> {
    const { kafka, topic, groupId, commit } = this.options;
    const { ends, starts, positions } = await this.endOffsets();
    if (ends.size === 0) return;

    const handoff = new Handoff<SourceBatch>(this.clock);
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
      // A member that could not leave (its coordinator died) expires soon, so the position can
      // be saved after it (commitAfterLeaving); heartbeats go out every second meanwhile.
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
    });
    let joined = false;
    // Idle time counts only while the loop waits for a batch, never while it works on one.
    let waitingSince = this.clock.now();
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
      waitingSince = this.clock.now();
      handoff.poke();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) handoff.fail(toError(e.payload.error));
    });
    const remaining = new Set(ends.keys());
    /** Confirmed positions whose commit failed, per partition. */
    const unsettled = new Map<number, number>();
    let notSaved: Error | undefined;
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
          const position = positions.get(batch.partition) ?? 0;
          const entries = messages.map((m): SourceEntry => {
            const where = `${topic}/${batch.partition}/${m.offset}`;
            const earlier = Number(m.offset) < position;
            try {
              return { ok: true, where, deadLetter: deadLetterFromKafkaMessage(m), earlier };
            } catch (e) {
              return { ok: false, where, error: toError(e).message, earlier };
            }
          });
          let acked = 0;
          const ack = async (count: number): Promise<void> => {
            if (count <= acked) return;
            const last = messages[count - 1]!;
            const next = Number(last.offset) + 1;
            payload.resolveOffset(last.offset);
            // Entries behind the position were read for the count only: the group never moves back.
            if (commit && next > position) {
              const p = batch.partition;
              const committed = await this.tryCommit(() =>
                consumer.commitOffsets([{ topic, partition: p, offset: String(next) }]),
              );
              if (committed) {
                if ((unsettled.get(p) ?? -1) <= next) unsettled.delete(p);
              } else unsettled.set(p, Math.max(unsettled.get(p) ?? -1, next));
            }
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
      // The whole topic, not just what follows the group's position (applied on the first fetch).
      for (const [partition, start] of starts) consumer.seek({ topic, partition, offset: String(start) });

      const joinTimeoutMs = this.options.joinTimeoutMs ?? 60_000;
      const joinDeadline = this.clock.now() + joinTimeoutMs;
      for (;;) {
        waitingSince = this.clock.now();
        const next = await handoff.next(() => {
          const now = this.clock.now();
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
          return new KafkaError(
            'REPLAY_DLQ_READ_STALLED',
            `DLQ topic ${topic} not read to its end: nothing arrived for ${this.options.idleTimeoutMs} ms with partitions ${[...remaining].join(',')} unfinished (another member of group ${groupId}? see --idle-timeout-ms)`,
            true,
          );
        });
        if (next === undefined) break;
        yield next;
      }
    } finally {
      handoff.close();
      await consumer.disconnect();
      // Also when the run stops early (limit, abort, an error): what was confirmed is saved.
      if (unsettled.size > 0) {
        notSaved = await this.commitAfterLeaving(unsettled).then(
          () => undefined,
          (e: unknown) => {
            this.log.error({ err: toError(e) }, 'replay position not saved');
            return toError(e);
          },
        );
      }
    }
    // Reached only when the read ended normally: then a position not saved fails the run.
    if (notSaved !== undefined) throw notSaved;
  }

  /**
   * A commit fails while the group coordinator's broker is gone, and KafkaJS finds the new
   * coordinator only when the member rejoins, which it cannot while this batch is held. So a
   * failed commit is not fatal: the run goes on (what was sent is confirmed; a batch KafkaJS
   * hands out again after a rejoin is recognised as already sent), and the position is saved
   * by a later commit or, after the member left, by commitAfterLeaving.
   */
  private async tryCommit(once: () => Promise<void>): Promise<boolean> {
    const deadline = this.clock.now() + COMMIT_TRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await once();
        return true;
      } catch (e) {
        if (this.clock.now() >= deadline) {
          this.log.warn({ err: toError(e), attempt }, 'replay position not committed yet');
          return false;
        }
        await this.clock.sleep(COMMIT_RETRY_MS);
      }
    }
  }

  /**
   * Sets the group's offsets with the admin client once no member is left (its own coordinator
   * lookup, unlike the consumer's): the positions whose commits failed during the run.
   */
  private async commitAfterLeaving(positions: ReadonlyMap<number, number>): Promise<void> {
    const { kafka, topic, groupId } = this.options;
    const partitions = [...positions].map(([partition, offset]) => ({ partition, offset: String(offset) }));
    const deadline = this.clock.now() + COMMIT_AFTER_LEAVING_MS;
    for (;;) {
      try {
        await withAdmin(kafka, (admin) => admin.setOffsets({ groupId, topic, partitions }), {
          clock: this.clock,
        });
        this.log.info({ partitions }, 'replay position saved after leaving the group');
        return;
      } catch (e) {
        if (this.clock.now() >= deadline) {
          throw new KafkaError(
            'REPLAY_COMMIT_FAILED',
            `replay group ${groupId}: position ${JSON.stringify(partitions)} not saved: ${toError(e).message}; the next run sends those records again`,
            true,
            e,
          );
        }
      }
      await this.clock.sleep(COMMIT_AFTER_LEAVING_RETRY_MS);
    }
  }

  /**
   * Per partition with records: where the read starts (low watermark), where it ends (high
   * watermark, exclusive) and the group's position (entries below it are `earlier`).
   */
  private async endOffsets(): Promise<{
    ends: Map<number, number>;
    starts: Map<number, number>;
    positions: Map<number, number>;
  }> {
    const { kafka, topic, groupId } = this.options;
    const committed = await withAdmin(
      kafka,
      async (admin) => {
        // Checked first: KafkaJS would retry a missing topic for a while and end in a vague error.
        if (!(await topicExists(admin, topic))) {
          throw new KafkaError(
            'REPLAY_DLQ_TOPIC_MISSING',
            `DLQ topic ${topic} does not exist (see --dlq-topic)`,
            false,
          );
        }
        return admin.fetchOffsets({ groupId, topics: [topic] });
      },
      { clock: this.clock },
    );
    const marks = await topicWatermarks(kafka, topic, undefined, this.clock);
    const startOf = new Map<number, number>();
    for (const p of committed.find((t) => t.topic === topic)?.partitions ?? [])
      startOf.set(p.partition, Number(p.offset));
    const ends = new Map<number, number>();
    const starts = new Map<number, number>();
    const positions = new Map<number, number>();
    let total = 0;
    for (const [partition, { low, high }] of marks) {
      const c = startOf.get(partition) ?? -1;
      // No commit yet, or a commit below what retention kept: nothing of it is earlier.
      positions.set(partition, c < low ? low : c);
      if (low < high) {
        ends.set(partition, high);
        starts.set(partition, low);
        total += high - low;
      }
    }
    this.total = total;
    this.log.info({ partitions: ends.size, total }, 'replay range fixed at the current watermarks');
    return { ends, starts, positions };
  }
}
