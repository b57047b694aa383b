// The README's "Database privileges" are enough and are what they say: the tables migrated by
// their owner, a fresh role given exactly the README's GRANT statements (schema, role and
// database names substituted), and a member running as that role with
// DATABASE_MIGRATE_ON_START=false writes every record and its offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startSink, type SinkHandle } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import { builtinMappings } from '../../src/config/builtin-mappings.js';
import { projectRoot } from '../../src/util/project-root.js';
import {
  actualRows,
  caughtUp,
  createTestContext,
  expectedRows,
  sampleBatch,
  storedOffsets,
  toKafka,
  waitFor,
} from '../helpers/sink-harness.js';

/** The SQL block of the README's "Database privileges" section. */
function readmeGrants(): string {
  const readme = fs.readFileSync(path.join(projectRoot(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Database privileges'));
  const sql = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(sql !== undefined, 'README has a sql block under "Database privileges"');
  return sql;
}

function roleUrl(base: string, role: string): string {
  const url = new URL(base);
  url.username = role;
  url.password = '';
  return url.toString();
}

test("a role with only the README's grants runs the sink (migrations applied by the owner)", async (t) => {
  const ctx = await createTestContext('privs');
  const role = `sink_${ctx.schema}`.slice(0, 63);
  // Filled once the member runs; the clean-up kills it before the role can be dropped.
  const running: SinkHandle[] = [];
  t.after(async () => {
    for (const s of running) await s.kill();
    await ctx.db.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await ctx.db.query(`DROP ROLE IF EXISTS ${role}`);
    await ctx.cleanup();
  });
  await ctx.createTopics(['bars', 'news'], 2);
  const bars = sampleBatch('bars', 1500, 100);
  const news = sampleBatch('news', 500, 100);
  await ctx.produce(ctx.topic('bars'), toKafka(bars));
  await ctx.produce(ctx.topic('news'), toKafka(news));
  await ctx.migrate();

  const database = (await ctx.db.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  await ctx.db.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
  // Without the grants the role reaches nothing: what it can do below comes from them.
  const asRole = new pg.Client({ connectionString: roleUrl(ctx.env.DATABASE_URL!, role) });
  await asRole.connect();
  const denied = await asRole
    .query(`SELECT 1 FROM ${ctx.schema}.sink_offsets`)
    .catch((e: { code?: string }) => e);
  await asRole.end();
  assert.equal((denied as { code?: string }).code, '42501', 'permission denied before the grants');
  const grants = readmeGrants()
    .replace(/\bmarket\./g, `${ctx.schema}.`)
    .replace(/SCHEMA market\b/g, `SCHEMA ${ctx.schema}`)
    .replace(/DATABASE market\b/g, `DATABASE ${database}`)
    .replace(/\bTO sink\b/g, `TO ${role}`);
  await ctx.db.query(grants);

  const sink = await startSink(
    ctx.config({
      DATABASE_URL: roleUrl(ctx.env.DATABASE_URL!, role),
      DATABASE_MIGRATE_ON_START: 'false',
      KAFKA_TOPICS: 'bars,news',
    }),
    { log: createLogger(ctx.env.LOG_LEVEL ?? 'warn') },
  );
  running.push(sink);
  const topics = [ctx.topic('bars'), ctx.topic('news')];
  await waitFor(() => caughtUp(ctx, topics), `the sink running as ${role} did not catch up`, 90_000);
  await sink.stop();

  for (const [kind, msgs] of [
    ['bars', bars],
    ['news', news],
  ] as const) {
    const mapping = builtinMappings().find((m) => m.topicSuffix === kind)!;
    assert.deepEqual(
      await actualRows(ctx.db, ctx.schema, mapping),
      expectedRows(
        mapping,
        msgs.map((m) => m.value),
      ),
      `${mapping.table}: exact rows`,
    );
  }
  const stored = await storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  assert.equal(
    [...stored.values()].reduce((a, b) => a + b, 0),
    bars.length + news.length,
  );
});
