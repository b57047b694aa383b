// Reads given offset ranges of Kafka partitions once, without committing anything: the read-back
// of a replay's sends and reconcile's view of the whole DLQ topic. KafkaJS has no manual
// assignment, so this joins a throwaway group of its own, seeks and pauses what it does not need.
import crypto from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { KafkaError, toError } from '../core/errors.js';
import { topicWatermarks, withAdmin } from './admin.js';

/** Offsets [from, to) of one partition. */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

export interface ReadRangesOptions {
  readonly kafka: Kafka;
  readonly logger: Logger;
  /** Fail when no range made progress for this long (default 30 s). */
  readonly stallTimeoutMs?: number;
  readonly clock?: Clock;
}

/** How often the read checks whether it is done, stalled or failed. */
const POLL_MS = 50;

const partKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * Every partition of `topic` from its low to its high watermark as of now: a read of the
 * whole topic that ends, whatever is written meanwhile.
 */
export async function wholeTopic(kafka: Kafka, topic: string): Promise<PartitionRange[]> {
  return [...(await topicWatermarks(kafka, topic))]
    .map(([partition, w]) => ({ topic, partition, from: w.low, to: w.high }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Calls `onMessage` for every record in the ranges (each once, in offset order per partition)
 * and resolves when all are read. Ranges past the high watermark end there: what is not in the
 * log cannot be waited for. A read that fails (a broker lost mid-read) starts over, up to
 * `attempts` times (default 3); `onMessage` then sees the records of the failed try again.
 */
export async function readRanges(
  ranges: readonly PartitionRange[],
  onMessage: (topic: string, partition: number, message: KafkaMessage) => void,
  options: ReadRangesOptions & { readonly attempts?: number },
): Promise<void> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await readRangesOnce(ranges, onMessage, options);
    } catch (e) {
      if (attempt >= attempts) throw e;
      options.logger.warn({ err: toError(e), attempt }, 'range read failed: starting over');
    }
  }
}

async function readRangesOnce(
  ranges: readonly PartitionRange[],
  onMessage: (topic: string, partition: number, message: KafkaMessage) => void,
  options: ReadRangesOptions,
): Promise<void> {
  const { kafka } = options;
  const clock = options.clock ?? systemClock;
  const wanted = new Map<string, { from: number; to: number }>();
  for (const topic of new Set(ranges.map((r) => r.topic))) {
    const marks = await topicWatermarks(kafka, topic, undefined, clock);
    for (const r of ranges.filter((x) => x.topic === topic)) {
      const m = marks.get(r.partition);
      if (m === undefined) continue;
      const from = Math.max(r.from, m.low);
      const to = Math.min(r.to, m.high);
      if (from < to) wanted.set(partKey(topic, r.partition), { from, to });
    }
  }
  if (wanted.size === 0) return;

  const topics = [...new Set(ranges.map((r) => r.topic))];
  const groupId = `mds-range-reader-${crypto.randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  const remaining = new Set(wanted.keys());
  let progressAt = clock.now();
  let failure: Error | undefined;
  consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) failure = toError(e.payload.error);
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    progressAt = clock.now();
    // Partitions with nothing to read stay paused, so the fetches serve the wanted ones only.
    for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
      const idle = partitions.filter((p) => !remaining.has(partKey(topic, p)));
      if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    }
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        const key = partKey(batch.topic, batch.partition);
        const range = wanted.get(key);
        if (range === undefined || !remaining.has(key)) {
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          return Promise.resolve();
        }
        for (const m of batch.messages) {
          const o = Number(m.offset);
          if (o >= range.from && o < range.to) onMessage(batch.topic, batch.partition, m);
        }
        progressAt = clock.now();
        if (Number(batch.lastOffset()) + 1 >= range.to) {
          remaining.delete(key);
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
        }
        return Promise.resolve();
      },
    });
    for (const [key, range] of wanted) {
      const [topic, partition] = key.split('\u0000') as [string, string];
      consumer.seek({ topic, partition: Number(partition), offset: String(range.from) });
    }
    const stallMs = options.stallTimeoutMs ?? 30_000;
    while (remaining.size > 0) {
      if (failure !== undefined) throw failure;
      if (clock.now() - progressAt > stallMs) {
        const left = [...remaining].map((k) => k.replace('\u0000', '/')).join(', ');
        throw new KafkaError(
          'RANGE_READ_STALLED',
          `read-back: no progress for ${stallMs} ms, still to read: ${left}`,
          true,
        );
      }
      await clock.sleep(POLL_MS);
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId]), { clock }).catch((e: unknown) =>
      options.logger.debug({ err: toError(e), groupId }, 'read-back group not deleted'),
    );
  }
}
