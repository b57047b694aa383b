// Replay: reads dead letters from a source (the DLQ topic or NDJSON files), filters them and
// produces each original record back to its topic, rate-limited, with replay headers. The
// loop takes its source, target and clock as arguments; cli.ts wires the real ones.
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { KafkaError, SinkError } from '../core/errors.js';
import { DlqCensus, sourceKey } from '../dlq/dlq-census.js';
import type { DeadLetterReason } from '../core/dead-letter.js';
import type { DeadLetterSource } from '../dlq/source.js';
import { matchesFilter, type ReplayFilter } from './filter.js';
import { formatDryRunLine } from './format.js';
import {
  REPLAY_SOURCE_HEADER,
  replayMessage,
  type ReplayMessage,
  type ReplayTarget,
  type SentRecord,
} from './message.js';
import { TokenBucket } from './token-bucket.js';

export interface ReplayOptions {
  readonly filter?: ReplayFilter;
  /** Stop after this many matching records. */
  readonly limit?: number;
  /** Print what would be sent; send nothing, move no source position for good. */
  readonly dryRun?: boolean;
  /** Records per second (token bucket, one second of burst); unlimited when absent. */
  readonly rate?: number;
  /** Send everything here instead of each record's original topic. */
  readonly toTopic?: string;
  /** Most records in one send (default 500). */
  readonly maxSendBatch?: number;
  /** Rounds of re-sending records the target could not confirm before failing (default 3). */
  readonly maxResends?: number;
  /** Stops after the record in progress; what was sent is acknowledged first. */
  readonly signal?: AbortSignal;
}

export interface ReplayCounts {
  /** Every DLQ entry read, behind the source's position or not, decodable or not. */
  entries: number;
  /** Distinct source records (topic, partition, offset) among the decodable entries. */
  distinct: number;
  /** Decodable entries whose source record was already among those read. */
  duplicates: number;
  /** Entries behind the source's position (replayed or skipped by an earlier run). */
  earlier: number;
  /** Entries from the source's position on. */
  read: number;
  matched: number;
  replayed: number;
  /** Matching entries not sent: their source record was sent already (by this run or an earlier one). */
  alreadySent: number;
  /** Records sent again because the target could not find them in the log. */
  resent: number;
  /** Read but not matching the filter. */
  skipped: number;
  /** Could not be decoded (reported with where and why). */
  invalid: number;
  /** Matching records per reason. */
  byReason: Partial<Record<DeadLetterReason, number>>;
  /** Entries the source expects in total, when known. */
  expected: number | undefined;
}

export interface ReplaySummary extends ReplayCounts {
  readonly dryRun: boolean;
  readonly stoppedBy: 'end' | 'limit' | 'abort';
}

export interface ReplayDeps {
  readonly source: DeadLetterSource;
  /** Required unless dryRun. */
  readonly target?: ReplayTarget;
  readonly clock?: Clock;
  /** Called after every acknowledged step with the running counts. */
  readonly progress?: (counts: Readonly<ReplayCounts>) => void;
  /** Dry-run lines, one per matching record. */
  readonly output?: (line: string) => void;
  readonly logger?: Logger;
}

/**
 * Reads the source to its end and sends every matching source record once, however often it
 * was dead-lettered. Before each acknowledgement to the source (for the DLQ topic: a commit of
 * the replay group's offsets) the target confirms what was sent, so an interrupted replay
 * resumes after the last confirmed chunk and a record the client lost is sent again.
 */
