// First step after Kafka: one message value → checked against its topic's columns → the row a
// COPY needs (PostgreSQL text input per column) plus a conflict key for in-batch dedup. Built
// once per mapping (JSON Schema compiled up front) because it runs for every message.
import Ajv, { type ErrorObject } from 'ajv';
import { ConfigError, RecordError } from '../core/errors.js';
import {
  validateMapping,
  type ColumnSpec,
  type ColumnType,
  type TopicMapping,
} from '../core/topic-mapping.js';
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
} from './decimal-text.js';
import { jsonErrorMessage } from './json-error.js';

export type DecodeResult =
  | { readonly ok: true; readonly values: (string | null)[]; readonly key: string }
  | { readonly ok: false; readonly error: RecordError };

export interface RecordDecoder {
  decode(value: Buffer | null): DecodeResult;
}

export interface DecoderOptions {
  /** Used for `defaultTenant` columns when a message has none; without it such messages are invalid. */
  readonly defaultTenantId?: string | undefined;
  /** Larger values are rejected before they are decoded. */
  readonly maxMessageBytes: number;
}

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
// RFC 3339 with two narrowings PostgreSQL forces on us: offsets below 16 h (its limit) and, in
// ymdIsValid, no year 0000. Seconds stop at 59: Date.parse rejects leap seconds anyway.
const RFC3339_PATTERN =
  '^\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])[Tt](?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?(?:[Zz]|[+-](?:0\\d|1[0-5]):[0-5]\\d)$';
const DATE_PATTERN = '^\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])$';
const DECIMAL_PATTERN = '^-?\\d+(?:\\.\\d+)?$';
const INTEGER_PATTERN = '^-?\\d+$';
const UUID_RE = new RegExp(UUID_PATTERN);

// Epoch ms are written as toISOString(), which only PostgreSQL can read back for 4-digit
// years; outside 0001–9999 it switches to ±YYYYYY, which the COPY would reject.
const MIN_EPOCH_MS = -62135596800000;
const MAX_EPOCH_MS = 253402300799999;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const SQL_NUMERIC = /^\s*numeric\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$/i;
// PostgreSQL text cannot hold NUL, and an unpaired surrogate would become U+FFFD on the way
// to UTF-8; one cheap test finds both candidates, the slow path tells them apart.
// eslint-disable-next-line no-control-regex -- NUL is exactly what we look for
const SUSPECT_TEXT = /[\u0000\ud800-\udfff]/;
// JSON.stringify escapes exactly these (NUL and unpaired surrogates), which jsonb refuses.
const BAD_JSON_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F])/;

// Date.parse of the timestamp convert() just accepted, reused for its key: decode is
// synchronous, so nothing runs between the two, and parsing once is measurably cheaper.
let parsedMs = 0;

// One decoder for the process: `fatal` turns bad bytes into an error instead of U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface ColumnPlan {
  readonly name: string;
  readonly kind: ColumnType;
  /** Also true for key columns: a NULL in the conflict key would fail the whole batch. */
  readonly required: boolean;
  /** The name shadows an Object.prototype member, so `obj[name]` alone could find it. */
  readonly ownCheck: boolean;
  readonly defaultTenant: boolean;
  /** What a missing/null value becomes: the default tenant, or null (NULL, or missing if required). */
  readonly fallback: string | null;
  readonly upperCase: boolean;
  readonly maxLength: number | undefined;
  /** Enum checked by hand (after upper-casing) for upperCase columns; ajv checks the others. */
  readonly enumAfterUpper: ReadonlySet<string> | undefined;
  readonly enumText: string;
  /** Bounds for string-typed numbers, checked by hand (ajv's minimum only sees JSON numbers). */
  readonly minDec: string | undefined;
  readonly minAtMostZero: boolean;
  readonly maxDec: string | undefined;
  readonly minInt: bigint;
  readonly maxInt: bigint;
  /** NUMERIC(p,s) from sqlType: digits allowed before the point (p - s), and s. */
  readonly maxIntDigits: number | undefined;
  readonly scale: number;
  readonly sqlType: string;
  /** Position in the conflict key, -1 when not part of it. */
  readonly keyPos: number;
  /** What a type or pattern error says was expected, and the code it gets. */
  readonly expected: string;
  readonly typeCode: string;
}

