// The pure decisions of isolating a failed batch: which records probe it, what the probes'
// outcomes say (bound to records, or the environment), and which record of a key is kept.
// The batch writer does the I/O; these are unit-tested on their own.
import type { SinkRecord } from '../core/sink-record.js';
import type { Classified } from '../resilience/classify-error.js';

/**
 * Positions of the records tried alone to tell a record-bound failure from the environment:
 * first, middle and last, distinct, each moved `shift` places on (wrapping). Spread out, so a
 * run of poison records at one end cannot pass for the environment; three, so the check
 * costs three round trips, however large the batch; shifted by the attempt number, so a
 * batch whose probe records all happened to be poison is probed elsewhere next time.
 */
export function probePositions(n: number, shift = 0): number[] {
  if (n <= 0) return [];
  return [...new Set([0, n >>> 1, n - 1].map((p) => (p + shift) % n))];
}

/**
 * The environment's doing when every probe failed alone, the same way, with an error that
 * is neither the row's values (those are isolated) nor passing (transient errors are
 * thrown before a verdict). A single probe proves nothing: a batch of one record has no
 * neighbour to compare with, so its record is isolated as record-bound.
 */
export function probesSayEnvironment(outcomes: readonly (Classified | null)[]): boolean {
  if (outcomes.length < 2) return false;
  const first = outcomes[0];
  if (first === null || first === undefined) return false;
  const code = first.sqlState ?? first.code;
  return outcomes.every(
    (o) =>
      o !== null && (o.kind === 'undecided' || o.kind === 'environment') && (o.sqlState ?? o.code) === code,
  );
}

/**
 * Keeps, per conflict key, the record with the highest offset (the later one in the batch
 * on a tie), in batch order, so one upsert never touches a row twice and an older value
 * never wins over a newer one, whatever order the batch holds them in.
 */
export function latestPerKey(records: readonly SinkRecord[]): SinkRecord[] {
  const best = new Map<string, number>();
  for (let i = 0; i < records.length; i++) {
    const key = records[i]!.conflictKey;
    const j = best.get(key);
    if (j === undefined || records[i]!.offset >= records[j]!.offset) best.set(key, i);
  }
  if (best.size === records.length) return records as SinkRecord[];
  const out: SinkRecord[] = [];
  for (let i = 0; i < records.length; i++) if (best.get(records[i]!.conflictKey) === i) out.push(records[i]!);
  return out;
}

/**
 * The records in ascending offset order (stable: a partition's records keep their order).
 * Isolation writes sub-batches one after the other, so the last good record of a key to
 * be written is the one with the highest offset.
 */
export function inOffsetOrder(records: readonly SinkRecord[]): SinkRecord[] {
  return [...records].sort((a, b) => a.offset - b.offset);
}
