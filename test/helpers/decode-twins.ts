// Decode through both paths at once: the fast one (flat-row.ts, the default) and the full one
// (fastPath: false). Every message a test decodes this way is also a check that the two agree:
// the same row and key, or the same rejection (which the fast path always leaves to the full
// one). Also turns a COPY line back into values, so tests can look at columns.
import assert from 'node:assert/strict';
import {
  createDecoder,
  type DecodeResult,
  type DecoderOptions,
  type RecordDecoder,
} from '../../src/pipeline/decode.js';
import type { ColumnSpec, TopicMapping, WriteMode } from '../../src/core/topic-mapping.js';

export interface TwinDecoder extends RecordDecoder {
  /** Messages the fast path accepted, so a test can show it was exercised. */
  fastHits(): number;
  /** Messages compared. */
  compared(): number;
}

export function createTwinDecoder(mapping: TopicMapping, opts: DecoderOptions): TwinDecoder {
  const fast = createDecoder(mapping, { ...opts, fastPath: true });
  const full = createDecoder(mapping, { ...opts, fastPath: false });
  let compared = 0;
  return {
    decode(value: Buffer | null): DecodeResult {
      const a = fast.decode(value);
      const b = full.decode(value);
      const what = value === null ? 'null' : JSON.stringify(value.toString('latin1'));
      assert.deepEqual(summary(a), summary(b), `fast and full paths disagree on ${what}`);
      compared++;
      return a;
    },
    fastHits: () => fast.stats?.fast ?? 0,
    compared: () => compared,
  };
}

function summary(r: DecodeResult): unknown {
  return r.ok
    ? { row: r.row, key: r.key }
    : { code: r.error.code, reason: r.error.reason, message: r.error.message };
}

/** A COPY text line → its values (\N → null, escapes undone). */
export function copyValues(row: string): (string | null)[] {
  return row
    .split('\t')
    .map((f) =>
      f === '\\N'
        ? null
        : f.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c)),
    );
}

/** A one-table mapping for a test: topic suffix and table `t`; copy mode without a key, upsert with one. */
export function mappingOf(
  columns: readonly ColumnSpec[],
  key: readonly string[] = [],
  mode: WriteMode = key.length === 0 ? 'copy' : 'upsert',
): TopicMapping {
  return { topicSuffix: 't', table: 't', mode, key, columns };
}
