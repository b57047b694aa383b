// First step after Kafka: one message value → checked against its topic's columns → the row a
// COPY needs (one line of COPY text) plus a conflict key for in-batch dedup. Built once per
// mapping (column plans and JSON Schema compiled up front) because it runs for every message.
// Two paths: flat-row.ts takes the plain messages market data is made of straight from bytes
// to the line; everything else, and every rejection, goes the full way here (JSON.parse, the
// schema in record-schema.ts, column-convert.ts).
import Ajv from 'ajv';
import { ConfigError, RecordError } from '../core/errors.js';
import { validateMapping, type TopicMapping } from '../core/topic-mapping.js';
import { planColumn } from './column-plan.js';
import { fillRow } from './column-convert.js';
import { copyRow } from './copy-row.js';
import { FlatRowDecoder } from './flat-row.js';
import { jsonErrorMessage } from './json-error.js';
import { ajvError, buildSchema, UUID_PATTERN } from './record-schema.js';
import { jsonKind } from './rejection-text.js';

export type DecodeResult =
  | { readonly ok: true; readonly row: string; readonly key: string }
  | { readonly ok: false; readonly error: RecordError };

export interface RecordDecoder {
  decode(value: Buffer | null): DecodeResult;
  /** Messages the fast path accepted, and messages that took the full path (accepted or not). */
  readonly stats?: { fast: number; full: number };
}

export interface DecoderOptions {
  /** Used for `defaultTenant` columns when a message has none; without it such messages are invalid. */
  readonly defaultTenantId?: string | undefined;
  /** Larger values are rejected before they are decoded. */
  readonly maxMessageBytes: number;
  /** false: every message takes the full path (tests compare the two; the bench measures both). */
  readonly fastPath?: boolean;
}

const UUID_RE = new RegExp(UUID_PATTERN);

// One decoder for the process: `fatal` turns bad bytes into an error instead of U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

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
  const stats = { fast: 0, full: 0 };
  // A column named like an Object.prototype member is left to the full path's own-property checks.
  const fast =
    opts.fastPath !== false && !plans.some((p) => p.ownCheck)
      ? new FlatRowDecoder(plans, mapping.columns)
      : undefined;

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
    if (fast?.tryDecode(value) === true) {
      stats.fast++;
      return { ok: true, row: fast.row, key: fast.key };
    }
    stats.full++;
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
    const error = fillRow(plans, obj, values, keyParts);
    if (error !== undefined) return { ok: false, error };
    return { ok: true, row: copyRow(values), key: keyParts.length === 0 ? '' : keyParts.join('\u0000') };
  }

  return { decode, stats };
}

/** A rejected decode: the record goes to the DLQ with this reason, code and message. */
export function decodeFailure(reason: 'decode' | 'validation', code: string, message: string): DecodeResult {
  return { ok: false, error: new RecordError(reason, code, message) };
}

export { numberToDecimal, canonicalDecimal, compareDecimal } from './decimal-text.js';
