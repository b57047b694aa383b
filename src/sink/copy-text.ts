// Rows (already in PostgreSQL text input form, see pipeline/decode.ts) → the bytes of a
// `COPY … FROM STDIN` in text format: tab between columns, newline after each row, \N for NULL.
// This runs once per batch over every value, so the common case must not allocate per value.

// Backslash, tab, newline and CR would be read as syntax; NUL is matched only to refuse it.
// eslint-disable-next-line no-control-regex -- NUL is exactly what we look for
const NEEDS_ESCAPE = /[\\\t\n\r\u0000]/;
// eslint-disable-next-line no-control-regex -- as above
const ESCAPABLE = /[\\\t\n\r\u0000]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '\\':
      return '\\\\';
    case '\t':
      return '\\t';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    default:
      // PostgreSQL text cannot store NUL at all; the decoder rejects such values first.
      throw new RangeError('COPY text: a value contains a NUL character, which PostgreSQL text cannot store');
  }
}

// A batch is encoded in pieces of about this many UTF-16 units (at most 96 KiB of UTF-8 each).
// Past V8's 128 KiB regular-object limit a string lands in large-object space, and there
// building and encoding it cost 2-3x more per row (2000-row batches in bench/decode.bench.ts).
const CHUNK_CHARS = 32_768;

/**
 * A batch as a few buffers, written to the COPY stream in order. Values are tested with one
 * precompiled regex and only the rare ones that need it are rewritten; each piece is encoded
 * to UTF-8 once. Pieces end at row ends only because that is simplest; COPY would not mind.
 */
export function encodeCopyRows(rows: readonly (readonly (string | null)[])[]): Buffer[] {
  const chunks: Buffer[] = [];
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      if (i > 0) out += '\t';
      const v = row[i];
      if (v === null || v === undefined) out += '\\N';
      else if (NEEDS_ESCAPE.test(v)) out += v.replace(ESCAPABLE, escapeChar);
      else out += v;
    }
    out += '\n';
    if (out.length >= CHUNK_CHARS) {
      chunks.push(Buffer.from(out, 'utf8'));
      out = '';
    }
  }
  if (out.length > 0) chunks.push(Buffer.from(out, 'utf8'));
  return chunks;
}
