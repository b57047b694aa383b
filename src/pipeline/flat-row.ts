// Decode's fast path, for what market data is made of: a flat JSON object of ASCII strings
// without escapes, numbers, booleans and nulls. One pass over the bytes finds each column's
// token; the COPY line and the conflict key are then written byte by byte into scratch buffers
// and read out as one string each: no text of the whole message, no object graph, no string
// per value (JSON.parse and the garbage it leaves were half of node's CPU per record).
//
// It only ever accepts. Whatever it does not recognise as plainly valid (an escape, a byte
// outside printable ASCII, nesting, a repeated column, a value that would break a rule, a rarer
// form of a type) makes it answer false, and the message takes the full path (JSON.parse, the
// schema, column-convert), which also words every rejection. So the two paths cannot disagree
// on what is rejected or why; test/unit/pipeline/flat-row.test.ts checks that they agree,
// byte for byte, on what is accepted.
import type { ColumnPlan } from './column-plan.js';
import { convert } from './column-convert.js';
import { copyField } from './copy-row.js';
import {
  canonicalDecimal,
  dayExists,
  epochMsKey,
  instantKey,
  microsOf,
  NUMERIC_MAX_FRACTION,
} from './decimal-text.js';
import { RecordError } from '../core/errors.js';

/** What a column's value was in the message. */
const ABSENT = 0;
const STR = 1;
const NUM = 2;
const TRUE = 3;
const FALSE = 4;
const NULL = 5;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const TAB = 0x09;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Bounds the schema puts on a JSON number for a column (see record-schema.ts). */
export interface NumberBounds {
  readonly minimum?: number;
  readonly maximum?: number;
}

interface FastColumn {
  readonly plan: ColumnPlan;
  readonly name: Uint8Array;
  readonly minimum: number;
  readonly maximum: number;
  /** The default tenant as COPY text and as its key part; undefined when the path cannot use it. */
  readonly fallbackRow: Uint8Array | undefined;
  readonly fallbackKey: Uint8Array | undefined;
  /** Text columns with an enum ajv checks (not upper-cased ones: convert checks those). */
  readonly enumSet: ReadonlySet<string> | undefined;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === TAB;
}

function twoDigits(b: Buffer, i: number): number {
  const x = b[i]!;
  const y = b[i + 1]!;
  return isDigit(x) && isDigit(y) ? (x - ZERO) * 10 + (y - ZERO) : -1;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil), y ≥ 1. */
