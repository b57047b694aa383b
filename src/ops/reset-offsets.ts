// reset-offsets: moves a stopped group's offsets for one topic (or one partition of it) in
// both stores. Order: PostgreSQL first (one compare-and-set transaction,
// sink-offsets-write.ts), then Kafka, then a read-back of PostgreSQL. The
// sink trusts sink_offsets both ways: on assignment it seeks every partition to next_offset
// and commits that to Kafka, so a Kafka write that fails after PostgreSQL moved leaves a
// state the sink itself repairs on start; running the same command again converges too.
// Refused while the group has live members: a running member would keep its position and
// move sink_offsets forward again with its next batch.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { KafkaError, SinkError, toError } from '../core/errors.js';
import { unlessAborted } from '../util/bounded-wait.js';
import { compareAndSetOffsets, offsetsDiffering } from './sink-offsets-write.js';
import { textTable } from './text-table.js';
import {
  groupMembers,
  readPartitionOffsets,
  type GroupMember,
  type PartitionOffsets,
} from './group-offsets.js';

export type ResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'offset'; readonly offset: number }
  /** Epoch milliseconds: the first record whose timestamp is at or after it. */
  | { readonly kind: 'datetime'; readonly at: number }
  | { readonly kind: 'shift'; readonly by: number };

export interface ResetRequest {
  readonly groupId: string;
  readonly topic: string;
  /** Only this partition; all of the topic's when undefined. */
  readonly partition: number | undefined;
  readonly target: ResetTarget;
  /** False: compute and report, change nothing. */
  readonly execute: boolean;
}

export interface ResetMove {
  readonly topic: string;
  readonly partition: number;
  readonly storedBefore: number | null;
  readonly committedBefore: number | null;
  readonly after: number;
  readonly logStart: number;
  readonly logEnd: number;
  /** The target lay outside the log and was moved to its nearest end. */
  readonly clamped: boolean;
}

export interface ResetDeps {
  readonly admin: Admin;
  readonly db: pg.Pool;
  /** DATABASE_SCHEMA: where sink_offsets is. */
  readonly schema: string;
  /** Deadline of the Kafka write; RESET_KAFKA_TIMEOUT_MS unless given. */
  readonly kafkaTimeoutMs?: number;
}

/** How long the Kafka write (KafkaJS's temporary member joining the group) may take. */
const RESET_KAFKA_TIMEOUT_MS = 60_000;

/** The group has live members; the message names them. Nothing was changed when `moved` is false. */
export class GroupActiveError extends SinkError {
  /** sink_offsets was written before the members were seen: a failure, not a refusal. */
  readonly moved: boolean;
  constructor(groupId: string, members: readonly GroupMember[], moved: boolean) {
    const who = members.map((m) => `${m.memberId} (client ${m.clientId}, host ${m.clientHost})`).join(', ');
    super(
      'GROUP_ACTIVE',
      moved
        ? `group ${groupId} got live members while resetting: ${who}. sink_offsets was moved, Kafka's committed offsets were not; stop every member and run the same command again`
        : `group ${groupId} has live members: ${who}; stop every member first (nothing was changed)`,
      { retriable: true },
    );
    this.moved = moved;
  }
}

export async function resetOffsets(req: ResetRequest, d: ResetDeps): Promise<ResetMove[]> {
  const moves = await planReset(req, d);
  if (req.execute) await applyReset(req, moves, d);
  return moves;
}

/** Reads both stores and the log and computes each partition's move; changes nothing. */
export async function planReset(req: ResetRequest, d: ResetDeps): Promise<ResetMove[]> {
  const before = await groupMembers(d.admin, req.groupId);
  if (before.members.length > 0) throw new GroupActiveError(req.groupId, before.members, false);

  const all = await readPartitionOffsets(d.admin, d.db, d.schema, req.groupId, [req.topic]);
  const current = all.filter((p) => req.partition === undefined || p.partition === req.partition);
  if (current.length === 0)
    throw new SinkError(
      'NO_SUCH_PARTITION',
      `topic ${req.topic} has no partition ${req.partition ?? ''} (it has ${all.length})`,
    );
  const byTime =
    req.target.kind === 'datetime'
      ? new Map(
          (await d.admin.fetchTopicOffsetsByTimestamp(req.topic, req.target.at)).map((p) => [
            p.partition,
            Number(p.offset),
          ]),
        )
      : null;

  return current.map((p) => planMove(p, req.target, byTime?.get(p.partition)));
}

