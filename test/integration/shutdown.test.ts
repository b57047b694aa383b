// A stop that always ends, on the real broker and PostgreSQL: SIGTERM while the database is
// down ends within SHUTDOWN_TIMEOUT_MS with the documented exit code and loses nothing;
// SIGTERM during start-up is a clean exit 0 that leaves no member in the group; a stop with
// a backlog above the high watermark fetches nothing more and ends within the timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { quoteIdent } from '../../src/core/sql-identifier.js';
import { privatePostgresForTest } from '../helpers/private-postgres.js';
import { lastLines, spawnWorker, type WorkerProcess } from '../helpers/worker-process.js';
import * as harness from '../helpers/sink-harness.js';

/** src/main.ts: the drain did not end within SHUTDOWN_TIMEOUT_MS. */
const EXIT_DRAIN_TIMED_OUT = 4;
const COPY_ENV = { KAFKA_TOPICS: 'bars', SINK_WRITE_MODE: 'copy', SINK_WORKERS: '2', SINK_BATCH_SIZE: '500' };
const barsCopy = harness.builtinMappings('copy').find((m) => m.table === 'bars')!;

/** The child's exit, or null if it is still running after `ms`. */
async function exitWithin(
  w: WorkerProcess,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([w.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

test('SIGTERM with the database down: exits within SHUTDOWN_TIMEOUT_MS with code 4; a new member then writes every record once', async (t) => {
  const { pg: pgPrivate, closers } = await privatePostgresForTest(t);
  const ctx = await harness.createTestContext('stopdbdown');
  closers.push(() => ctx.cleanup());
  await ctx.createTopics(['bars'], 3);
  const msgs = harness.sampleBatch('bars', 20_000, 400);
  const timeoutMs = 5000;
  const env = {
    ...ctx.env,
    ...COPY_ENV,
    DATABASE_URL: pgPrivate.url,
    ...harness.OUTAGE_ENV,
    SHUTDOWN_TIMEOUT_MS: String(timeoutMs),
  };
  const workers: WorkerProcess[] = [];
  closers.push(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
  });
  const db = new pg.Pool({ connectionString: pgPrivate.url, max: 2 });
  db.on('error', () => undefined); // its connections die with the server, on purpose
  closers.push(() => db.end());
  const written = async (): Promise<number> => harness.tableCount(db, ctx.schema, 'bars').catch(() => 0);

  const first = spawnWorker(env);
  workers.push(first);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(0, 5000)));
  await harness.waitFor(
    async () => (await written()) >= 2000,
    () => `no rows before the outage:\n${lastLines(first.output())}`,
    60_000,
  );
  await pgPrivate.stop('fast');
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(5000)));
  // The member is now retrying: a drain cannot finish while the database is away.
  await harness.waitFor(
    () => /batch write failed|circuit breaker/.test(first.output()),
    () => `the member never noticed the outage:\n${lastLines(first.output())}`,
    60_000,
  );
  const sent = Date.now();
  first.kill('SIGTERM');
  const exit = await exitWithin(first, timeoutMs + 5000);
  const took = Date.now() - sent;
  assert.ok(
    exit !== null,
    `still running ${took} ms after SIGTERM (SHUTDOWN_TIMEOUT_MS ${timeoutMs}):\n${lastLines(first.output())}`,
  );
  assert.deepEqual(exit, { code: EXIT_DRAIN_TIMED_OUT, signal: null }, lastLines(first.output()));
  t.diagnostic(`exited ${took} ms after SIGTERM (SHUTDOWN_TIMEOUT_MS ${timeoutMs})`);

  await pgPrivate.start();
  const second = spawnWorker({ ...env, SHUTDOWN_TIMEOUT_MS: '30000' });
  workers.push(second);
  await harness.waitFor(
    async () => {
      const stored = await harness.storedOffsets(db, ctx.schema, ctx.groupId);
      return [...stored.values()].reduce((a, b) => a + b, 0) === msgs.length;
    },
    () => `the new member did not catch up:\n${lastLines(second.output())}`,
    120_000,
    250,
  );
  second.kill('SIGTERM');
  assert.deepEqual(await second.exited, { code: 0, signal: null }, lastLines(second.output()));
  assert.equal(await written(), msgs.length, 'row count equals record count: nothing lost, nothing doubled');
  assert.deepEqual(
    await harness.actualRows(db, ctx.schema, barsCopy),
    harness.expectedRows(
      barsCopy,
      msgs.map((m) => m.value),
    ),
  );
});

