// Integration-test harness: a private namespace per test (random topic prefix, group id,
// DLQ topic/dir and database schema) on the real broker and PostgreSQL, helpers to produce
// sample data and to read back exact table contents, and cleanup.
import assert from 'node:assert/strict';
import type { TestContext as NodeTestContext } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import { loadConfig, type LoadedConfig } from '../../src/config/load-config.js';
import { quoteIdent } from '../../src/core/sql-identifier.js';
import type { TopicMapping } from '../../src/core/topic-mapping.js';
import { sampleMessage, symbols, type Kind, type SampleMessage } from '../../src/sample/sample-data.js';
import { createLogger } from '../../src/core/logger.js';
import { databaseUrl, kafkaBrokers, randomName, waitFor as poll } from './services.js';
import { migrate } from '../../src/sink/migrate.js';

// What integration tests use alongside the harness, so one namespace import serves a test.
export { startSink, type SinkHandle } from '../../src/app.js';
export { createLogger } from '../../src/core/logger.js';
export { builtinMappings } from '../../src/config/builtin-mappings.js';

export const BROKERS = kafkaBrokers();

/**
 * A sink that meets a database outage: the breaker opens after 3 failures and probes every
 * 2 s, retries and connects give up fast, and a small queue makes backpressure reach Kafka.
 */
export const OUTAGE_ENV = {
  QUEUE_CAPACITY_RECORDS: '3000',
  CB_FAILURE_THRESHOLD: '3',
  CB_OPEN_MS: '2000',
  RETRY_MAX_BACKOFF_MS: '500',
  DATABASE_CONNECT_TIMEOUT_MS: '1000',
} as const;
export const DATABASE_URL = databaseUrl();

/**
 * Polls `fn` until it returns true (a probe that throws counts as "not yet"); fails with
 * `message` at the deadline. The positional form of services.ts's waitFor.
 */
