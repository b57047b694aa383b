// Reconcile the two DLQ destinations: every dead letter goes to the topic and to the NDJSON
// files, but a Kafka client can resolve a send whose records a broker failure then loses. This
// compares both over a range (by source record: topic, partition, offset), reports what either
// lacks and, on request, sends the topic's missing entries again from the files, confirming by
// reading the topic back.
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { DeadLetter, DeadLetterSink } from '../core/dead-letter.js';
import { SinkError, toError } from '../core/errors.js';
import { sourceKey } from '../dlq/dlq-census.js';
import type { DeadLetterSource } from '../dlq/source.js';
import { deadLetterFromKafkaMessage } from '../dlq/topic/codec.js';
import { readRanges, wholeTopic } from '../kafka/range-reader.js';
import { matchesFilter, type ReplayFilter } from './filter.js';

export interface SideCounts {
  /** Entries in the range (decodable ones). */
  entries: number;
  /** Distinct source records among them. */
  distinct: number;
  /** Entries that could not be decoded (anywhere, in range or not). */
  invalid: number;
}

export interface ReconcileDiff {
  readonly topic: SideCounts;
  readonly files: SideCounts;
  /** In the files (within the range), nowhere in the topic: one entry per source record. */
  readonly missingFromTopic: readonly DeadLetter[];
  /** In the topic (within the range), nowhere in the files. */
  readonly missingFromFiles: readonly DeadLetter[];
}

/**
 * What each destination holds, by source record. A record counts as present on a side if that
 * side has it at any time: the other copy of one write carries the same failedAt, but a record
 * dead-lettered twice may have its two copies on either side of the range's edge.
 */
export class ReconcileIndex {
  private readonly inTopic = new Set<string>();
  private readonly inFiles = new Set<string>();
  /** In-range entries, first per source record (files: kept whole, they are what a repair sends). */
  private readonly topicInRange = new Map<string, DeadLetter>();
  private readonly filesInRange = new Map<string, DeadLetter>();
  private readonly topicCounts: SideCounts = { entries: 0, distinct: 0, invalid: 0 };
  private readonly fileCounts: SideCounts = { entries: 0, distinct: 0, invalid: 0 };

  constructor(private readonly filter: ReplayFilter) {}

  addTopic(d: DeadLetter): void {
    this.add(d, this.inTopic, this.topicInRange, this.topicCounts);
  }

  addFile(d: DeadLetter): void {
    this.add(d, this.inFiles, this.filesInRange, this.fileCounts);
  }

  invalidTopic(): void {
    this.topicCounts.invalid++;
  }

  invalidFile(): void {
    this.fileCounts.invalid++;
  }

  diff(): ReconcileDiff {
    const missing = (from: Map<string, DeadLetter>, other: Set<string>): DeadLetter[] =>
      [...from].filter(([k]) => !other.has(k)).map(([, d]) => d);
    return {
      topic: { ...this.topicCounts, distinct: this.topicInRange.size },
      files: { ...this.fileCounts, distinct: this.filesInRange.size },
      missingFromTopic: missing(this.filesInRange, this.inTopic),
      missingFromFiles: missing(this.topicInRange, this.inFiles),
    };
  }

  private add(d: DeadLetter, all: Set<string>, inRange: Map<string, DeadLetter>, counts: SideCounts): void {
    const key = sourceKey(d);
    all.add(key);
    if (!matchesFilter(d, this.filter)) return;
    counts.entries++;
    if (!inRange.has(key)) inRange.set(key, d);
  }
}

export interface ReconcileOptions {
  readonly filter: ReplayFilter;
  /** Send the topic's missing entries from the files, then read the topic back. */
  readonly repair: boolean;
  /** Rounds of repair before giving up (default 3). */
  readonly maxRepairs?: number;
}

export interface ReconcileDeps {
  /** Every entry of the DLQ topic (decoded), or an error text for one that is not decodable. */
  readTopic(add: (d: DeadLetter) => void, invalid: (where: string, error: string) => void): Promise<void>;
  readonly files: DeadLetterSource;
  /** Where a repair writes (the DLQ topic writer); required with `repair`. */
  readonly topicSink?: DeadLetterSink;
  readonly logger?: Logger;
}

export interface ReconcileResult {
  /** Before any repair. */
  readonly first: ReconcileDiff;
  /** After the last repair round (same as `first` without repair). */
  readonly last: ReconcileDiff;
  /** Entries sent to the topic by the repair, over all rounds. */
  readonly repaired: number;
}

async function compare(filter: ReplayFilter, deps: ReconcileDeps): Promise<ReconcileDiff> {
  const index = new ReconcileIndex(filter);
  const warnInvalid = (side: string) => (where: string, error: string) =>
    deps.logger?.warn({ where, error, side }, 'dead letter could not be decoded: not compared');
  const topicInvalid = warnInvalid('topic');
  await deps.readTopic(
    (d) => index.addTopic(d),
    (where, error) => {
      index.invalidTopic();
      topicInvalid(where, error);
    },
  );
  const fileInvalid = warnInvalid('files');
  for await (const batch of deps.files.batches()) {
    for (const e of batch.entries) {
      if (e.ok) index.addFile(e.deadLetter);
      else {
        index.invalidFile();
        fileInvalid(e.where, e.error);
      }
    }
  }
  return index.diff();
}

export async function reconcile(options: ReconcileOptions, deps: ReconcileDeps): Promise<ReconcileResult> {
  const first = await compare(options.filter, deps);
  let last = first;
  let repaired = 0;
  const maxRepairs = options.maxRepairs ?? 3;
  for (let round = 0; options.repair && last.missingFromTopic.length > 0 && round < maxRepairs; round++) {
    if (deps.topicSink === undefined)
      throw new SinkError('RECONCILE_NO_WRITER', 'reconcile: a repair needs the DLQ topic writer');
    await deps.topicSink.write(last.missingFromTopic);
    repaired += last.missingFromTopic.length;
    // Read back rather than trust the send: the client that lost them once can do it again.
    last = await compare(options.filter, deps);
  }
  return { first, last, repaired };
}

/** The DLQ topic from its low to its high watermark as of now, every partition. */
export function topicReader(
  kafka: Kafka,
  topic: string,
  logger: Logger,
  stallTimeoutMs: number,
): ReconcileDeps['readTopic'] {
  return async (add, invalid) => {
    // A read that starts over after a broker loss hands out some messages again.
    const seen = new Set<string>();
    const onMessage = (t: string, partition: number, m: KafkaMessage): void => {
      const at = `${partition}/${m.offset}`;
      if (seen.has(at)) return;
      seen.add(at);
      try {
        add(deadLetterFromKafkaMessage(m));
      } catch (e) {
        invalid(`${t}/${partition}/${m.offset}`, toError(e).message);
      }
    };
    await readRanges(await wholeTopic(kafka, topic), onMessage, { kafka, logger, stallTimeoutMs });
  };
}

export function formatDiff(d: ReconcileDiff): string {
  return (
    `topic entries=${d.topic.entries} distinct=${d.topic.distinct} invalid=${d.topic.invalid}; ` +
    `files entries=${d.files.entries} distinct=${d.files.distinct} invalid=${d.files.invalid}; ` +
    `missing from topic: ${d.missingFromTopic.length}, missing from files: ${d.missingFromFiles.length}`
  );
}

export function formatMissing(side: 'topic' | 'files', d: DeadLetter): string {
  return `missing-from-${side} ${sourceKey(d)} reason=${d.reason} error=${d.errorCode} failedAt=${new Date(d.failedAt).toISOString()}`;
}