type JsonObject = Record<string, unknown>;

export function createDecoder(mapping: TopicMapping, opts: DecoderOptions): RecordDecoder {
  const problems = validateMapping(mapping);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  if (!Number.isSafeInteger(opts.maxMessageBytes) || opts.maxMessageBytes <= 0) {
    throw new ConfigError(`maxMessageBytes: expected a positive integer, got ${opts.maxMessageBytes}`);
  }
  const tenant = opts.defaultTenantId;
  if (tenant !== undefined && !UUID_RE.test(tenant)) {
    throw new ConfigError(`DEFAULT_TENANT_ID: expected a UUID, got ${JSON.stringify(tenant)}`);
  }

  const plans = mapping.columns.map((c) => planColumn(c, mapping.key.indexOf(c.name), tenant));
  const byName = new Map(plans.map((p) => [p.name, p]));
  const ajv = new Ajv({
    allErrors: false,
    verbose: true, // errors carry the offending value, for "got …"
    allowUnionTypes: true,
    ownProperties: plans.some((p) => p.ownCheck),
  });
  const validate = ajv.compile<JsonObject>(buildSchema(mapping.columns, plans));
  const keyParts: string[] = new Array<string>(mapping.key.length).fill('');
  const n = plans.length;
  const maxBytes = opts.maxMessageBytes;

  function decode(value: Buffer | null): DecodeResult {
    if (value === null) {
      return decodeFailure(
        'decode',
        'TOMBSTONE',
        'value: expected a JSON object, got null (tombstones are not supported here)',
      );
    }
    if (value.length > maxBytes) {
      return decodeFailure(
        'decode',
        'MESSAGE_TOO_LARGE',
        `value: expected at most ${maxBytes} bytes, got ${value.length} bytes`,
      );
    }
    let text: string;
    try {
      text = utf8.decode(value);
    } catch {
      return decodeFailure(
        'decode',
        'INVALID_UTF8',
        `value: expected UTF-8 text, got invalid bytes (${value.length} bytes)`,
      );
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      return decodeFailure('decode', 'INVALID_JSON', jsonErrorMessage(e, text));
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      return decodeFailure('decode', 'NOT_AN_OBJECT', `value: expected a JSON object, got ${jsonKind(obj)}`);
    }
    if (!validate(obj)) return { ok: false, error: ajvError(validate.errors?.[0], byName) };

    const values = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const p = plans[i]!;
      const raw = p.ownCheck && !Object.hasOwn(obj, p.name) ? undefined : obj[p.name];
      let out: string | RecordError | null;
      if (raw === undefined || raw === null) {
        out = p.fallback;
        if (out === null && p.required) out = missing(p, raw);
      } else {
        out = convert(p, raw);
      }
      if (out instanceof RecordError) return { ok: false, error: out };
      values[i] = out;
      if (p.keyPos >= 0) keyParts[p.keyPos] = keyForm(p, raw, out);
    }
    return { ok: true, values, key: keyParts.length === 0 ? '' : keyParts.join('\u0000') };
  }

  return { decode };
}

/** A rejected decode: the record goes to the DLQ with this reason, code and message. */
export function decodeFailure(reason: 'decode' | 'validation', code: string, message: string): DecodeResult {
  return { ok: false, error: new RecordError(reason, code, message) };
}

function invalid(code: string, message: string): RecordError {
  return new RecordError('validation', code, message);
}

