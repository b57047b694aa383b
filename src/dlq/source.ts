// What a DLQ reader hands to replay and reconcile: entries in source order, in batches the
// consumer acknowledges, so a reader with a position (the topic's replay group) moves it only
// past entries that were handled.
import type { DeadLetter } from '../core/dead-letter.js';

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
