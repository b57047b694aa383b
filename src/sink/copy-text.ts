// Rows (COPY text lines built at decode, see pipeline/copy-row.ts) → the bytes of a
// `COPY … FROM STDIN` in text format, a newline after each row.

// A batch is encoded in pieces of about this many UTF-16 units (at most 96 KiB of UTF-8 each).
// Past V8's 128 KiB regular-object limit a string lands in large-object space, and there
// building and encoding it cost 2-3x more per row (2000-row batches in bench/decode.bench.ts).
const CHUNK_CHARS = 32_768;

/**
 * A batch as a few buffers, written to the COPY stream in order; each piece is encoded to
 * UTF-8 once. Pieces end at row ends only because that is simplest; COPY would not mind.
 */
export function encodeCopyRows(rows: readonly string[]): Buffer[] {
  const chunks: Buffer[] = [];
  let out = '';
  for (const row of rows) {
    out += row;
    out += '\n';
    if (out.length >= CHUNK_CHARS) {
      chunks.push(Buffer.from(out, 'utf8'));
      out = '';
    }
  }
  if (out.length > 0) chunks.push(Buffer.from(out, 'utf8'));
  return chunks;
}
