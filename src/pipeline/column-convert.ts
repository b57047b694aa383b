// Hot path, after ajv: each column of an accepted record → PostgreSQL text input for COPY,
// checking the rules ajv cannot express (calendar dates, exact decimal bounds and precision,
// 64-bit integers, text PostgreSQL refuses), and its key form, which makes in-batch dedup
// agree with PostgreSQL's equality.
import { RecordError } from '../core/errors.js';
import type { ColumnPlan } from './column-plan.js';
import {
  isDigit,
  ymdIsValid,
  NUMERIC_MAX_INTEGER,
  NUMERIC_MAX_FRACTION,
  numberToDecimal,
  canonicalDecimal,
  compareDecimal,
  exceedsPrecision,
  exceedsUnconstrained,
  badTextReason,
  codePointLength,
  epochMsKey,
  instantKey,
  microsOf,
} from './decimal-text.js';
import { invalid, show } from './rejection-text.js';

// Epoch ms are written as toISOString(), which only PostgreSQL can read back for 4-digit
// years; outside 0001–9999 it switches to ±YYYYYY, which the COPY would reject.
const MIN_EPOCH_MS = -62135596800000;
const MAX_EPOCH_MS = 253402300799999;
// PostgreSQL text cannot hold NUL, and an unpaired surrogate would become U+FFFD on the way
// to UTF-8; one cheap test finds both candidates, the slow path tells them apart.
// eslint-disable-next-line no-control-regex -- NUL is exactly what we look for
const SUSPECT_TEXT = /[\u0000\ud800-\udfff]/;
// JSON.stringify escapes exactly these (NUL and unpaired surrogates), which jsonb refuses.
const BAD_JSON_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F])/;

// Date.parse of the timestamp convert() just accepted, reused by keyForm: decode calls the two
// back to back, synchronously, so nothing runs between them, and parsing once is measurably cheaper.
let parsedMs = 0;

/**
 * One record ajv accepted → its COPY values (into `values`, one per plan) and conflict-key
 * parts (into `keyParts`), or the first column that breaks a rule ajv could not check. The loop
 * lives here, beside convert and keyForm, so a record costs one call across modules, not two
 * per column.
 */
export function fillRow(
  plans: readonly ColumnPlan[],
  obj: Record<string, unknown>,
  values: (string | null)[],
  keyParts: string[],
): RecordError | undefined {
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i]!;
    const raw = p.ownCheck && !Object.hasOwn(obj, p.name) ? undefined : obj[p.name];
    let out: string | RecordError | null;
    if (raw === undefined || raw === null) {
      out = p.fallback;
      if (out === null && p.required) out = missing(p, raw);
    } else {
      out = convert(p, raw);
    }
    if (out instanceof RecordError) return out;
    values[i] = out;
    if (p.keyPos >= 0) keyParts[p.keyPos] = keyForm(p, raw, out);
  }
  return undefined;
}

