// Two harder poison cases: a worker killed with SIGKILL while it bisects a poison batch
// (no poison record may be missing from the DLQ, no good record lost or doubled), and the
// operator's way out: fix the cause, replay the DLQ, and the formerly poison rows arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as harness from '../helpers/sink-harness.js';
import { readDlqTopic, readNdjson } from '../helpers/dlq-readers.js';
import { lastLines, spawnWorker, type WorkerProcess } from '../helpers/worker-process.js';

const coord = (d: { topic: string; partition: number; offset: number }): string =>
  `${d.topic}/${d.partition}/${d.offset}`;

test('kill -9 while a poison batch is bisected: DLQ complete, good rows exactly once', async (t) => {
  const ctx = await harness.testContext(t, 'bisectkill', ['bars'], 1);
  await ctx.migrate();
  // Poison only the database knows about, and every statement on bars made slow, so the
  // bisection (dozens of savepoint steps) is long enough to be interrupted.
  await ctx.db.query(`
    ALTER TABLE ${ctx.schema}.bars ADD CONSTRAINT sane_close CHECK (close_price < 1e12);
    CREATE FUNCTION ${ctx.schema}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$;
    CREATE TRIGGER slow AFTER INSERT ON ${ctx.schema}.bars FOR EACH STATEMENT EXECUTE FUNCTION ${ctx.schema}.slow();`);
  const msgs = harness.sampleBatch('bars', 6000, 6000);
  const poisonAt = new Set([13, 400, 401, 1999, 2500, 3333, 4100, 5998]);
  const values = msgs.map((m, i) =>
    poisonAt.has(i) ? { ...m.value, close_price: '9000000000000' } : m.value,
  );
  await ctx.produce(
    ctx.topic('bars'),
    values.map((v, i) => ({ key: msgs[i]!.key, value: JSON.stringify(v) })),
  );
  const env = {
    ...ctx.env,
    KAFKA_TOPICS: 'bars',
    SINK_WRITE_MODE: 'copy',
    SINK_WORKERS: '1',
    SINK_BATCH_SIZE: '3000',
  };
  const workers: WorkerProcess[] = [];
  t.after(() => {
    for (const w of workers) w.kill('SIGKILL');
  });
  const first = spawnWorker(env);
  workers.push(first);
  await harness.waitFor(
    async () =>
      (
        await ctx.db.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1 AND query ILIKE 'SAVEPOINT%'`,
          [`sink-${ctx.schema}%`],
        )
      ).rows.length > 0,
    () => `the worker never started bisecting:\n${lastLines(first.output())}`,
    60_000,
    10,
  );
  await new Promise((r) => setTimeout(r, 400));
  first.kill('SIGKILL');
  await first.exited;

  const second = spawnWorker(env);
  workers.push(second);
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    () => `restart did not finish:\n${lastLines(second.output())}`,
    180_000,
  );
  second.kill('SIGTERM');
  await second.exited;

  const bars = harness.builtinMappings('copy').find((m) => m.table === 'bars')!;
  const good = values.filter((_, i) => !poisonAt.has(i));
  assert.equal(await harness.tableCount(ctx.db, ctx.schema, 'bars'), good.length, 'good rows exactly once');
  assert.deepEqual(await harness.actualRows(ctx.db, ctx.schema, bars), harness.expectedRows(bars, good));
  const expected = new Set([...poisonAt].map((i) => `${ctx.topic('bars')}/0/${i}`));
  assert.deepEqual(
    new Set(readNdjson(ctx.dlqDir).map(coord)),
    expected,
    'NDJSON DLQ holds every poison record',
  );
  assert.deepEqual(
    new Set((await readDlqTopic(ctx, expected.size)).map(coord)),
    expected,
    'DLQ topic holds every poison record',
  );
});

test('fix the cause, replay the DLQ: the formerly poison records arrive', async (t) => {
  const ctx = await harness.testContext(t, 'replay', ['bars'], 2);
  await ctx.migrate();
  await ctx.db.query(`ALTER TABLE ${ctx.schema}.bars ADD CONSTRAINT sane_close CHECK (close_price < 1e6)`);
  const msgs = harness.sampleBatch('bars', 3000, 300);
  const values = msgs.map((m, i) => (i % 100 === 0 ? { ...m.value, close_price: '2500000.5' } : m.value));
  await ctx.produce(
    ctx.topic('bars'),
    values.map((v, i) => ({ key: msgs[i]!.key, value: JSON.stringify(v) })),
  );
  const env = { ...ctx.env, KAFKA_TOPICS: 'bars' };
  const w = spawnWorker(env);
  t.after(() => w.kill('SIGKILL'));
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    () => `worker did not catch up:\n${lastLines(w.output())}`,
    90_000,
  );
  assert.equal(await harness.tableCount(ctx.db, ctx.schema, 'bars'), 3000 - 30);
  assert.equal((await readDlqTopic(ctx, 30)).length, 30);

  // The fix: widen what the table accepts. Then replay only the database rejections.
  await ctx.db.query(`ALTER TABLE ${ctx.schema}.bars DROP CONSTRAINT sane_close`);
  const replay = spawnSync(
    'bash',
    [
      path.resolve(__dirname, '../../scripts/replay-dlq'),
      '--from-topic',
      '--dlq-topic',
      ctx.dlqTopic,
      '--reason',
      'database',
      '--group',
      `${ctx.groupId}-replay`,
      '--brokers',
      ctx.env.KAFKA_BROKERS!,
      '--idle-timeout-ms',
      '3000',
    ],
    { encoding: 'utf8', env: ctx.env, timeout: 120_000 },
  );
  assert.equal(replay.status, 0, `replay failed:\n${replay.stdout}\n${replay.stderr}`);
  await harness.waitFor(
    async () => (await harness.tableCount(ctx.db, ctx.schema, 'bars')) === 3000,
    'replayed records did not arrive',
    60_000,
  );
  w.kill('SIGTERM');
  await w.exited;
  const bars = harness.builtinMappings().find((m) => m.table === 'bars')!;
  assert.deepEqual(await harness.actualRows(ctx.db, ctx.schema, bars), harness.expectedRows(bars, values));
});
