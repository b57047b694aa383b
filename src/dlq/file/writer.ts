// The local half of the dual DLQ: dead letters appended as NDJSON lines (codec.ts), one file
// per original topic and UTC day, rotated by size, fsynced before `write` resolves.
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { DeadLetter, DeadLetterSink } from '../../core/dead-letter.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { ConfigError, SinkError, toError } from '../../core/errors.js';
import { encodeDeadLetterLine } from './codec.js';

export interface NdjsonDeadLetterSinkOptions {
  /** Root directory; files are `<dir>/<topic>/<YYYY-MM-DD>[.<n>].ndjson`. */
  readonly dir: string;
  /**
   * A file is rotated before a write that would take it past this size. One write always
   * goes whole into one file, so a single write larger than this makes a larger file.
   */
  readonly maxFileBytes: number;
  /** Picks the UTC day of the file (default: the system clock). */
  readonly clock?: Pick<Clock, 'now'>;
}

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
  private readonly clock: Pick<Clock, 'now'>;
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
    this.clock = options.clock ?? systemClock;
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
