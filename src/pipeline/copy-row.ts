// One record's columns as one line of a `COPY … FROM STDIN` in text format: tab between
// columns, \N for NULL, and backslash, tab, newline and CR escaped. Decode builds the line
// once per record, so the queue holds one string per row instead of an array of values and
// the batch writer only joins lines.

// eslint-disable-next-line no-control-regex -- NUL is matched only to refuse it
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

/** One value in COPY text form: escaped where needed (rarely), \N for NULL. */
export function copyField(v: string | null): string {
  if (v === null) return '\\N';
  return NEEDS_ESCAPE.test(v) ? v.replace(ESCAPABLE, escapeChar) : v;
}

/** Values in column order → the COPY line, without its newline. */
export function copyRow(values: readonly (string | null)[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += '\t';
    out += copyField(values[i] ?? null);
  }
  return out;
}