test('SIGTERM 200 and 500 ms into start-up and during the group join: clean exit 0 with a log line, no member left in the group', async (t) => {
  const ctx = await harness.testContext(t, 'stopstart', ['bars'], 3);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(harness.sampleBatch('bars', 1000, 100)));
  const workers: WorkerProcess[] = [];
  t.after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
  });
  // `starting` is main's first line once the configuration is loaded; KafkaJS logs
  // `Starting` (at debug) when consumer.run() begins to join the group.
  const cases = [
    { name: '200 ms after starting', after: '"msg":"starting"', delayMs: 200, level: 'info' },
    { name: '500 ms after starting', after: '"msg":"starting"', delayMs: 500, level: 'info' },
    { name: 'during the group join', after: '"msg":"Starting"', delayMs: 0, level: 'debug' },
  ];
  for (const c of cases) {
    const w = spawnWorker({ ...ctx.env, ...COPY_ENV, LOG_LEVEL: c.level });
    workers.push(w);
    await harness.waitFor(
      () => w.output().includes(c.after),
      () => `no ${c.after}:\n${lastLines(w.output())}`,
      30_000,
      5,
    );
    if (c.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, c.delayMs));
    w.kill('SIGTERM');
    const exit = await exitWithin(w, 30_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ${c.name}:\n${lastLines(w.output())}`);
    const stopLine = /"msg":"(stopped during start-up|market-data-sink stopped)"/.exec(w.output());
    assert.ok(stopLine, `no log line of the stop:\n${lastLines(w.output())}`);
    t.diagnostic(`SIGTERM ${c.name}: ${stopLine[1]}`);
    // Left, not merely disconnected: the broker holds no member until its session times out.
    const group = (await ctx.admin.describeGroups([ctx.groupId])).groups[0];
    assert.equal(group?.members.length ?? 0, 0, `members left in the group after SIGTERM ${c.name}`);
  }
});

test('stop above the high watermark with a large backlog: nothing fetched after stop(), ends within the timeout', async (t) => {
  const ctx = await harness.createTestContext('stopbacklog');
  // node:test runs after-hooks in registration order: stop the sink before its schema goes.
  const closers: (() => Promise<unknown>)[] = [() => ctx.cleanup()];
  t.after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  });
  await ctx.createTopics(['bars'], 3);
  const msgs = harness.sampleBatch('bars', 40_000, 400);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  await ctx.migrate();
  // A slow database: every COPY statement into bars takes at least 300 ms.
  const s = quoteIdent(ctx.schema);
  await ctx.db.query(
    `CREATE FUNCTION ${s}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$`,
  );
  await ctx.db.query(
    `CREATE TRIGGER slow AFTER INSERT ON ${s}.bars FOR EACH STATEMENT EXECUTE FUNCTION ${s}.slow()`,
  );
  const timeoutMs = 5000;
  const sink = await harness.startSink(
    ctx.config({
      ...COPY_ENV,
      SINK_MAX_BATCH_SIZE: '500',
      QUEUE_CAPACITY_RECORDS: '4000',
      SHUTDOWN_TIMEOUT_MS: String(timeoutMs),
    }),
    { log: harness.createLogger('error') },
  );
  closers.push(() => sink.kill());
  const submitted = async (): Promise<number> =>
    (await sink.metrics.itemsSubmitted.get()).values.reduce((n, v) => n + v.value, 0);
  await harness.waitFor(
    async () => sink.snapshot().consumer.paused && (await harness.tableCount(ctx.db, ctx.schema, 'bars')) > 0,
    'the queue never rose above the high watermark while writing',
    60_000,
  );
  const atStop = await submitted();
  assert.ok(atStop < msgs.length, `a backlog is left in Kafka at stop (${atStop} of ${msgs.length} fetched)`);
  const sent = Date.now();
  const stopped = sink.stop();
  const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), timeoutMs + 5000).unref());
  const outcome = await Promise.race([stopped.then(() => 'stopped' as const), late]);
  const took = Date.now() - sent;
  t.diagnostic(`stop() took ${took} ms; ${atStop} of ${msgs.length} records fetched before it`);
  assert.equal(await submitted(), atStop, 'records fetched after stop()');
  assert.equal(
    outcome,
    'stopped',
    `stop() still running after ${took} ms (SHUTDOWN_TIMEOUT_MS ${timeoutMs})`,
  );
  // Nothing committed that is not written: rows = PostgreSQL's offsets >= Kafka's (copy mode).
  const stored = await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  const total = [...stored.values()].reduce((a, b) => a + b, 0);
  assert.equal(await harness.tableCount(ctx.db, ctx.schema, 'bars'), total, 'rows = stored offsets');
  const committed = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [ctx.topic('bars')] });
  for (const p of committed[0]!.partitions) {
    const k = `${ctx.topic('bars')}/${p.partition}`;
    assert.ok(
      Number(p.offset) <= (stored.get(k) ?? 0),
      `Kafka's ${k} (${p.offset}) is not ahead of PostgreSQL's`,
    );
  }
});
