// Replay: reads dead letters from a source (the DLQ topic or NDJSON files), filters them and
// produces each original record back to its topic, rate-limited, with replay headers. The
// core takes its source, target and clock as arguments; replay-cli.ts wires the real ones.
import { Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { DeadLetter, DeadLetterReason } from '../core/dead-letter.js';
import { KafkaError, SinkError, toError } from '../core/errors.js';
import { sendableHeaders } from './topic-dlq.js';

export const REPLAY_HEADER = 'mds.replay';
export const REPLAY_SOURCE_HEADER = 'mds.replay.source';

/** One entry read from a source; one that cannot be decoded is reported, not fatal. */
export type SourceEntry =
  | { readonly ok: true; readonly where: string; readonly deadLetter: DeadLetter }
  | { readonly ok: false; readonly where: string; readonly error: string };

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

export interface ReplayTarget {
  /** Resolves when every message is acknowledged by the broker (acks=all). */
  send(messages: readonly ReplayMessage[]): Promise<void>;
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
  /** Stops after the record in progress; what was sent is acknowledged first. */
  readonly signal?: AbortSignal;
}

export interface ReplayCounts {
  read: number;
  matched: number;
  replayed: number;
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
  return `read=${c.read} matched=${c.matched} replayed=${c.replayed} skipped=${c.skipped} invalid=${c.invalid} by reason: ${reasons === '' ? 'none' : reasons}`;
}

export function formatSummary(s: ReplaySummary): string {
  const head = s.dryRun ? 'replay dry run' : 'replay';
  const end = s.stoppedBy === 'end' ? '' : ` (stopped by ${s.stoppedBy})`;
  return `${head} done${end}: ${formatCounts(s)}`;
}

/**
 * Reads the source to its end, sends every matching record and acknowledges each sent chunk
 * to the source (for the DLQ topic: commits the replay group's offsets), so an interrupted
 * replay resumes after the last chunk the broker acknowledged.
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
  const counts: ReplayCounts = {
    read: 0,
    matched: 0,
    replayed: 0,
    skipped: 0,
    invalid: 0,
    byReason: {},
    expected: undefined,
  };
  let stoppedBy: ReplaySummary['stoppedBy'] = 'end';
  const report = (): void => {
    counts.expected = deps.source.expectedTotal();
    deps.progress?.(counts);
  };

  for await (const batch of deps.source.batches()) {
    let pending: ReplayMessage[] = [];
    /** Entries of this batch that are fully handled once `pending` is sent. */
    let handled = 0;
    const flush = async (): Promise<void> => {
      if (pending.length > 0) {
        await target!.send(pending);
        counts.replayed += pending.length;
        pending = [];
      }
      await batch.ack(handled);
      report();
    };

    for (const entry of batch.entries) {
      if (options.signal?.aborted === true) {
        stoppedBy = 'abort';
        break;
      }
      counts.read++;
      if (!entry.ok) {
        counts.invalid++;
        deps.logger?.warn(
          { where: entry.where, error: entry.error },
          'dead letter could not be decoded: skipped',
        );
      } else if (!matchesFilter(entry.deadLetter, filter)) {
        counts.skipped++;
      } else {
        const d = entry.deadLetter;
        counts.matched++;
        counts.byReason[d.reason] = (counts.byReason[d.reason] ?? 0) + 1;
        if (dryRun) {
          deps.output?.(formatDryRunLine(d, options.toTopic));
        } else {
          if (bucket !== undefined) {
            // Send what we hold before waiting, so the target sees the configured rate and
            // a crash during the wait loses no acknowledged work.
            for (let wait = bucket.take(); wait > 0; wait = bucket.take()) {
              await flush();
              await clock.sleep(wait);
            }
          }
          pending.push(replayMessage(d, options.toTopic));
        }
      }
      handled++;
      if (pending.length >= maxSend) await flush();
      if (options.limit !== undefined && counts.matched >= options.limit) {
        stoppedBy = 'limit';
        break;
      }
    }
    await flush();
    if (stoppedBy !== 'end') break;
  }
  return { ...counts, byReason: { ...counts.byReason }, dryRun, stoppedBy };
}

// ---------------------------------------------------------------------------------------
// Kafka target

export interface KafkaReplayTargetOptions {
  readonly kafka: Kafka;
  readonly logger: Logger;
}

/** Idempotent, acks=all producer; checks each target topic exists before its first send. */
export class KafkaReplayTarget implements ReplayTarget {
  private producer: Producer | null = null;
  private readonly known = new Set<string>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: KafkaReplayTargetOptions) {}

  async start(): Promise<void> {
    const producer = this.options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // Same key → same partition as the original producer (both use Kafka's murmur2).
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      // Bounded, unlike KafkaJS's idempotent default: an outage ends the run with exit 1 and
      // the next run resumes from the last acknowledged chunk, instead of hanging.
      retry: { retries: 5 },
    });
    await producer.connect();
    this.producer = producer;
  }

  async send(messages: readonly ReplayMessage[]): Promise<void> {
    if (this.producer === null)
      throw new SinkError('REPLAY_NOT_STARTED', 'replay target: send before start()');
    const byTopic = new Map<string, { key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value, headers: m.headers });
      byTopic.set(m.topic, list);
    }
    await this.checkTopics([...byTopic.keys()]);
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
      });
    } catch (e) {
      throw new KafkaError(
        'REPLAY_SEND_FAILED',
        `replay: send of ${messages.length} records failed: ${toError(e).message}`,
        true,
        e,
      );
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const p = this.producer;
      this.producer = null;
      if (p !== null) await p.disconnect();
    })();
    return this.closing;
  }

  /** Without this, a missing topic shows up as a long retry loop ending in a vague error. */
  private async checkTopics(topics: readonly string[]): Promise<void> {
    const unknown = topics.filter((t) => !this.known.has(t));
    if (unknown.length === 0) return;
    const admin = this.options.kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = unknown.filter((t) => !existing.has(t));
      if (missing.length > 0) {
        throw new KafkaError(
          'REPLAY_TOPIC_MISSING',
          `replay: target topic ${missing.join(', ')} does not exist`,
          false,
        );
      }
      for (const t of unknown) this.known.add(t);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
