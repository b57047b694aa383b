// Replay: reads dead letters from a source (the DLQ topic or NDJSON files), filters them and
// produces each original record back to its topic, rate-limited, with replay headers. The
// core takes its source, target and clock as arguments; replay-cli.ts wires the real ones.
import type { IHeaders } from 'kafkajs';
import type { Logger } from 'pino';
import type { DeadLetter, DeadLetterReason } from '../core/dead-letter.js';
import { KafkaError, SinkError } from '../core/errors.js';
import { sendableHeaders } from './topic-dlq.js';
import { DlqCensus, sourceKey } from './dlq-census.js';

export const REPLAY_HEADER = 'mds.replay';
export const REPLAY_SOURCE_HEADER = 'mds.replay.source';

/**
 * One entry read from a source; one that cannot be decoded is reported, not fatal. `earlier`
 * entries lie behind the source's position (an earlier replay went past them): they are
 * counted and remembered as sent, never sent again.
 */
export type SourceEntry =
  | { readonly ok: true; readonly where: string; readonly deadLetter: DeadLetter; readonly earlier?: boolean }
  | { readonly ok: false; readonly where: string; readonly error: string; readonly earlier?: boolean };

export interface SourceBatch {
  readonly entries: readonly SourceEntry[];
  /** The first `count` entries are done: the source may move its position past them. */
  ack(count: number): Promise<void>;
}

export interface DeadLetterSource {
  /** Batches in source order, ending at the end of the input (as the source defines it). */
  batches(): AsyncIterable<SourceBatch>;
  /** Entries the source expects to read, once known (for the progress bar). */
  expectedTotal(): number | undefined;
}

export interface ReplayMessage {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
}

/** A message as the target placed it: its partition and offset, or offset -1 when unknown. */
export interface SentRecord {
  readonly message: ReplayMessage;
  readonly partition: number;
  readonly offset: number;
}

export interface ReplayTarget {
  /** Resolves when every message is acknowledged by the broker (acks=all); in input order. */
  send(messages: readonly ReplayMessage[]): Promise<SentRecord[]>;
  /**
   * Of the sent records, those not in the log at their partition and offset. A client can
   * resolve a send whose records a broker failure then loses; replay sends those again
   * before it moves the source's position.
   */
  confirm?(sent: readonly SentRecord[]): Promise<SentRecord[]>;
}

export interface ReplayClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: ReplayClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface ReplayFilter {
  /** Original topics (exact names). */
  readonly topics?: readonly string[];
  readonly reasons?: readonly DeadLetterReason[];
  readonly errorCodes?: readonly string[];
  /** Dead-lettered at or after (failedAt, epoch ms). */
  readonly since?: number;
  /** Dead-lettered before (failedAt, epoch ms). */
  readonly until?: number;
}

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
  readonly clock?: ReplayClock;
  /** Called after every acknowledged step with the running counts. */
  readonly progress?: (counts: Readonly<ReplayCounts>) => void;
  /** Dry-run lines, one per matching record. */
  readonly output?: (line: string) => void;
  readonly logger?: Logger;
}

/**
 * Token bucket: `rate` tokens per second, at most `burst` stored. `take` answers how long to
 * wait instead of sleeping, so the caller can send what it holds before it waits.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly clock: Pick<ReplayClock, 'now'>,
    private readonly burst = Math.max(1, rate),
  ) {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`rate: expected a number > 0, got ${rate}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes one token and returns 0, or returns the ms until one is available (nothing taken). */
  take(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}

export function matchesFilter(d: DeadLetter, f: ReplayFilter): boolean {
  if (f.topics !== undefined && !f.topics.includes(d.topic)) return false;
  if (f.reasons !== undefined && !f.reasons.includes(d.reason)) return false;
  if (f.errorCodes !== undefined && !f.errorCodes.includes(d.errorCode)) return false;
  if (f.since !== undefined && d.failedAt < f.since) return false;
  if (f.until !== undefined && d.failedAt >= f.until) return false;
  return true;
}

/** The original record with the replay headers (ours replace any from an earlier replay). */
export function replayMessage(d: DeadLetter, toTopic?: string): ReplayMessage {
  const headers = sendableHeaders(d.headers, [REPLAY_HEADER, REPLAY_SOURCE_HEADER]);
  headers[REPLAY_HEADER] = '1';
  headers[REPLAY_SOURCE_HEADER] = `${d.topic}/${d.partition}/${d.offset}`;
  return { topic: toTopic ?? d.topic, key: d.key, value: d.value, headers };
}

export function formatDryRunLine(d: DeadLetter, toTopic?: string): string {
  const to = toTopic ?? d.topic;
  return `${d.topic}/${d.partition}/${d.offset} -> ${to} reason=${d.reason} error=${d.errorCode} failedAt=${new Date(d.failedAt).toISOString()}`;
}

export function formatCounts(c: Readonly<ReplayCounts>): string {
  const reasons = Object.entries(c.byReason)
    .map(([r, n]) => `${r}=${n}`)
    .join(' ');
  return (
    `entries=${c.entries} distinct=${c.distinct} duplicates=${c.duplicates} earlier=${c.earlier} ` +
    `read=${c.read} matched=${c.matched} replayed=${c.replayed} alreadySent=${c.alreadySent} ` +
    `resent=${c.resent} skipped=${c.skipped} invalid=${c.invalid} by reason: ${reasons === '' ? 'none' : reasons}`
  );
}

export function formatSummary(s: ReplaySummary): string {
  const head = s.dryRun ? 'replay dry run' : 'replay';
  const end = s.stoppedBy === 'end' ? '' : ` (stopped by ${s.stoppedBy})`;
  return `${head} done${end}: ${formatCounts(s)}`;
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