/**
 * Writes a plan: sink_offsets (compare-and-set against what the plan read), then Kafka's
 * committed offsets within `kafkaTimeoutMs`, then reads sink_offsets back: a member that ran
 * meanwhile (a zombie still writing, one that joined and left between the checks) moves it
 * forward again, and the command must not report a reset that no longer holds.
 */
export async function applyReset(
  req: ResetRequest,
  moves: readonly ResetMove[],
  d: ResetDeps,
): Promise<void> {
  const at = { schema: d.schema, groupId: req.groupId, topic: req.topic };
  const writes = moves.map((m) => ({ partition: m.partition, expected: m.storedBefore, next: m.after }));
  await compareAndSetOffsets(d.db, at, writes);
  // A member that joined since the check may already have read the old offsets; Kafka would
  // refuse the commit for a non-empty group anyway. Say so rather than report success.
  const during = await groupMembers(d.admin, req.groupId);
  if (during.members.length > 0) throw new GroupActiveError(req.groupId, during.members, true);
  const kafkaTimeoutMs = d.kafkaTimeoutMs ?? RESET_KAFKA_TIMEOUT_MS;
  try {
    // KafkaJS joins the group with a temporary member and resolves on its first fetch; a join
    // that keeps failing would keep the command waiting, so it gets a deadline. The member is
    // not cancelled: it leaves when the process exits, or commits the same values if it joins.
    await unlessAborted(
      `no answer within ${kafkaTimeoutMs} ms`,
      d.admin.setOffsets({
        groupId: req.groupId,
        topic: req.topic,
        partitions: moves.map((m) => ({ partition: m.partition, offset: String(m.after) })),
      }),
      AbortSignal.timeout(kafkaTimeoutMs),
    );
  } catch (e) {
    throw new KafkaError(
      'RESET_KAFKA_FAILED',
      `sink_offsets was moved, Kafka's committed offsets were not (${toError(e).message}); ` +
        'the sink seeks to sink_offsets and commits them to Kafka when it starts, or run the same command again',
      true,
      e,
    );
  }
  const undone = await offsetsDiffering(d.db, at, writes);
  if (undone.length > 0)
    throw new SinkError(
      'RESET_UNDONE',
      `sink_offsets moved again during the reset (${undone.join('; ')}): a member still ran. ` +
        'Stop every member and run the same command again',
    );
}

/**
 * Where one partition goes: the target, clamped to the log. A shift counts from the stored
 * next_offset (the truth), else Kafka's committed offset, else the log start; a time past
 * the last record (no offset for it) means the log end.
 */
export function planMove(p: PartitionOffsets, t: ResetTarget, offsetAtTime: number | undefined): ResetMove {
  const wanted =
    t.kind === 'earliest'
      ? p.logStart
      : t.kind === 'latest'
        ? p.logEnd
        : t.kind === 'offset'
          ? t.offset
          : t.kind === 'datetime'
            ? (offsetAtTime ?? p.logEnd)
            : (p.stored ?? p.committed ?? p.logStart) + t.by;
  const after = Math.min(p.logEnd, Math.max(p.logStart, wanted));
  return {
    topic: p.topic,
    partition: p.partition,
    storedBefore: p.stored,
    committedBefore: p.committed,
    after,
    logStart: p.logStart,
    logEnd: p.logEnd,
    clamped: after !== wanted,
  };
}

/** One line per partition: before → after in both stores, for a terminal or a log. */
export function formatMoves(req: ResetRequest, moves: readonly ResetMove[]): string {
  const n = (v: number | null): string => (v === null ? '-' : String(v));
  const rows = moves.map((m) => [
    String(m.partition),
    `${n(m.storedBefore)} → ${m.after}`,
    `${n(m.committedBefore)} → ${m.after}`,
    `${m.logStart}..${m.logEnd}`,
    m.clamped ? 'clamped to the log' : '',
  ]);
  const head = req.execute
    ? `reset-offsets: group ${req.groupId}, topic ${req.topic}: applied (PostgreSQL, then Kafka)`
    : `reset-offsets: group ${req.groupId}, topic ${req.topic}: dry run, nothing changed (--execute applies)`;
  return `${head}\n${textTable(['partition', 'sink_offsets', 'kafka committed', 'log', ''], rows)}`;
}