function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export class FlatRowDecoder {
  /** Set by a successful tryDecode: the COPY line and the conflict key, as decode returns them. */
  row = '';
  key = '';

  private readonly cols: FastColumn[];
  private readonly type: Uint8Array;
  private readonly start: Int32Array;
  private readonly end: Int32Array;
  private readonly keyCount: number;
  private readonly keyStart: Int32Array;
  private readonly keyEnd: Int32Array;
  private out = Buffer.allocUnsafe(1024);
  private kb = Buffer.allocUnsafe(256);
  private kf = Buffer.allocUnsafe(256);
  private pos = 0;
  private kpos = 0;
  private hint = 0;

  constructor(
    plans: readonly ColumnPlan[],
    bounds: readonly NumberBounds[],
    enums: readonly (readonly string[] | undefined)[],
  ) {
    this.cols = plans.map((p, i) => {
      const fb = p.fallback === null ? undefined : copyField(p.fallback);
      const ascii = fb !== undefined && /^[\x20-\x7e]*$/.test(fb);
      const fbKey = p.kind === 'uuid' ? fb?.toLowerCase() : p.kind === 'text' ? fb : undefined;
      return {
        plan: p,
        name: Buffer.from(p.name, 'utf8'),
        minimum: bounds[i]?.minimum ?? -Infinity,
        maximum: bounds[i]?.maximum ?? Infinity,
        fallbackRow: ascii ? Buffer.from(fb, 'latin1') : undefined,
        fallbackKey: ascii && fbKey !== undefined ? Buffer.from(fbKey, 'latin1') : undefined,
        enumSet: p.kind === 'text' && !p.upperCase && enums[i] !== undefined ? new Set(enums[i]) : undefined,
      };
    });
    const n = plans.length;
    this.type = new Uint8Array(n);
    this.start = new Int32Array(n);
    this.end = new Int32Array(n);
    this.keyCount = plans.reduce((k, p) => (p.keyPos >= 0 ? k + 1 : k), 0);
    this.keyStart = new Int32Array(this.keyCount);
    this.keyEnd = new Int32Array(this.keyCount);
  }

  /** True with `row` and `key` set, or false: the message needs the full path. */
  tryDecode(b: Buffer): boolean {
    return this.scan(b) && this.write(b);
  }

  /** Finds each column's token; false on anything but a flat object of plain scalars. */
  private scan(b: Buffer): boolean {
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
    for (; i < n; i++) {
      const c = b[i]!;
      if (c === QUOTE) return i;
      if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1;
    }
    return -1;
  }

  /** The column a key names (-1: not a column), trying the one after the last match first. */
  private column(b: Buffer, s: number, e: number): number {
    const cols = this.cols;
    const n = cols.length;
    const len = e - s;
    for (let k = 0, idx = this.hint; k < n; k++, idx = idx + 1 === n ? 0 : idx + 1) {
      const name = cols[idx]!.name;
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

  /** The COPY line and the key from the tokens, in column order; false where a rule needs the full path. */
  private write(b: Buffer): boolean {
    this.pos = 0;
    this.kpos = 0;
    const cols = this.cols;
    for (let c = 0; c < cols.length; c++) {
      if (c > 0) this.put(TAB);
      const col = cols[c]!;
      const p = col.plan;
      const from = this.pos;
      const t = this.type[c]!;
      if (p.keyPos >= 0) this.keyEnd[p.keyPos] = -1;
      let ok: boolean;
      if (t === ABSENT || t === NULL) ok = this.missing(col);
      else if (t === STR) ok = this.text(col, b, this.start[c]!, this.end[c]!);
      else if (t === NUM) ok = this.number(col, b, this.start[c]!, this.end[c]!);
      else ok = p.kind === 'boolean' && this.ascii(t === TRUE ? 't' : 'f', p.keyPos, true);
      if (!ok) return false;
      if (p.keyPos >= 0 && this.keyEnd[p.keyPos]! < 0) this.keyFromRow(p.keyPos, from, p.kind === 'uuid');
    }
    this.row = this.out.toString('latin1', 0, this.pos);
    this.key = this.keyCount === 0 ? '' : this.joinKey();
    return true;
  }

  private missing(col: FastColumn): boolean {
    const p = col.plan;
    if (p.fallback === null) {
      if (p.required) return false;
      this.put(BACKSLASH);
      this.put(0x4e);
      return true;
    }
    if (col.fallbackRow === undefined || col.fallbackKey === undefined) return false;
    this.copy(col.fallbackRow, 0, col.fallbackRow.length);
    if (p.keyPos >= 0) this.keyBytes(p.keyPos, col.fallbackKey, 0, col.fallbackKey.length);
    return true;
  }

  /** A JSON string (printable ASCII, no escapes) for this column's type. */
  private text(col: FastColumn, b: Buffer, s: number, e: number): boolean {
    const p = col.plan;
    const len = e - s;
    switch (p.kind) {
      case 'text': {
        // Printable ASCII: one code point per byte, nothing PostgreSQL refuses, nothing to escape.
        if (p.maxLength !== undefined && len > p.maxLength) return false;
        if (col.enumSet !== undefined && !col.enumSet.has(b.toString('latin1', s, e))) return false;
        if (!p.upperCase) {
          this.copy(b, s, e);
          return true;
        }
        const from = this.pos;
        this.ensure(len);
        const out = this.out;
        for (let i = s; i < e; i++) {
          const x = b[i]!;
          out[this.pos++] = x >= 0x61 && x <= 0x7a ? x - 0x20 : x;
        }
        return p.enumAfterUpper === undefined || p.enumAfterUpper.has(out.toString('latin1', from, this.pos));
      }
      case 'uuid':
        if (!isUuid(b, s, e)) return false;
        this.copy(b, s, e);
        return true;
      case 'date':
        if (len !== 10 || !this.ymd(b, s)) return false;
        this.copy(b, s, e);
        return true;
      case 'timestamptz':
        return this.timestamp(b, s, e, p.keyPos);
      case 'numeric':
        if (!isDecimal(b, s, e)) return false;
        if (
          (p.minDec === undefined || (p.minAtMostZero && b[s] !== MINUS)) &&
          p.maxDec === undefined &&
          p.maxIntDigits === undefined &&
          len <= NUMERIC_MAX_FRACTION
        ) {
          this.copy(b, s, e);
          if (p.keyPos >= 0) this.ascii(canonicalDecimal(b.toString('latin1', s, e)), p.keyPos, false);
          return true;
        }
        return this.converted(p, b.toString('latin1', s, e), true);
      case 'bigint':
      case 'integer':
        return isInteger(b, s, e) && this.converted(p, b.toString('latin1', s, e), true);
      default:
        // double and boolean refuse strings; jsonb quotes them (full path).
        return false;
    }
  }

  /** A JSON number for this column's type: the schema's type and bounds, then convert's rules. */
  private number(col: FastColumn, b: Buffer, s: number, e: number): boolean {
    const p = col.plan;
    const kind = p.kind;
    if (kind === 'bigint' || kind === 'integer' || kind === 'timestamptz') {
      // Only plain integers of up to 15 digits: exact as doubles, and their text is String(n).
      const neg = b[s] === MINUS;
      const digits = e - s - (neg ? 1 : 0);
      if (digits > 15 || (digits > 1 && b[e - digits] === ZERO)) return false;
      let v = 0;
      for (let i = e - digits; i < e; i++) {
        const x = b[i]!;
        if (x < ZERO || x > NINE) return false;
        v = v * 10 + (x - ZERO);
      }
      if (neg) {
        if (v === 0) return false; // -0: String gives "0"; rare enough for the full path
        v = -v;
      }
      if (v < col.minimum || v > col.maximum) return false;
      if (kind === 'timestamptz') {
        const iso = convert(p, v);
        if (iso instanceof RecordError || !this.ascii(iso, -1, false)) return false;
        if (p.keyPos >= 0) this.ascii(epochMsKey(v), p.keyPos, false);
        return true;
      }
      this.copy(b, s, e);
      return true;
    }
    if (kind !== 'numeric' && kind !== 'double') return false;
    const v = Number(b.toString('latin1', s, e));
    if (!Number.isFinite(v) || v < col.minimum || v > col.maximum) return false;
    return this.converted(p, v, kind === 'numeric');
  }

  /** What convert makes of `raw` (its rules, exactly), written to the row; its key part too. */
  private converted(p: ColumnPlan, raw: string | number, decimalKey: boolean): boolean {
    const out = convert(p, raw);
    if (out instanceof RecordError || !this.ascii(out, -1, false)) return false;
    if (p.keyPos >= 0) this.ascii(decimalKey ? canonicalDecimal(out) : out, p.keyPos, false);
    return true;
  }

  /** RFC 3339 as the schema's pattern has it (upper-case T and Z only), a real date, epoch ms for the key. */
  private timestamp(b: Buffer, s: number, e: number, keyPos: number): boolean {
    if (e - s < 20 || !this.ymd(b, s) || b[s + 10] !== 0x54) return false;
    const h = twoDigits(b, s + 11);
    const mi = twoDigits(b, s + 14);
    const sec = twoDigits(b, s + 17);
    if (
      b[s + 13] !== 0x3a ||
      b[s + 16] !== 0x3a ||
      h < 0 ||
      h > 23 ||
      mi < 0 ||
      mi > 59 ||
      sec < 0 ||
      sec > 59
    )
      return false;
    let i = s + 19;
    let fracStart = i;
    if (b[i] === DOT) {
      fracStart = ++i;
      while (i < e && isDigit(b[i])) i++;
      if (i === fracStart) return false;
    }
    const fracEnd = i;
    let offset = 0;
    if (b[i] === 0x5a) i++;
    else if (b[i] === 0x2b || b[i] === MINUS) {
      const oh = twoDigits(b, i + 1);
      const om = twoDigits(b, i + 4);
      if (b[i + 3] !== 0x3a || oh < 0 || oh > 15 || om < 0 || om > 59) return false;
      offset = (oh * 60 + om) * 60_000 * (b[i] === MINUS ? -1 : 1);
      i += 6;
    } else return false;
    if (i !== e) return false;
    this.copy(b, s, e);
    if (keyPos < 0) return true;
    const whole =
      daysFromCivil(this.y, this.m, this.d) * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 - offset;
    let micros = 0;
    if (fracEnd - fracStart <= 6) {
      for (let k = fracStart; k < fracStart + 6; k++) micros = micros * 10 + (k < fracEnd ? b[k]! - ZERO : 0);
    } else micros = microsOf(b.toString('latin1', fracStart, fracEnd));
    this.ascii(instantKey(whole, micros), keyPos, false);
    return true;
  }

  private y = 0;
  private m = 0;
  private d = 0;

  /** YYYY-MM-DD at `s` as the schema's pattern has it, and a day that exists (into y, m, d). */
  private ymd(b: Buffer, s: number): boolean {
    const hi = twoDigits(b, s);
    const lo = twoDigits(b, s + 2);
    const m = twoDigits(b, s + 5);
    const d = twoDigits(b, s + 8);
    if (hi < 0 || lo < 0 || b[s + 4] !== MINUS || b[s + 7] !== MINUS) return false;
    if (m < 1 || m > 12 || d < 1 || d > 31 || !dayExists(hi * 100 + lo, m, d)) return false;
    this.y = hi * 100 + lo;
    this.m = m;
    this.d = d;
    return true;
  }

  // Row and key scratch. The key parts are kept per key position and joined at the end.

  private ensure(extra: number): void {
    if (this.pos + extra <= this.out.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + extra));
    this.out.copy(next, 0, 0, this.pos);
    this.out = next;
  }

  private put(x: number): void {
    this.ensure(1);
    this.out[this.pos++] = x;
  }

  private copy(src: Uint8Array, s: number, e: number): void {
    this.ensure(e - s);
    const out = this.out;
    for (let i = s; i < e; i++) out[this.pos++] = src[i]!;
  }

  /** A converted value (never escaped: false if it would need it) to the row, or to key part `keyPos`. */
  private ascii(v: string, keyPos: number, both: boolean): boolean {
    for (let i = 0; i < v.length; i++) {
      const x = v.charCodeAt(i);
      if (x < 0x20 || x > 0x7e || x === BACKSLASH) return false;
    }
    const toRow = keyPos < 0 || both;
    if (toRow) {
      this.ensure(v.length);
      for (let i = 0; i < v.length; i++) this.out[this.pos++] = v.charCodeAt(i);
    }
    if (keyPos >= 0) {
      this.keyOpen();
      for (let i = 0; i < v.length; i++) this.keyByte(v.charCodeAt(i));
      this.keyClose(keyPos);
    }
    return true;
  }

  /** The key part is the row's value as written (text, uuid lower-cased), unless set already. */
  private keyFromRow(keyPos: number, from: number, lower: boolean): void {
    this.keyOpen();
    for (let i = from; i < this.pos; i++) {
      const x = this.out[i]!;
      this.keyByte(lower && x >= 0x41 && x <= 0x5a ? x + 0x20 : x);
    }
    this.keyClose(keyPos);
  }

  private keyBytes(keyPos: number, src: Uint8Array, s: number, e: number): void {
    this.keyOpen();
    for (let i = s; i < e; i++) this.keyByte(src[i]!);
    this.keyClose(keyPos);
  }

  private openAt = 0;
  private keyOpen(): void {
    this.openAt = this.kpos;
  }

  private keyClose(keyPos: number): void {
    this.keyStart[keyPos] = this.openAt;
    this.keyEnd[keyPos] = this.kpos;
  }

  private keyByte(x: number): void {
    if (this.kpos === this.kb.length) {
      const next = Buffer.allocUnsafe(this.kb.length * 2);
      this.kb.copy(next);
      this.kb = next;
    }
    this.kb[this.kpos++] = x;
  }

  private joinKey(): string {
    let len = this.keyCount - 1;
    for (let k = 0; k < this.keyCount; k++) len += this.keyEnd[k]! - this.keyStart[k]!;
    if (this.kf.length < len) this.kf = Buffer.allocUnsafe(len * 2);
    const kf = this.kf;
    const kb = this.kb;
    let at = 0;
    for (let k = 0; k < this.keyCount; k++) {
      if (k > 0) kf[at++] = 0;
      for (let i = this.keyStart[k]!; i < this.keyEnd[k]!; i++) kf[at++] = kb[i]!;
    }
    return kf.toString('latin1', 0, at);
  }
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

function isHex(x: number | undefined): boolean {
  return (
    x !== undefined && ((x >= ZERO && x <= NINE) || (x >= 0x41 && x <= 0x46) || (x >= 0x61 && x <= 0x66))
  );
}

function isUuid(b: Buffer, s: number, e: number): boolean {
  if (e - s !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const x = b[s + i];
    if (i === 8 || i === 13 || i === 18 || i === 23 ? x !== MINUS : !isHex(x)) return false;
  }
  return true;
}

/** -?\d+(\.\d+)? */
function isDecimal(b: Buffer, s: number, e: number): boolean {
  let i = b[s] === MINUS ? s + 1 : s;
  const f = i;
  while (i < e && isDigit(b[i])) i++;
  if (i === f) return false;
  if (i === e) return true;
  if (b[i] !== DOT) return false;
  const g = ++i;
  while (i < e && isDigit(b[i])) i++;
  return i > g && i === e;
}

/** -?\d+ */
function isInteger(b: Buffer, s: number, e: number): boolean {
  let i = b[s] === MINUS ? s + 1 : s;
  if (i === e) return false;
  for (; i < e; i++) if (!isDigit(b[i])) return false;
  return true;
}