export async function waitFor(
  fn: () => Promise<boolean> | boolean,
  message: string | (() => string | Promise<string>),
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<void> {
  await poll(fn, { message, timeoutMs, intervalMs });
}

export interface TestContext {
  readonly prefix: string;
  readonly schema: string;
  readonly groupId: string;
  readonly dlqTopic: string;
  readonly dlqDir: string;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly db: pg.Pool;
  readonly env: NodeJS.ProcessEnv;
  topic(kind: string): string;
  createTopics(kinds: readonly string[], partitions: number): Promise<void>;
  /** Loads the sink's config for this namespace; `extra` are env overrides. */
  config(extra?: Record<string, string>): LoadedConfig;
  producer(): Promise<Producer>;
  produce(
    topic: string,
    messages: readonly { key: string | Buffer | null; value: string | Buffer | null }[],
  ): Promise<void>;
  migrate(): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * createTestContext for one node:test test: cleaned up after it, with `kinds`' topics
 * created (`partitions` each) when given.
 */
export async function testContext(
  t: Pick<NodeTestContext, 'after'>,
  name: string,
  kinds: readonly string[] = [],
  partitions = 1,
): Promise<TestContext> {
  const ctx = await createTestContext(name);
  t.after(() => ctx.cleanup());
  if (kinds.length > 0) await ctx.createTopics(kinds, partitions);
  return ctx;
}

export async function createTestContext(
  name: string,
  brokers: readonly string[] = BROKERS,
): Promise<TestContext> {
  const id = randomName(`${name.replace(/[^a-z0-9]/g, '')}_`);
  const prefix = `${id}.`;
  const schema = id.toLowerCase();
  const dlqTopic = `${id}.dlq`;
  const dlqDir = fs.mkdtempSync(path.join(os.tmpdir(), `${id}-dlq-`));
  const kafka = new Kafka({ clientId: `test-${id}`, brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  const producers: Producer[] = [];
  const topics = new Set<string>();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    KAFKA_BROKERS: brokers.join(','),
    DATABASE_URL,
    TOPIC_PREFIX: prefix,
    KAFKA_GROUP_ID: `${id}-group`,
    KAFKA_CLIENT_ID: `sink-${id}`,
    DATABASE_SCHEMA: schema,
    DLQ_TOPIC: dlqTopic,
    DLQ_DIR: dlqDir,
    METRICS_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
  };
  const ctx: TestContext = {
    prefix,
    schema,
    groupId: `${id}-group`,
    dlqTopic,
    dlqDir,
    kafka,
    admin,
    db,
    env,
    topic: (kind) => prefix + kind,
    async createTopics(kinds, partitions) {
      const names = kinds.map((k) => prefix + k);
      names.forEach((t) => topics.add(t));
      await admin.createTopics({
        topics: names.map((topic) => ({ topic, numPartitions: partitions })),
        waitForLeaders: true,
      });
    },
    config(extra = {}) {
      return loadConfig({ env: { ...env, ...extra } });
    },
    async producer() {
      const p = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      producers.push(p);
      return p;
    },
    async produce(topic, messages) {
      const p = producers[0] ?? (await ctx.producer());
      for (let i = 0; i < messages.length; i += 1000) {
        await p.send({
          topic,
          acks: -1,
          messages: messages.slice(i, i + 1000).map((m) => ({ key: m.key, value: m.value })),
        });
      }
    },
    async migrate() {
      const c = await db.connect();
      try {
        await migrate(c, schema, createLogger('silent'));
      } finally {
        c.release();
      }
    },
    async cleanup() {
      for (const p of producers) await p.disconnect().catch(() => undefined);
      topics.add(dlqTopic);
      const existing = new Set(await admin.listTopics().catch(() => [] as string[]));
      const del = [...topics].filter((t) => existing.has(t));
      if (del.length > 0) await admin.deleteTopics({ topics: del }).catch(() => undefined);
      await admin.deleteGroups([`${id}-group`]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await db.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
      await db.end().catch(() => undefined);
      fs.rmSync(dlqDir, { recursive: true, force: true });
    },
  };
  return ctx;
}

export function sampleBatch(kind: Kind, count: number, nSymbols = 200, seed = 1, start = 0): SampleMessage[] {
  const u = symbols(nSymbols);
  return Array.from({ length: count }, (_, i) => sampleMessage(kind, start + i, u, seed));
}

export function toKafka(messages: readonly SampleMessage[]): { key: string; value: string }[] {
  return messages.map((m) => ({ key: m.key, value: JSON.stringify(m.value) }));
}

/** SQL expression and JS normaliser per column type, so rows compare as exact text. */
function columnExpr(c: TopicMapping['columns'][number]): string {
  const q = quoteIdent(c.name);
  switch (c.type) {
    case 'timestamptz':
      return `(extract(epoch from ${q}) * 1000)::bigint::text`;
    case 'double':
      return `${q}::float8::text`;
    default:
      return `${q}::text`;
  }
}

function text(v: unknown): string {
  return typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : JSON.stringify(v);
}

function normalise(c: TopicMapping['columns'][number], v: unknown, defaultTenant?: string): string | null {
  if (v === undefined || v === null) return c.defaultTenant && defaultTenant ? defaultTenant : null;
  switch (c.type) {
    case 'timestamptz':
      return typeof v === 'number' ? String(v) : String(Date.parse(text(v)));
    case 'text':
      return c.upperCase ? text(v).toUpperCase() : text(v);
    case 'uuid':
      return text(v).toLowerCase();
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return text(v);
  }
}

/** Expected table content (last write per conflict key wins), as sorted row strings. */
export function expectedRows(
  mapping: TopicMapping,
  values: readonly Record<string, unknown>[],
  defaultTenant?: string,
): string[] {
  const byKey = new Map<string, string>();
  for (const v of values) {
    const row = mapping.columns.map((c) => normalise(c, v[c.name], defaultTenant));
    const key = mapping.key.map((k) => row[mapping.columns.findIndex((c) => c.name === k)]).join('\u0000');
    byKey.set(
      mapping.mode === 'copy' ? `${byKey.size}` : key,
      row.map((x) => (x === null ? '∅' : x)).join('|'),
    );
  }
  return [...byKey.values()].sort();
}

export async function actualRows(db: pg.Pool, schema: string, mapping: TopicMapping): Promise<string[]> {
  const cols = mapping.columns.map(columnExpr).join(', ');
  const r = await db.query<Record<string, string | null>>({
    text: `SELECT ${cols} FROM ${quoteIdent(schema)}.${quoteIdent(mapping.table)}`,
    rowMode: 'array',
  } as pg.QueryConfig);
  const isDouble = mapping.columns.map((c) => c.type === 'double');
  // PostgreSQL prints float8 as 9e-05 where JS prints 0.00009: compare the numbers.
  return (r.rows as unknown as (string | null)[][])
    .map((row) => row.map((x, i) => (x === null ? '∅' : isDouble[i] ? String(Number(x)) : x)).join('|'))
    .sort();
}

/** A bars value's identity: `symbol@ts`, ts as the producer sends it (ISO 8601, ms, UTC). */
export function barIdent(v: Record<string, unknown>): string {
  return `${String(v.symbol)}@${String(v.ts)}`;
}

/** barIdent of a dead letter's original value (JSON bytes as produced). */
export function deadLetterIdent(d: { readonly value: Buffer | null }): string {
  return barIdent(JSON.parse(d.value!.toString('utf8')) as Record<string, unknown>);
}

/** barIdent of every row of the test's bars table, asserting that no row was written twice. */
export async function writtenBarsOnce(ctx: TestContext): Promise<Set<string>> {
  const rows = await ctx.db.query<{ s: string }>(
    `SELECT symbol || '@' || to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS s FROM ${ctx.schema}.bars`,
  );
  const written = new Set(rows.rows.map((r) => r.s));
  assert.equal(written.size, rows.rows.length, 'no row written twice');
  return written;
}

export async function tableCount(db: pg.Pool, schema: string, table: string): Promise<number> {
  const r = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${quoteIdent(schema)}.${quoteIdent(table)}`,
  );
  return Number(r.rows[0]!.n);
}

/** sink_offsets rows of a group: "topic/partition" → next_offset. */
export async function storedOffsets(
  db: pg.Pool,
  schema: string,
  groupId: string,
): Promise<Map<string, number>> {
  const r = await db
    .query<{ topic: string; partition: number; next_offset: string }>(
      `SELECT topic, partition, next_offset::text AS next_offset FROM ${quoteIdent(schema)}.sink_offsets WHERE group_id = $1`,
      [groupId],
    )
    .catch(() => ({ rows: [] as { topic: string; partition: number; next_offset: string }[] }));
  return new Map(r.rows.map((x) => [`${x.topic}/${x.partition}`, Number(x.next_offset)]));
}

/** High watermarks of topics: "topic/partition" → offset after the last message. */
export async function highWatermarks(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of topics)
    for (const p of await admin.fetchTopicOffsets(t)) out.set(`${t}/${p.partition}`, Number(p.high));
  return out;
}

/** True when every partition's stored next offset reached its high watermark. */
export async function caughtUp(ctx: TestContext, topics: readonly string[]): Promise<boolean> {
  const hw = await highWatermarks(ctx.admin, topics);
  const stored = await storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  for (const [k, v] of hw) if (v > 0 && (stored.get(k) ?? 0) < v) return false;
  return true;
}

/** Makes every insert statement into `table` take `seconds` longer: a database slower than Kafka. */
export async function slowInserts(ctx: TestContext, table: string, seconds: number): Promise<void> {
  const s = quoteIdent(ctx.schema);
  await ctx.db.query(`
    CREATE FUNCTION ${s}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${Number(seconds)}); RETURN NULL; END $$;
    CREATE TRIGGER slow AFTER INSERT ON ${s}.${quoteIdent(table)} FOR EACH STATEMENT EXECUTE FUNCTION ${s}.slow();`);
}

/**
 * A statement trigger on `table` that holds every write while hold.closed is true, so a test
 * decides when queued records are written. Returns the switch.
 */
export async function installWriteHold(
  ctx: TestContext,
  table: string,
): Promise<(closed: boolean) => Promise<unknown>> {
  const s = quoteIdent(ctx.schema);
  await ctx.db.query(`
    CREATE TABLE ${s}.hold (closed boolean NOT NULL);
    INSERT INTO ${s}.hold VALUES (true);
    CREATE FUNCTION ${s}.hold() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN WHILE (SELECT closed FROM ${s}.hold) LOOP PERFORM pg_sleep(0.05); END LOOP; RETURN NULL; END $$;
    CREATE TRIGGER hold AFTER INSERT ON ${s}.${quoteIdent(table)} FOR EACH STATEMENT EXECUTE FUNCTION ${s}.hold();`);
  return (closed) => ctx.db.query(`UPDATE ${s}.hold SET closed = $1`, [closed]);
}
