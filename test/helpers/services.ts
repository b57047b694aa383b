// Where the tests find the real services started by scripts/services.sh (`eval "$(scripts/services.sh env)"`),
// plus the polling helper tests use instead of sleeps and random names that keep tests apart.
import crypto from 'node:crypto';
import http from 'node:http';

const DEFAULT_BROKERS = '127.0.0.1:9092';
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** KAFKA_BROKERS (comma-separated host:port), default 127.0.0.1:9092. */
export function kafkaBrokers(): string[] {
  const raw = process.env.KAFKA_BROKERS?.trim() || DEFAULT_BROKERS;
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const bad = brokers.find((b) => !/^[^\s:]+:\d{1,5}$/.test(b));
  if (bad !== undefined || brokers.length === 0) {
    throw new Error(`KAFKA_BROKERS: expected host:port[,host:port…], got "${raw}"`);
  }
  return brokers;
}

/** DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres. */
export function databaseUrl(): string {
  return process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
}

export interface WaitForOptions {
  /** Give up after this long (default 30 000 ms). */
  timeoutMs?: number;
  /** Pause between attempts (default 100 ms). */
  intervalMs?: number;
  /** What was being waited for; a function is called only on timeout, so it can describe the last state. */
  message?: string | (() => string | Promise<string>);
}

/**
 * Polls `fn` until it returns a value other than `false`/`undefined`/`null` and returns that value.
 * An exception thrown by `fn` counts as "not yet" (services come up gradually) and is reported if the
 * deadline passes. At the deadline throws `timed out after N ms: <message>`.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 100, message = 'condition' }: WaitForOptions = {},
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== false && value !== null && value !== undefined) {
        return value as Exclude<T, false | null | undefined>;
      }
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const text = typeof message === 'string' ? message : await message();
      const cause = lastError === undefined ? '' : ` (last error: ${errorText(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms: ${text}${cause}`);
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))),
    );
  }
}

/** `prefix` + 10 random hex characters: a topic, group or schema name no other test run uses. */
export function randomName(prefix: string): string {
  return `${prefix}${crypto.randomBytes(5).toString('hex')}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** GET http://127.0.0.1:<port><path> (the sink's metrics/health server): status and body text. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}
