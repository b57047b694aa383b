// The replay's lines for people: one per record in a dry run, the running counts and the
// closing summary.
import type { DeadLetter } from '../core/dead-letter.js';
import { sourceKey } from '../dlq/dlq-census.js';
import type { ReplayCounts, ReplaySummary } from './replay.js';

export function formatDryRunLine(d: DeadLetter, toTopic?: string): string {
  const to = toTopic ?? d.topic;
  return `${sourceKey(d)} -> ${to} reason=${d.reason} error=${d.errorCode} failedAt=${new Date(d.failedAt).toISOString()}`;
}

/** Every count of a run, as the summary and the progress lines off a terminal show them. */
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