export async function replay(options: ReplayOptions, deps: ReplayDeps): Promise<ReplaySummary> {
  const dryRun = options.dryRun ?? false;
  const target = deps.target;
  if (!dryRun && target === undefined)
    throw new SinkError('REPLAY_NO_TARGET', 'replay: a target is required unless dryRun');
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit > 0)) {
    throw new RangeError(`limit: expected an integer > 0, got ${options.limit}`);
  }
  const clock = deps.clock ?? systemClock;
  const bucket = options.rate === undefined ? undefined : new TokenBucket(options.rate, clock);
  const filter = options.filter ?? {};
  const maxSend = options.maxSendBatch ?? 500;
  const maxResends = options.maxResends ?? 3;
  const census = new DlqCensus();
  /** Source records sent by this run, or behind the source's position and matching the filter. */
  const sent = new Set<string>();
  const counts: ReplayCounts = {
    entries: 0,
    distinct: 0,
    duplicates: 0,
    earlier: 0,
    read: 0,
    matched: 0,
    replayed: 0,
    alreadySent: 0,
    resent: 0,
    skipped: 0,
    invalid: 0,
    byReason: {},
    expected: undefined,
  };
  let stoppedBy: ReplaySummary['stoppedBy'] = 'end';
  const report = (): void => {
    counts.entries = census.entries;
    counts.distinct = census.distinct;
    counts.duplicates = census.duplicates;
    counts.expected = deps.source.expectedTotal();
    deps.progress?.(counts);
  };

  for await (const batch of deps.source.batches()) {
    let pending: ReplayMessage[] = [];
    /** Sent since the last acknowledgement, not yet confirmed in the log. */
    let unconfirmed: SentRecord[] = [];
    /** Entries of this batch that are fully handled once `pending` is sent and confirmed. */
    let handled = 0;
    const send = async (): Promise<void> => {
      if (pending.length === 0) return;
      unconfirmed.push(...(await target!.send(pending)));
      counts.replayed += pending.length;
      pending = [];
    };
    const confirm = async (): Promise<void> => {
      if (target?.confirm === undefined) {
        unconfirmed = [];
        return;
      }
      for (let round = 0; unconfirmed.length > 0; round++) {
        const missing = await target.confirm(unconfirmed);
        if (missing.length === 0) break;
        const first = missing[0]!;
        if (round >= maxResends) {
          throw new KafkaError(
            'REPLAY_UNCONFIRMED',
            `replay: ${missing.length} sent records still not in the log after ${maxResends} resends (first: ${first.message.headers[REPLAY_SOURCE_HEADER] as string} to ${first.message.topic}/${first.partition} at ${first.offset}); the replay position was not moved past them`,
            true,
          );
        }
        deps.logger?.warn(
          { missing: missing.length, round: round + 1, topic: first.message.topic },
          'sent records not found in the log: sending them again',
        );
        unconfirmed = await target.send(missing.map((m) => m.message));
        counts.resent += missing.length;
      }
      unconfirmed = [];
    };
    const flush = async (): Promise<void> => {
      await send();
      await confirm();
      await batch.ack(handled);
      report();
    };

    for (const entry of batch.entries) {
      if (options.signal?.aborted === true) {
        stoppedBy = 'abort';
        break;
      }
      if (entry.earlier === true) {
        counts.earlier++;
        if (!entry.ok) census.addInvalid();
        else {
          census.add(entry.deadLetter);
          if (matchesFilter(entry.deadLetter, filter)) sent.add(sourceKey(entry.deadLetter));
        }
        handled++;
        continue;
      }
      counts.read++;
      if (!entry.ok) {
        census.addInvalid();
        counts.invalid++;
        deps.logger?.warn(
          { where: entry.where, error: entry.error },
          'dead letter could not be decoded: skipped',
        );
      } else if (!matchesFilter(entry.deadLetter, filter)) {
        census.add(entry.deadLetter);
        counts.skipped++;
      } else {
        const d = entry.deadLetter;
        census.add(d);
        counts.matched++;
        counts.byReason[d.reason] = (counts.byReason[d.reason] ?? 0) + 1;
        const key = sourceKey(d);
        if (sent.has(key)) {
          counts.alreadySent++;
        } else if (dryRun) {
          sent.add(key);
          deps.output?.(formatDryRunLine(d, options.toTopic));
        } else {
          sent.add(key);
          if (bucket !== undefined) {
            // Send what we hold before waiting, so the target sees the configured rate.
            for (let wait = bucket.take(); wait > 0; wait = bucket.take()) {
              await send();
              await clock.sleep(wait);
            }
          }
          pending.push(replayMessage(d, options.toTopic));
        }
      }
      handled++;
      if (pending.length + unconfirmed.length >= maxSend) await flush();
      if (options.limit !== undefined && counts.matched >= options.limit) {
        stoppedBy = 'limit';
        break;
      }
    }
    await flush();
    if (stoppedBy !== 'end') break;
  }
  report();
  return { ...counts, byReason: { ...counts.byReason }, dryRun, stoppedBy };
}
