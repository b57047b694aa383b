// Which dead letters a replay or reconcile takes: by original topic, reason, error code and
// when they were dead-lettered. Every field left out matches everything.
import type { DeadLetter, DeadLetterReason } from '../core/dead-letter.js';

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

export function matchesFilter(d: DeadLetter, f: ReplayFilter): boolean {
  if (f.topics !== undefined && !f.topics.includes(d.topic)) return false;
  if (f.reasons !== undefined && !f.reasons.includes(d.reason)) return false;
  if (f.errorCodes !== undefined && !f.errorCodes.includes(d.errorCode)) return false;
  if (f.since !== undefined && d.failedAt < f.since) return false;
  if (f.until !== undefined && d.failedAt >= f.until) return false;
  return true;
}
