// Database faults on real PostgreSQL: a 30 s outage of a private cluster (the machine's
// shared server is never touched) and connections killed mid-write. A transient fault is
// waited out with backpressure: breaker open, partitions paused, group membership kept,
// nothing dead-lettered, then exact content after recovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { privatePostgresForTest } from '../helpers/private-postgres.js';
import * as harness from '../helpers/sink-harness.js';
import { readNdjson } from '../helpers/dlq-readers.js';
import { httpGet } from '../helpers/services.js';

const bars = harness.builtinMappings().find((m) => m.table === 'bars')!;

async function getJson(
  port: number,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await httpGet(port, path);
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
}

test('PostgreSQL down for 30 s mid-stream: breaker opens, partitions pause, no DLQ, no rebalance, exact recovery', async (t) => {
  const { pg: pgPrivate, closers } = await privatePostgresForTest(t);
  const ctx = await harness.createTestContext('dbdown');
  closers.push(() => ctx.cleanup());
  await ctx.createTopics(['bars'], 3);
  const msgs = harness.sampleBatch('bars', 30_000, 300);
  const sink = await harness.startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      DATABASE_URL: pgPrivate.url,
      ...harness.OUTAGE_ENV,
    }),
    { log: harness.createLogger('error') },
  );
  closers.push(() => sink.kill());
  let joins = 0;
  sink.on('joined', () => joins++);
  await harness.waitFor(() => sink.snapshot().consumer.joined, 'never joined', 30_000);
  const joinsBefore = joins;
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(0, 10_000)));
  const privateDb = new pg.Pool({ connectionString: pgPrivate.url, max: 1 });
  privateDb.on('error', () => undefined); // its connection dies with the server, on purpose
  const written = async (): Promise<number> =>
    Number(
      (await privateDb.query<{ n: string }>(`SELECT count(*)::text n FROM ${ctx.schema}.bars`)).rows[0]!.n,
    );
  await harness.waitFor(async () => (await written()) > 2000, 'no rows before the outage', 60_000);

  await privateDb.end().catch(() => undefined);
  await pgPrivate.stop('fast');
  const outageStart = Date.now();
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(10_000)));
  let sawOpen = false;
  let sawPaused = false;
  let sawUnready = false;
  while (Date.now() - outageStart < 30_000) {
    const h = await getJson(sink.metricsPort, '/readyz');
    if (h.status === 503) sawUnready = true;
    if (h.body.circuit_state === 'open') sawOpen = true;
    if (sink.snapshot().consumer.paused) sawPaused = true;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(sawOpen, 'breaker opened during the outage');
  assert.ok(sawPaused, 'partitions paused during the outage');
  assert.ok(sawUnready, '/readyz answered 503 during the outage');
  await pgPrivate.start();

  const db2 = new pg.Pool({ connectionString: pgPrivate.url, max: 2 });
  closers.push(() => db2.end());
  await harness.waitFor(
    async () => {
      const hw = (await ctx.admin.fetchTopicOffsets(ctx.topic('bars'))).reduce(
        (n, p) => n + Number(p.high),
        0,
      );
      const r = await db2
        .query<{ n: string }>(
          `SELECT coalesce(sum(next_offset),0)::text n FROM ${ctx.schema}.sink_offsets WHERE group_id = $1`,
          [ctx.groupId],
        )
        .catch(() => ({ rows: [{ n: '0' }] }));
      return Number(r.rows[0]!.n) === hw;
    },
    'no full recovery after the database came back',
    120_000,
    250,
  );
  await harness.waitFor(
    async () => (await getJson(sink.metricsPort, '/readyz')).status === 200,
    '/readyz did not turn ready again',
    30_000,
    250,
  );
  await sink.stop();
  assert.equal(joins - joinsBefore, 0, 'no rebalance during the outage');
  const cols = bars.columns
    .map((c) =>
      c.type === 'timestamptz' ? `(extract(epoch from ${c.name})*1000)::bigint::text` : `${c.name}::text`,
    )
    .join(', ');
  const rows = await db2.query({ text: `SELECT ${cols} FROM ${ctx.schema}.bars`, rowMode: 'array' });
  const actual = (rows.rows as (string | null)[][]).map((r) => r.map((x) => x ?? '∅').join('|')).sort();
  assert.deepEqual(
    actual,
    harness.expectedRows(
      bars,
      msgs.map((m) => m.value),
    ),
  );
  assert.equal(readNdjson(ctx.dlqDir).length, 0, 'nothing dead-lettered');
  assert.equal(
    (await ctx.admin.fetchTopicOffsets(ctx.dlqTopic)).reduce((n, p) => n + Number(p.high), 0),
    0,
  );
});

test('connections terminated mid-write are retried with exact content', async (t) => {
  const ctx = await harness.testContext(t, 'kill', ['bars'], 3);
  const msgs = harness.sampleBatch('bars', 40_000, 400);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const loaded = ctx.config({ KAFKA_TOPICS: 'bars', SINK_BATCH_SIZE: '2000', CB_OPEN_MS: '1000' });
  const sink = await harness.startSink(loaded, { log: harness.createLogger('error') });
  t.after(() => sink.kill());
  const app = `${loaded.config.kafka.clientId}:worker-%`;
  let kills = 0;
  const deadline = Date.now() + 60_000;
  while (kills < 5 && Date.now() < deadline && !(await harness.caughtUp(ctx, [ctx.topic('bars')]))) {
    const r = await ctx.db.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name LIKE $1 AND state = 'active' AND query ILIKE 'COPY%'`,
      [app],
    );
    kills += r.rows.filter((x) => x.ok).length;
    await new Promise((r2) => setTimeout(r2, 5));
  }
  assert.ok(kills > 0, 'terminated at least one connection during COPY');
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'did not recover from terminated connections',
    120_000,
  );
  await sink.stop();
  const errors = (await sink.metrics.writeErrors.get()).values.reduce((n, v) => n + v.value, 0);
  assert.ok(errors >= 1, `write errors were counted (${errors})`);
  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, bars),
    harness.expectedRows(
      bars,
      msgs.map((m) => m.value),
    ),
  );
  assert.equal(readNdjson(ctx.dlqDir).length, 0, 'nothing dead-lettered');
});
