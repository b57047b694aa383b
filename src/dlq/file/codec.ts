// The NDJSON files' line format: one dead letter per line, bytes kept exact (UTF-8 text as
// is, anything else base64). The format is the replay contract, so the encoder and its exact
// inverse live together (writer.ts, reader.ts).
import { isUtf8 } from 'node:buffer';
import type { IHeaders } from 'kafkajs';
import {
  DEAD_LETTER_REASONS,
  isDeadLetterReason,
  type DeadLetter,
  type DeadLetterReason,
} from '../../core/dead-letter.js';
import { SinkError, toError } from '../../core/errors.js';
import { setOwn } from '../../util/own-property.js';

/** One line of the file, as JSON. Field names are the replay contract: add, never rename. */
interface DeadLetterLine {
  v: 1;
  topic: string;
  partition: number;
  offset: number;
  /** ISO string; a timestamp outside the Date range stays a number. */
  timestamp: string | number;
  key: string | null;
  keyEncoding: 'utf8' | 'base64';
  value: string | null;
  valueEncoding: 'json' | 'utf8' | 'base64';
  /** A header repeated in the record is an array of such objects, in record order. */
  headers: Record<string, EncodedHeader | EncodedHeader[]>;
  reason: DeadLetterReason;
  errorCode: string;
  errorMessage: string;
  attempts: number;
  workerId: string;
  failedAt: string | number;
}

interface EncodedHeader {
  /** null for a header without a value (Kafka allows that). */
  value: string | null;
  encoding: 'utf8' | 'base64';
}

function encodeBytes(b: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  return isUtf8(b)
    ? { text: b.toString('utf8'), encoding: 'utf8' }
    : { text: b.toString('base64'), encoding: 'base64' };
}

function encodeValue(b: Buffer): { text: string; encoding: DeadLetterLine['valueEncoding'] } {
  if (!isUtf8(b)) return { text: b.toString('base64'), encoding: 'base64' };
  const text = b.toString('utf8');
  try {
    JSON.parse(text);
    // Kept as the original text, not re-serialised: replay must send back the same bytes.
    return { text, encoding: 'json' };
  } catch {
    return { text, encoding: 'utf8' };
  }
}

function encodeHeaderValue(v: Buffer | string | undefined | null): EncodedHeader {
  if (v === undefined || v === null) return { value: null, encoding: 'utf8' };
  if (typeof v === 'string') return { value: v, encoding: 'utf8' };
  const { text, encoding } = encodeBytes(v);
  return { value: text, encoding };
}

function encodeTime(ms: number): string | number {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? ms : d.toISOString();
}

/** The NDJSON line of a dead letter (without the trailing newline). */
export function encodeDeadLetterLine(d: DeadLetter): string {
  const key = d.key === null ? null : encodeBytes(d.key);
  const value = d.value === null ? null : encodeValue(d.value);
  const headers: DeadLetterLine['headers'] = {};
  for (const [name, v] of Object.entries(d.headers ?? {})) {
    setOwn(headers, name, Array.isArray(v) ? v.map(encodeHeaderValue) : encodeHeaderValue(v));
  }
  const line: DeadLetterLine = {
    v: 1,
    topic: d.topic,
    partition: d.partition,
    offset: d.offset,
    timestamp: encodeTime(d.timestamp),
    key: key?.text ?? null,
    keyEncoding: key?.encoding ?? 'utf8',
    value: value?.text ?? null,
    valueEncoding: value?.encoding ?? 'utf8',
    headers,
    reason: d.reason,
    errorCode: d.errorCode,
    errorMessage: d.errorMessage,
    attempts: d.attempts,
    workerId: d.workerId,
    failedAt: encodeTime(d.failedAt),
  };
  return JSON.stringify(line);
}

function invalid(what: string, got: unknown): SinkError {
  const shown = typeof got === 'string' ? JSON.stringify(got.slice(0, 80)) : String(got);
  return new SinkError('DLQ_LINE_INVALID', `dead-letter line: expected ${what}, got ${shown}`);
}

function field<T>(o: Record<string, unknown>, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[name];
  if (!check(v)) throw invalid(`"${name}" ${what}`, v);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

function decodeTime(o: Record<string, unknown>, name: string): number {
  const v = o[name];
  if (isInt(v)) return v;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw invalid(`"${name}" as an ISO date`, v);
  return ms;
}

function decodeBytes(
  text: string | null,
  encoding: unknown,
  name: string,
  allowed: readonly string[],
): Buffer | null {
  if (!allowed.includes(encoding as string))
    throw invalid(`"${name}Encoding" one of ${allowed.join('|')}`, encoding);
  if (text === null) return null;
  return Buffer.from(text, encoding === 'base64' ? 'base64' : 'utf8');
}

function decodeHeaderValue(h: unknown, name: string): Buffer | null {
  if (typeof h !== 'object' || h === null) throw invalid(`header "${name}" as {value, encoding}`, h);
  const { value, encoding } = h as Record<string, unknown>;
  if (!isStringOrNull(value)) throw invalid(`header "${name}" value as a string or null`, value);
  return decodeBytes(value, encoding, `header "${name}" `, ['utf8', 'base64']);
}

/** Parses one NDJSON line back into the dead letter it was made from (exact inverse). */
export function decodeDeadLetterLine(line: string): DeadLetter {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (e) {
    throw new SinkError('DLQ_LINE_INVALID', `dead-letter line: expected JSON, got ${toError(e).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalid('a JSON object', line);
  const o = parsed as Record<string, unknown>;
  if (o.v !== 1) throw invalid('"v" 1', o.v);
  const rawHeaders = o.headers;
  if (typeof rawHeaders !== 'object' || rawHeaders === null || Array.isArray(rawHeaders)) {
    throw invalid('"headers" as an object', rawHeaders);
  }
  const headers: IHeaders = {};
  for (const [name, h] of Object.entries(rawHeaders)) {
    // A header without a value comes back as undefined (or null inside a repeated header),
    // which KafkaJS sends as a null header again, as it decoded it.
    const value = Array.isArray(h)
      ? (h.map((x) => decodeHeaderValue(x, name)) as Buffer[])
      : (decodeHeaderValue(h, name) ?? undefined);
    setOwn(headers, name, value);
  }
  const reason = field(o, 'reason', isString, 'as a string');
  if (!isDeadLetterReason(reason)) throw invalid(`"reason" one of ${DEAD_LETTER_REASONS.join('|')}`, reason);
  return {
    topic: field(o, 'topic', isString, 'as a string'),
    partition: field(o, 'partition', isInt, 'as an integer'),
    offset: field(o, 'offset', isInt, 'as an integer'),
    timestamp: decodeTime(o, 'timestamp'),
    key: decodeBytes(field(o, 'key', isStringOrNull, 'as a string or null'), o.keyEncoding, 'key', [
      'utf8',
      'base64',
    ]),
    value: decodeBytes(field(o, 'value', isStringOrNull, 'as a string or null'), o.valueEncoding, 'value', [
      'json',
      'utf8',
      'base64',
    ]),
    headers,
    reason,
    errorCode: field(o, 'errorCode', isString, 'as a string'),
    errorMessage: field(o, 'errorMessage', isString, 'as a string'),
    attempts: field(o, 'attempts', isInt, 'as an integer'),
    workerId: field(o, 'workerId', isString, 'as a string'),
    failedAt: decodeTime(o, 'failedAt'),
  };
}
