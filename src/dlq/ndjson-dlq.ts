// The local half of the dual DLQ: dead letters appended as NDJSON lines, one file per
// original topic and UTC day, rotated by size, fsynced before `write` resolves. The line
// format is the replay contract, so its encoder and decoder live here (reader: ndjson-dlq-source.ts).
import { isUtf8 } from 'node:buffer';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { IHeaders } from 'kafkajs';
import {
  DEAD_LETTER_REASONS,
  isDeadLetterReason,
  type DeadLetter,
  type DeadLetterReason,
  type DeadLetterSink,
} from '../core/dead-letter.js';
import { ConfigError, SinkError, toError } from '../core/errors.js';

export interface NdjsonDeadLetterSinkOptions {
  /** Root directory; files are `<dir>/<topic>/<YYYY-MM-DD>[.<n>].ndjson`. */
  readonly dir: string;
  /**
   * A file is rotated before a write that would take it past this size. One write always
   * goes whole into one file, so a single write larger than this makes a larger file.
   */
  readonly maxFileBytes: number;
  /** Picks the UTC day of the file (default: Date). */
  readonly clock?: { now(): number };
}

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

// ---------------------------------------------------------------------------------------
// Line format

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
    // defineProperty, not assignment: a header named "__proto__" must stay a header.
    Object.defineProperty(headers, name, {
      value: Array.isArray(v) ? v.map(encodeHeaderValue) : encodeHeaderValue(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
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
    Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
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

// ---------------------------------------------------------------------------------------
// Writer

interface TopicFile {
  readonly topicDir: string;
  readonly day: string;
  n: number;
  /** Bytes known to be durable in the current file. */
  size: number;
  handle: FileHandle | null;
}

function fileName(day: string, n: number): string {
  return n === 0 ? `${day}.ndjson` : `${day}.${n}.ndjson`;
}

/** Kafka topic names are always safe directory names; anything else is mapped, never refused. */
function topicDirName(topic: string): string {
  const safe = topic.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || safe === '.' || safe === '..' ? `_${safe}` : safe;
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function lastByte(file: string, size: number): Promise<number | undefined> {
  const h = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(1);
    const { bytesRead } = await h.read(buf, 0, 1, size - 1);
    return bytesRead === 1 ? buf[0] : undefined;
  } finally {
    await h.close();
  }
}

const NEWLINE = 0x0a;

function writeFailed(where: string, e: unknown): SinkError {
  return new SinkError(
    'DLQ_FILE_WRITE_FAILED',
    `NDJSON dead-letter write to ${where} failed: ${toError(e).message}`,
    {
      retriable: true,
      cause: e,
    },
  );
}

export class NdjsonDeadLetterSink implements DeadLetterSink {
  private readonly dir: string;
  private readonly maxFileBytes: number;
  private readonly clock: { now(): number };
  private readonly files = new Map<string, TopicFile>();
  /** Per topic: the tail of the write chain, so appends to one file never interleave. */
  private readonly chains = new Map<string, Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(options: NdjsonDeadLetterSinkOptions) {
    if (!Number.isSafeInteger(options.maxFileBytes) || options.maxFileBytes <= 0) {
      throw new ConfigError(`dlq.maxFileBytes: expected an integer > 0, got ${String(options.maxFileBytes)}`);
    }
    if (options.dir === '') throw new ConfigError('dlq.dir: expected a directory, got ""');
    this.dir = path.resolve(options.dir);
    this.maxFileBytes = options.maxFileBytes;
    this.clock = options.clock ?? Date;
  }

  /**
   * Creates the root directory, so a bad DLQ_DIR stops the start rather than the first poison
   * record. The current file (and its n) of a topic is found on its first write of a day.
   */
  async start(): Promise<void> {
    await this.ensureDir(this.dir);
    await fs.access(this.dir, fs.constants.W_OK);
  }

  write(entries: readonly DeadLetter[]): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(new SinkError('DLQ_CLOSED', 'NDJSON dead-letter sink is closed'));
    }
    const byTopic = new Map<string, string[]>();
    for (const d of entries) {
      const lines = byTopic.get(d.topic);
      if (lines === undefined) byTopic.set(d.topic, [encodeDeadLetterLine(d)]);
      else lines.push(encodeDeadLetterLine(d));
    }
    const writes: Promise<void>[] = [];
    for (const [topic, lines] of byTopic) {
      writes.push(this.enqueue(topic, Buffer.from(lines.join('\n') + '\n', 'utf8')));
    }
    return Promise.all(writes).then(() => undefined);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.chains.values());
      for (const f of this.files.values()) await this.closeHandle(f);
    })();
    return this.closing;
  }

  private enqueue(topic: string, data: Buffer): Promise<void> {
    const previous = this.chains.get(topic) ?? Promise.resolve();
    const next = previous.then(() => this.append(topic, data));
    // The chain outlives a failed write: the caller retries and the next write gets its turn.
    this.chains.set(
      topic,
      next.catch(() => undefined),
    );
    return next;
  }

  private async append(topic: string, data: Buffer): Promise<void> {
    const topicDir = path.join(this.dir, topicDirName(topic));
    // The day is read when the write gets its turn, so file order follows write order.
    const day = new Date(this.clock.now()).toISOString().slice(0, 10);
    let f = this.files.get(topic);
    try {
      if (f === undefined || f.day !== day) {
        if (f !== undefined) await this.closeHandle(f);
        this.files.delete(topic);
        f = await this.openDay(topicDir, day);
        this.files.set(topic, f);
      }
    } catch (e) {
      throw writeFailed(topicDir, e);
    }
    if (f.size > 0 && f.size + data.length > this.maxFileBytes) {
      await this.closeHandle(f);
      f.n += 1;
      f.size = 0;
    }
    const file = path.join(f.topicDir, fileName(f.day, f.n));
    try {
      if (f.handle === null) {
        f.handle = await fs.open(file, 'a');
        // A new file's directory entry must be durable too, or a crash can lose the file.
        if (f.size === 0) await fsyncDir(f.topicDir);
      }
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await f.handle.write(data, written, data.length - written);
        written += bytesWritten;
      }
      await f.handle.sync();
      f.size += data.length;
    } catch (e) {
      await this.recover(f, file);
      throw writeFailed(file, e);
    }
  }

  /**
   * After a failed write or fsync, part of a line may be on disk and the page cache state is
   * unknown: cut the file back to its last durable size, or move on to a fresh file if even
   * that fails. Either way the retried write starts on a line boundary.
   */
  private async recover(f: TopicFile, file: string): Promise<void> {
    await this.closeHandle(f);
    try {
      await fs.truncate(file, f.size);
    } catch {
      f.n += 1;
      f.size = 0;
    }
  }

  /** Finds the newest file of that day (written by an earlier run) and whether it can be appended to. */
  private async openDay(topicDir: string, day: string): Promise<TopicFile> {
    await this.ensureDir(topicDir);
    const pattern = new RegExp(`^${day}(?:\\.(\\d+))?\\.ndjson$`);
    let n = -1;
    for (const name of await fs.readdir(topicDir)) {
      const m = pattern.exec(name);
      if (m !== null) n = Math.max(n, m[1] === undefined ? 0 : Number(m[1]));
    }
    if (n < 0) return { topicDir, day, n: 0, size: 0, handle: null };
    const file = path.join(topicDir, fileName(day, n));
    const { size } = await fs.stat(file);
    // A crash mid-write leaves a torn last line; appending to it would corrupt the next line too.
    if (size > 0 && (await lastByte(file, size)) !== NEWLINE)
      return { topicDir, day, n: n + 1, size: 0, handle: null };
    return { topicDir, day, n, size, handle: null };
  }

  private async ensureDir(dir: string): Promise<void> {
    const created = await fs.mkdir(dir, { recursive: true });
    if (created === undefined) return;
    // Each new directory's entry lives in its parent: make those durable, innermost first.
    for (let d = dir; ; d = path.dirname(d)) {
      await fsyncDir(path.dirname(d));
      if (d === created || d === path.dirname(d)) break;
    }
  }

  private async closeHandle(f: TopicFile): Promise<void> {
    const h = f.handle;
    f.handle = null;
    if (h !== null) await h.close().catch(() => undefined);
  }
}
