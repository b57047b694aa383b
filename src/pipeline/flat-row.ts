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
import {
  BACKSLASH,
  daysFromCivil,
  DOT,
  isDecimal,
  isDigit,
  isInteger,
  isUuid,
  MINUS,
  NINE,
  TAB,
  twoDigits,
  ZERO,
} from './byte-forms.js';
import { ABSENT, FlatJsonScan, NULL, NUM, STR, TRUE } from './flat-json-scan.js';
import { jsonNumberBounds } from './record-schema.js';
import { RowScratch } from './row-scratch.js';
import { RecordError } from '../core/errors.js';
import type { ColumnSpec } from '../core/topic-mapping.js';

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

export class FlatRowDecoder {
  /** Set by a successful tryDecode: the COPY line and the conflict key, as decode returns them. */
  row = '';
  key = '';

  private readonly cols: FastColumn[];
  private readonly tokens: FlatJsonScan;
  private readonly out: RowScratch;

  /** `plans` are `columns`' plans, in the same order. */
  constructor(plans: readonly ColumnPlan[], columns: readonly ColumnSpec[]) {
    this.cols = plans.map((p, i) => {
      const bounds = jsonNumberBounds(columns[i]!);
      const values = columns[i]!.enum;
      const fb = p.fallback === null ? undefined : copyField(p.fallback);
      const ascii = fb !== undefined && /^[\x20-\x7e]*$/.test(fb);
      const fbKey = p.kind === 'uuid' ? fb?.toLowerCase() : p.kind === 'text' ? fb : undefined;
      return {
        plan: p,
        name: Buffer.from(p.name, 'utf8'),
        minimum: bounds.minimum ?? -Infinity,
        maximum: bounds.maximum ?? Infinity,
        fallbackRow: ascii ? Buffer.from(fb, 'latin1') : undefined,
        fallbackKey: ascii && fbKey !== undefined ? Buffer.from(fbKey, 'latin1') : undefined,
        enumSet: p.kind === 'text' && !p.upperCase && values !== undefined ? new Set(values) : undefined,
      };
    });
    this.tokens = new FlatJsonScan(this.cols.map((c) => c.name));
    this.out = new RowScratch(plans.reduce((k, p) => (p.keyPos >= 0 ? k + 1 : k), 0));
  }

  /** True with `row` and `key` set, or false: the message needs the full path. */
  tryDecode(b: Buffer): boolean {
    return this.tokens.scan(b) && this.write(b);
  }

  /** The COPY line and the key from the tokens, in column order; false where a rule needs the full path. */
  private write(b: Buffer): boolean {
    const out = this.out;
    const { type, start, end } = this.tokens;
    out.reset();
    const cols = this.cols;
    for (let c = 0; c < cols.length; c++) {
      if (c > 0) out.put(TAB);
      const col = cols[c]!;
      const p = col.plan;
      const from = out.pos;
      const t = type[c]!;
      if (p.keyPos >= 0) out.keyEnd[p.keyPos] = -1;
      let ok: boolean;
      if (t === ABSENT || t === NULL) ok = this.missing(col);
      else if (t === STR) ok = this.text(col, b, start[c]!, end[c]!);
      else if (t === NUM) ok = this.number(col, b, start[c]!, end[c]!);
      else ok = p.kind === 'boolean' && out.ascii(t === TRUE ? 't' : 'f', p.keyPos, true);
      if (!ok) return false;
      if (p.keyPos >= 0 && out.keyEnd[p.keyPos]! < 0) out.keyFromRow(p.keyPos, from, p.kind === 'uuid');
    }
    this.row = out.row();
    this.key = out.key();
    return true;
  }

  private missing(col: FastColumn): boolean {
    const p = col.plan;
    if (p.fallback === null) {
      if (p.required) return false;
      this.out.put(BACKSLASH);
      this.out.put(0x4e);
      return true;
    }
    if (col.fallbackRow === undefined || col.fallbackKey === undefined) return false;
    this.out.copy(col.fallbackRow, 0, col.fallbackRow.length);
    if (p.keyPos >= 0) this.out.keyBytes(p.keyPos, col.fallbackKey, 0, col.fallbackKey.length);
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
          this.out.copy(b, s, e);
          return true;
        }
        const from = this.out.pos;
        this.out.copyUpper(b, s, e);
        return p.enumAfterUpper === undefined || p.enumAfterUpper.has(this.out.tail(from));
      }
      case 'uuid':
        if (!isUuid(b, s, e)) return false;
        this.out.copy(b, s, e);
        return true;
      case 'date':
        if (len !== 10 || !this.ymd(b, s)) return false;
        this.out.copy(b, s, e);
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
          this.out.copy(b, s, e);
          if (p.keyPos >= 0) this.out.ascii(canonicalDecimal(b.toString('latin1', s, e)), p.keyPos, false);
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
        if (iso instanceof RecordError || !this.out.ascii(iso, -1, false)) return false;
        if (p.keyPos >= 0) this.out.ascii(epochMsKey(v), p.keyPos, false);
        return true;
      }
      this.out.copy(b, s, e);
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
    if (out instanceof RecordError || !this.out.ascii(out, -1, false)) return false;
    if (p.keyPos >= 0) this.out.ascii(decimalKey ? canonicalDecimal(out) : out, p.keyPos, false);
    return true;
  }

  /** RFC 3339 as the schema's pattern has it (upper-case T and Z only), a real date, and its instant key. */
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
    this.out.copy(b, s, e);
    if (keyPos < 0) return true;
    const whole =
      daysFromCivil(this.y, this.m, this.d) * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 - offset;
    let micros = 0;
    if (fracEnd - fracStart <= 6) {
      for (let k = fracStart; k < fracStart + 6; k++) micros = micros * 10 + (k < fracEnd ? b[k]! - ZERO : 0);
    } else micros = microsOf(b.toString('latin1', fracStart, fracEnd));
    this.out.ascii(instantKey(whole, micros), keyPos, false);
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
}