function planColumn(c: ColumnSpec, keyPos: number, tenant: string | undefined): ColumnPlan {
  const kind = c.type;
  const upper = c.upperCase === true && kind === 'text';
  const isInt = kind === 'bigint' || kind === 'integer';
  const lo = kind === 'integer' ? BigInt(INT32_MIN) : INT64_MIN;
  const hi = kind === 'integer' ? BigInt(INT32_MAX) : INT64_MAX;
  const m = kind === 'numeric' && c.sqlType !== undefined ? SQL_NUMERIC.exec(c.sqlType) : null;
  const precision = m === null ? undefined : Number(m[1]);
  const scale = m === null ? 0 : Number(m[2] ?? 0);
  const defaultTenant = c.defaultTenant === true;
  return {
    name: c.name,
    kind,
    required: c.required === true || keyPos >= 0,
    ownCheck: c.name in Object.prototype,
    defaultTenant,
    fallback: defaultTenant ? (tenant ?? null) : null,
    upperCase: upper,
    maxLength: c.maxLength,
    enumAfterUpper: upper && c.enum !== undefined ? new Set(c.enum) : undefined,
    enumText: (c.enum ?? []).map((v) => JSON.stringify(v)).join(', '),
    minDec: c.min === undefined ? undefined : numberToDecimal(c.min),
    minAtMostZero: c.min !== undefined && c.min <= 0,
    maxDec: c.max === undefined ? undefined : numberToDecimal(c.max),
    minInt: isInt && c.min !== undefined && c.min > Number(lo) ? BigInt(Math.ceil(c.min)) : lo,
    maxInt: isInt && c.max !== undefined && c.max < Number(hi) ? BigInt(Math.floor(c.max)) : hi,
    maxIntDigits: precision === undefined ? undefined : precision - scale,
    scale,
    sqlType: c.sqlType ?? kind,
    keyPos,
    expected: EXPECTED[kind],
    typeCode:
      kind === 'uuid'
        ? 'BAD_UUID'
        : kind === 'timestamptz' || kind === 'date'
          ? 'BAD_TIMESTAMP'
          : 'WRONG_TYPE',
  };
}

const EXPECTED: Record<ColumnType, string> = {
  text: 'a string',
  uuid: 'a UUID (8-4-4-4-12 hex digits)',
  timestamptz:
    'an RFC 3339 timestamp with time zone (e.g. 2024-01-02T15:04:05Z) or integer epoch milliseconds',
  date: 'a date YYYY-MM-DD',
  numeric: 'a number or a decimal string matching -?\\d+(\\.\\d+)?',
  bigint: 'an integer or an integer string matching -?\\d+',
  integer: 'an integer or an integer string matching -?\\d+',
  double: 'a number',
  boolean: 'true or false',
  jsonb: 'any JSON value',
};

/** Structure, types, lengths, enums and JSON-number bounds; the rest ajv cannot express. */
function buildSchema(columns: readonly ColumnSpec[], plans: readonly ColumnPlan[]): object {
  const properties: Record<string, object> = {};
  const required: string[] = [];
  columns.forEach((c, i) => {
    const p = plans[i]!;
    // defaultTenant columns are checked by hand so the message can say why a tenant is needed.
    const schemaRequired = p.required && !p.defaultTenant;
    if (schemaRequired) required.push(c.name);
    const s: Record<string, unknown> = {};
    let types: string[];
    switch (c.type) {
      case 'text':
        types = ['string'];
        if (c.maxLength !== undefined) s.maxLength = c.maxLength;
        if (c.enum !== undefined && !p.upperCase) s.enum = [...c.enum];
        break;
      case 'uuid':
        types = ['string'];
        s.pattern = UUID_PATTERN;
        break;
      case 'timestamptz':
        types = ['string', 'integer'];
        s.pattern = RFC3339_PATTERN;
        break;
      case 'date':
        types = ['string'];
        s.pattern = DATE_PATTERN;
        break;
      case 'numeric':
        types = ['number', 'string'];
        s.pattern = DECIMAL_PATTERN;
        break;
      case 'bigint':
      case 'integer':
        types = ['integer', 'string'];
        s.pattern = INTEGER_PATTERN;
        break;
      case 'double':
        types = ['number'];
        break;
      case 'boolean':
        types = ['boolean'];
        break;
      case 'jsonb':
        properties[c.name] = {};
        return;
    }
    if (c.type === 'numeric' || c.type === 'bigint' || c.type === 'integer' || c.type === 'double') {
      if (c.min !== undefined) s.minimum = c.min;
      if (c.max !== undefined) s.maximum = c.max;
      if (c.type === 'integer') {
        s.minimum = Math.max(c.min ?? INT32_MIN, INT32_MIN);
        s.maximum = Math.min(c.max ?? INT32_MAX, INT32_MAX);
      }
    }
    if (!schemaRequired) types.push('null');
    s.type = types.length === 1 ? types[0] : types;
    properties[c.name] = s;
  });
  return { type: 'object', properties, required };
}

