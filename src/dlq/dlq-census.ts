// Counting a DLQ by source record: the DLQ is at-least-once, so one record (topic, partition,
// offset) can be dead-lettered more than once. A census tells entries from distinct records;
// replay and reconcile key everything by `sourceKey`.
import type { DeadLetter } from '../core/dead-letter.js';

export type SourceCoordinates = Pick<DeadLetter, 'topic' | 'partition' | 'offset'>;

/** The identity of a dead letter: where the original record was, not when it failed. */
export function sourceKey(d: SourceCoordinates): string {
  return `${d.topic}/${d.partition}/${d.offset}`;
}

/**
 * Entries, distinct source records and duplicates of what was read. Holds one key per
 * distinct record: the DLQ is small next to the topics it guards, and exactness needs them.
 */
export class DlqCensus {
  entries = 0;
  invalid = 0;
  private readonly seen = new Set<string>();

  /** Counts one decoded entry; true when its source record was not seen before. */
  add(d: SourceCoordinates): boolean {
    this.entries++;
    const key = sourceKey(d);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  /** Counts an entry that could not be decoded (it has no source coordinates). */
  addInvalid(): void {
    this.entries++;
    this.invalid++;
  }

  get distinct(): number {
    return this.seen.size;
  }

  get duplicates(): number {
    return this.entries - this.invalid - this.seen.size;
  }
}