/** A value ajv accepted → PostgreSQL text input, or the first rule ajv could not check. */
export function convert(p: ColumnPlan, raw: unknown): string | RecordError {
  switch (p.kind) {
    case 'text': {
      let s = raw as string;
      if (SUSPECT_TEXT.test(s)) {
        const why = badTextReason(s);
        if (why !== null) return invalid('SCHEMA_VIOLATION', `${p.name}: expected ${why}`);
      }
      if (!p.upperCase) return s;
      const up = s.toUpperCase();
      // Upper-casing can lengthen text (ß → SS); the column limit applies to what we write.
      if (up.length !== s.length && p.maxLength !== undefined) {
        const len = codePointLength(up);
        if (len > p.maxLength) {
          return invalid(
            'TOO_LONG',
            `${p.name}: expected at most ${p.maxLength} characters, got ${len} (upper-cased)`,
          );
        }
      }
      s = up;
      if (p.enumAfterUpper !== undefined && !p.enumAfterUpper.has(s)) {
        return invalid('BAD_ENUM', `${p.name}: expected one of ${p.enumText}, got ${show(raw)}`);
      }
      return s;
    }
    case 'uuid':
      return raw as string;
    case 'timestamptz':
      if (typeof raw === 'number') {
        if (raw < MIN_EPOCH_MS || raw > MAX_EPOCH_MS) {
          return invalid(
            'BAD_TIMESTAMP',
            `${p.name}: expected epoch milliseconds from ${MIN_EPOCH_MS} (0001-01-01) to ${MAX_EPOCH_MS} (9999-12-31), got ${raw}`,
          );
        }
        return new Date(raw).toISOString();
      }
      // The pattern passed; the calendar and Date.parse catch 2024-02-30 and friends.
      parsedMs = ymdIsValid(raw as string) ? Date.parse(raw as string) : NaN;
      if (Number.isNaN(parsedMs)) {
        return invalid(
          'BAD_TIMESTAMP',
          `${p.name}: expected a valid date and time in years 0001-9999, got ${show(raw)}`,
        );
      }
      return raw as string;
    case 'date':
      if (!ymdIsValid(raw as string)) {
        return invalid(
          'BAD_TIMESTAMP',
          `${p.name}: expected a valid calendar date in years 0001-9999, got ${show(raw)}`,
        );
      }
      return raw as string;
    case 'numeric': {
      // Strings go to PostgreSQL verbatim so no digit is lost to a float round trip.
      const s = typeof raw === 'number' ? numberToDecimal(raw) : (raw as string);
      if (typeof raw === 'string') {
        // Prices have min 0: a string without a minus sign needs no exact comparison.
        const skipMin = p.minAtMostZero && s.charCodeAt(0) !== 45;
        if (p.minDec !== undefined && !skipMin && compareDecimal(s, p.minDec) < 0) {
          return invalid('OUT_OF_RANGE', `${p.name}: expected number >= ${p.minDec}, got ${show(raw)}`);
        }
        if (p.maxDec !== undefined && compareDecimal(s, p.maxDec) > 0) {
          return invalid('OUT_OF_RANGE', `${p.name}: expected number <= ${p.maxDec}, got ${show(raw)}`);
        }
      }
      // Unconstrained NUMERIC stops at 131072 digits before the point and 16383 after.
      if (s.length > NUMERIC_MAX_FRACTION && exceedsUnconstrained(s)) {
        return invalid(
          'OUT_OF_RANGE',
          `${p.name}: expected at most ${NUMERIC_MAX_INTEGER} digits before and ${NUMERIC_MAX_FRACTION} after the decimal point, got ${s.length} characters`,
        );
      }
      if (p.maxIntDigits !== undefined && exceedsPrecision(canonicalDecimal(s), p.maxIntDigits, p.scale)) {
        return invalid(
          'OUT_OF_RANGE',
          `${p.name}: expected at most ${p.maxIntDigits} digits before the decimal point (${p.sqlType}), got ${show(raw)}`,
        );
      }
      return s;
    }
    case 'bigint':
    case 'integer':
      if (typeof raw === 'number') {
        // Past 2^53 JSON.parse has already rounded the producer's digits; refuse rather than store a different number.
        if (!Number.isSafeInteger(raw)) {
          return invalid(
            'OUT_OF_RANGE',
            `${p.name}: expected an integer within ±${Number.MAX_SAFE_INTEGER} (send larger values as a string), got ${show(raw)}`,
          );
        }
        return String(raw);
      }
      return intStringInRange(p, raw as string);
    case 'double':
      return numberToDecimal(raw as number);
    case 'boolean':
      return raw === true ? 't' : 'f';
    case 'jsonb': {
      const json = JSON.stringify(raw);
      if (json.includes('\\u') && BAD_JSON_ESCAPE.test(json)) {
        return invalid(
          'SCHEMA_VIOLATION',
          `${p.name}: expected JSON without NUL characters or unpaired surrogates`,
        );
      }
      return json;
    }
  }
}

function intStringInRange(p: ColumnPlan, s: string): string | RecordError {
  // Up to 15 characters a Number is exact and far cheaper than a BigInt.
  const v = s.length <= 15 ? BigInt(Number(s)) : BigInt(s);
  if (v < p.minInt)
    return invalid('OUT_OF_RANGE', `${p.name}: expected integer >= ${p.minInt}, got ${show(s)}`);
  if (v > p.maxInt)
    return invalid('OUT_OF_RANGE', `${p.name}: expected integer <= ${p.maxInt}, got ${show(s)}`);
  return s;
}

/** A required column with no value (and no default tenant to fall back on). */
function missing(p: ColumnPlan, raw: undefined | null): RecordError {
  const got = raw === null ? 'null' : 'nothing';
  const why = p.defaultTenant ? 'required (no default tenant is configured)' : 'required';
  return invalid('MISSING_FIELD', `${p.name}: ${why}, got ${got}`);
}

/**
 * The key part of one column, right after convert() accepted it: equal in PostgreSQL ⇒ equal
 * here, so dedup catches `…T10:00:00Z` vs `…T11:00:00+01:00` or `"100.50"` vs `100.5` in one batch.
 */
function keyForm(p: ColumnPlan, raw: unknown, out: string | null): string {
  if (out === null) return '';
  switch (p.kind) {
    case 'timestamptz':
      return typeof raw === 'number' ? epochMsKey(raw) : timestampKey(out);
    case 'uuid':
      return out.toLowerCase();
    case 'numeric':
    case 'bigint':
    case 'integer':
      return canonicalDecimal(out);
    default:
      return out;
  }
}

/**
 * The instant of an accepted RFC 3339 string. The fraction is taken apart here and the whole
 * seconds parsed without it: V8's Date.parse misreads fractions of ten digits or more
 * (".0097661909" gives 97 ms), and PostgreSQL keeps microseconds, which Date.parse drops.
 */
function timestampKey(s: string): string {
  if (s.charCodeAt(19) !== 46) return instantKey(parsedMs, 0);
  let end = 20;
  while (isDigit(s.charCodeAt(end))) end++;
  return instantKey(Date.parse(s.slice(0, 19) + s.slice(end)), microsOf(s.slice(20, end)));
}