/** A value ajv accepted → PostgreSQL text input, or the first rule ajv could not check. */
function convert(p: ColumnPlan, raw: unknown): string | RecordError {
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

function missing(p: ColumnPlan, raw: undefined | null): RecordError {
  const got = raw === null ? 'null' : 'nothing';
  const why = p.defaultTenant ? 'required (no default tenant is configured)' : 'required';
  return invalid('MISSING_FIELD', `${p.name}: ${why}, got ${got}`);
}

/**
 * The key part of one column: equal in PostgreSQL ⇒ equal here, so dedup catches
 * `…T10:00:00Z` vs `…T11:00:00+01:00` or `"100.50"` vs `100.5` in one batch.
 */
function keyForm(p: ColumnPlan, raw: unknown, out: string | null): string {
  if (out === null) return '';
  switch (p.kind) {
    case 'timestamptz':
      return typeof raw === 'number' ? String(raw) : timestampKey(out);
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

/** Epoch ms plus any digits past the millisecond that Date.parse dropped (PostgreSQL keeps µs). */
function timestampKey(s: string): string {
  let k = String(parsedMs);
  if (s.charCodeAt(19) === 46) {
    let end = 20;
    while (isDigit(s.charCodeAt(end))) end++;
    while (end > 23 && s.charCodeAt(end - 1) === 48) end--;
    if (end > 23) k += '.' + s.slice(23, end);
  }
  return k;
}

function ajvError(e: ErrorObject | undefined, byName: ReadonlyMap<string, ColumnPlan>): RecordError {
  if (e === undefined) return invalid('SCHEMA_VIOLATION', 'value: failed its schema');
  const params = e.params as { missingProperty?: string; limit?: number; comparison?: string };
  if (e.keyword === 'required')
    return invalid('MISSING_FIELD', `${params.missingProperty}: required, got nothing`);
  const name = e.instancePath.slice(1);
  const p = byName.get(name);
  const got: unknown = e.data;
  switch (e.keyword) {
    case 'type':
      if (got === null) return invalid('MISSING_FIELD', `${name}: required, got null`);
      return invalid(
        p?.typeCode ?? 'WRONG_TYPE',
        `${name}: expected ${p?.expected ?? e.message}, got ${show(got)}`,
      );
    case 'pattern':
      return invalid(
        p?.typeCode ?? 'WRONG_TYPE',
        `${name}: expected ${p?.expected ?? e.message}, got ${show(got)}`,
      );
    case 'maxLength':
      return invalid(
        'TOO_LONG',
        `${name}: expected at most ${params.limit} characters, got ${codePointLength(String(got))}`,
      );
    case 'enum':
      return invalid('BAD_ENUM', `${name}: expected one of ${p?.enumText}, got ${show(got)}`);
    case 'minimum':
    case 'maximum': {
      const what = p?.kind === 'bigint' || p?.kind === 'integer' ? 'integer' : 'number';
      return invalid(
        'OUT_OF_RANGE',
        `${name}: expected ${what} ${params.comparison} ${params.limit}, got ${show(got)}`,
      );
    }
    default:
      return invalid('SCHEMA_VIOLATION', `${name}: ${e.message ?? e.keyword}, got ${show(got)}`);
  }
}

/** The value as the producer might recognise it, cut short so a huge field cannot flood the DLQ. */
function show(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'a non-finite number';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

export { numberToDecimal, canonicalDecimal, compareDecimal } from './decimal-text.js';
