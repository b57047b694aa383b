// The fast path's one pass over a message (flat-row.ts): a flat JSON object whose values are
// plain scalars, each column's token located by kind and byte range. Anything else (nesting,
// escapes, bytes outside printable ASCII, a column named twice, trailing bytes) is a no.
import { BACKSLASH, DOT, MINUS, QUOTE, TAB, ZERO } from './byte-forms.js';

// The per-byte helpers live here, not in byte-forms.ts: a call across modules is not inlined
// into the scan loop, which cost about 10 % of the fast path.
/** Bytes a string may hold as they are: printable ASCII but the quote and the backslash. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) PLAIN[c] = c === QUOTE || c === BACKSLASH ? 0 : 1;

// A local twin of byte-forms' isDigit, for the same reason.
function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= 0x39;
}

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === TAB;
}

/** A JSON number's end (strict JSON grammar), or -1. */
function numberEnd(b: Buffer, i: number, n: number): number {
  if (b[i] === MINUS) i++;
  if (b[i] === ZERO) i++;
  else if (isDigit(b[i]) && b[i] !== ZERO) while (isDigit(b[i])) i++;
  else return -1;
  if (b[i] === DOT) {
    const f = ++i;
    while (isDigit(b[i])) i++;
    if (i === f) return -1;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === MINUS) i++;
    const f = i;
    while (isDigit(b[i])) i++;
    if (i === f) return -1;
  }
  return i <= n ? i : -1;
}

/** What a column's value was in the message. */
export const ABSENT = 0;
export const STR = 1;
export const NUM = 2;
export const TRUE = 3;
const FALSE = 4;
export const NULL = 5;

export class FlatJsonScan {
  /** Per column: its token kind, and where it starts and ends (a string's without quotes). */
  readonly type: Uint8Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  private hint = 0;

  constructor(private readonly names: readonly Uint8Array[]) {
    this.type = new Uint8Array(names.length);
    this.start = new Int32Array(names.length);
    this.end = new Int32Array(names.length);
  }

  /** Finds each column's token; false on anything but a flat object of plain scalars. */
  scan(b: Buffer): boolean {
    const n = b.length;
    const type = this.type;
    type.fill(ABSENT);
    this.hint = 0;
    let i = 0;
    while (isWs(b[i])) i++;
    if (b[i] !== 0x7b) return false;
    i++;
    while (isWs(b[i])) i++;
    if (b[i] === 0x7d) i++;
    else {
      for (;;) {
        if (b[i] !== QUOTE) return false;
        const ks = ++i;
        i = this.stringEnd(b, i, n);
        if (i < 0) return false;
        const col = this.column(b, ks, i);
        i++;
        while (isWs(b[i])) i++;
        if (b[i] !== 0x3a) return false;
        i++;
        while (isWs(b[i])) i++;
        const c = b[i];
        let t: number;
        let s = i;
        let e: number;
        if (c === QUOTE) {
          s = i + 1;
          e = this.stringEnd(b, s, n);
          if (e < 0) return false;
          t = STR;
          i = e + 1;
        } else if (c === MINUS || isDigit(c)) {
          e = numberEnd(b, i, n);
          if (e < 0) return false;
          t = NUM;
          i = e;
        } else if (c === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
          t = TRUE;
          e = i += 4;
        } else if (
          c === 0x66 &&
          b[i + 1] === 0x61 &&
          b[i + 2] === 0x6c &&
          b[i + 3] === 0x73 &&
          b[i + 4] === 0x65
        ) {
          t = FALSE;
          e = i += 5;
        } else if (c === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) {
          t = NULL;
          e = i += 4;
        } else return false;
        if (col >= 0) {
          // JSON.parse would keep the last of two; the full path deals with that.
          if (type[col] !== ABSENT) return false;
          type[col] = t;
          this.start[col] = s;
          this.end[col] = e;
        }
        while (isWs(b[i])) i++;
        if (b[i] === 0x2c) {
          i++;
          while (isWs(b[i])) i++;
          continue;
        }
        if (b[i] !== 0x7d) return false;
        i++;
        break;
      }
    }
    while (isWs(b[i])) i++;
    return i === n;
  }

  /** Index of the closing quote of a string starting at `i`, or -1 if it needs more than a copy. */
  private stringEnd(b: Buffer, i: number, n: number): number {
    while (i < n && PLAIN[b[i]!] === 1) i++;
    return b[i] === QUOTE ? i : -1;
  }

  /** The column a key names (-1: not a column), trying the one after the last match first. */
  private column(b: Buffer, s: number, e: number): number {
    const names = this.names;
    const n = names.length;
    const len = e - s;
    for (let k = 0, idx = this.hint; k < n; k++, idx = idx + 1 === n ? 0 : idx + 1) {
      const name = names[idx]!;
      if (name.length !== len) continue;
      let j = 0;
      while (j < len && name[j] === b[s + j]) j++;
      if (j === len) {
        this.hint = idx + 1 === n ? 0 : idx + 1;
        return idx;
      }
    }
    return -1;
  }
}
