// Idempotent schema migrations, safe to run from every worker at start: an advisory lock
// serialises concurrent members, applied files are recorded, and each file only uses
// IF NOT EXISTS forms. Tables become hypertables when TimescaleDB is available.
import fs from 'node:fs';
import path from 'node:path';
import type { Client, ClientBase } from 'pg';
import type { Logger } from 'pino';
import { quoteIdent } from '../core/sql-identifier.js';
import type { TopicMapping } from '../core/topic-mapping.js';
import { projectRoot } from '../util/project-root.js';
import { DatabaseError } from '../core/errors.js';

const TIME_COLUMNS: Record<string, string> = {
  bars: 'ts',
  options_snap: 'ts',
  fundamentals: 'asof',
  news: 'published_at',
};

function migrationFiles(): { name: string; sql: string }[] {
  const dir = path.join(projectRoot(), 'src', 'sql');
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((name) => ({ name, sql: fs.readFileSync(path.join(dir, name), 'utf8') }));
}

export async function migrate(client: Client | ClientBase, schema: string, log: Logger): Promise<string[]> {
  const s = quoteIdent(schema);
  const applied: string[] = [];
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [`market-data-sink:migrate:${schema}`]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.sink_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ name: string }>(`SELECT name FROM ${s}.sink_migrations`)).rows.map((r) => r.name),
    );
    const timescale = await timescaleAvailable(client);
    for (const file of migrationFiles()) {
      if (done.has(file.name)) continue;
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path TO ${s}`);
        await client.query(file.sql);
        const table = /CREATE TABLE IF NOT EXISTS (\w+)/.exec(file.sql)?.[1];
        const timeCol = table === undefined ? undefined : TIME_COLUMNS[table];
        if (timescale && table !== undefined && timeCol !== undefined) {
          await client.query(
            `SELECT public.create_hypertable($1::regclass, $2::name, if_not_exists => TRUE)`,
            [`${schema}.${table}`, timeCol],
          );
        }
        await client.query(`INSERT INTO ${s}.sink_migrations (name) VALUES ($1)`, [file.name]);
        await client.query('COMMIT');
        applied.push(file.name);
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`market-data-sink:migrate:${schema}`]);
  }
  if (applied.length > 0) log.info({ applied, schema }, 'migrations applied');
  return applied;
}

async function timescaleAvailable(client: Client | ClientBase): Promise<boolean> {
  const r = await client.query<{ installed: string | null; available: string | null }>(
    `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed,
            (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available`,
  );
  const row = r.rows[0];
  if (row?.installed) return true;
  if (!row?.available) return false;
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    return true;
  } catch {
    return false; // e.g. not in shared_preload_libraries: plain tables work the same
  }
}

/**
 * Checks that every mapped table exists with every mapped column, so a config that names a
 * missing table or column fails at start with a clear message instead of on the first batch.
 */
export async function checkMappedTables(
  client: Client | ClientBase,
  schema: string,
  mappings: Iterable<TopicMapping>,
): Promise<void> {
  const problems: string[] = [];
  for (const m of mappings) {
    const r = await client.query<{ column_name: string }>(
      'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
      [schema, m.table],
    );
    if (r.rows.length === 0) {
      problems.push(`table ${schema}.${m.table} (topic suffix ${m.topicSuffix}) does not exist`);
      continue;
    }
    const have = new Set(r.rows.map((x) => x.column_name));
    const missing = m.columns.map((c) => c.name).filter((c) => !have.has(c));
    if (missing.length > 0) problems.push(`table ${schema}.${m.table} lacks column(s) ${missing.join(', ')}`);
  }
  if (problems.length > 0) throw new DatabaseError('SCHEMA_MISMATCH', problems.join('; '), false);
}
