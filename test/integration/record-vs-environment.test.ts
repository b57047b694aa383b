// Errors outside SQLSTATE classes 22/23 on the real broker and database: a failure bound to
// a few records (a trigger raising P0001) dead-letters exactly those records and writes the
// rest; a failure of the environment (the target table renamed away, 42P01 for every
// record) dead-letters nothing, holds the partitions, says which SQLSTATE holds them, and
// resumes by itself. And isolation runs before the in-batch dedupe: a key's good record is
// not lost to a later poison record of the same key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as harness from '../helpers/sink-harness.js';
import { readDlqTopic, readNdjson } from '../helpers/dlq-readers.js';
import { httpGet } from '../helpers/services.js';

const bars = harness.builtinMappings().find((m) => m.table === 'bars')!;
const coord = (d: { topic: string; partition: number; offset: number }): string =>
  `${d.topic}/${d.partition}/${d.offset}`;
/** Retries in milliseconds, so the quick retries before isolation cost little. */
const FAST_RETRY = {
  RETRY_MAX_ATTEMPTS: '3',
  RETRY_INITIAL_BACKOFF_MS: '5',
  RETRY_MAX_BACKOFF_MS: '20',
  CB_OPEN_MS: '1000',
};

/** Coordinates of the source records whose value text matches `isBad`, read from the topic. */
async function sourceCoords(
  ctx: harness.TestContext,
  topic: string,
  total: number,
  isBad: (text: string) => boolean,
): Promise<Set<string>> {
  const out = new Set<string>();
  const reader = ctx.kafka.consumer({ groupId: `${ctx.groupId}-truth` });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await reader.run({
    eachMessage: ({ partition, message }) => {
      seen++;
      if (isBad(message.value!.toString('utf8'))) out.add(`${topic}/${partition}/${message.offset}`);
      return Promise.resolve();
    },
  });
  await harness.waitFor(
    () => seen >= total,
    () => `read ${seen} of ${total} source records`,
    60_000,
  );
  await reader.disconnect();
  return out;
}

async function dlqTopicSize(ctx: harness.TestContext): Promise<number> {
  const existing = await ctx.admin.listTopics();
  if (!existing.includes(ctx.dlqTopic)) return 0;
  return (await ctx.admin.fetchTopicOffsets(ctx.dlqTopic)).reduce((n, p) => n + Number(p.high), 0);
}

test('a trigger raising P0001 for 0.2% of records: exactly those in both DLQs, the rest written, lag 0', async (t) => {
  const ctx = await harness.testContext(t, 'p0001', ['bars'], 4);
  await ctx.migrate();
  // A rule only the database knows, raised by a trigger (P0001), not a constraint (23xxx).
  await ctx.db.query(`
    CREATE FUNCTION ${ctx.schema}.reject_marked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.volume >= 9000000000 THEN
        RAISE EXCEPTION 'volume % rejected by trigger', NEW.volume;
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER reject_marked BEFORE INSERT OR UPDATE ON ${ctx.schema}.bars
      FOR EACH ROW EXECUTE FUNCTION ${ctx.schema}.reject_marked();`);
  const N = 20_000;
  const msgs = harness.sampleBatch('bars', N, 400);
  const good: Record<string, unknown>[] = [];
  const out: { key: string; value: string }[] = [];
  for (let i = 0; i < N; i++) {
    const m = msgs[i]!;
    const value = i % 500 === 123 ? { ...m.value, volume: 9_000_000_000 + i } : m.value;
    if (value === m.value) good.push(m.value);
    out.push({ key: m.key, value: JSON.stringify(value) });
  }
  await ctx.produce(ctx.topic('bars'), out);
  const sink = await harness.startSink(
    ctx.config({ KAFKA_TOPICS: 'bars', SINK_BATCH_SIZE: '2000', ...FAST_RETRY }),
    {
      log: harness.createLogger('error'),
    },
  );
  t.after(() => sink.kill());
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    async () =>
      `sink did not catch up: ${JSON.stringify(Object.fromEntries(await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId)))}`,
    90_000,
  );
  await sink.stop();

  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, bars),
    harness.expectedRows(bars, good),
    'every good row',
  );
  const hw = await harness.highWatermarks(ctx.admin, [ctx.topic('bars')]);
  assert.deepEqual(
    await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId),
    hw,
    'lag 0: stored == high watermarks',
  );
  const bad = await sourceCoords(ctx, ctx.topic('bars'), N, (v) => /"volume":9\d{9}\b/.test(v));
  assert.equal(bad.size, N / 500, 'test data: every marked record identified');
  const fileDlq = readNdjson(ctx.dlqDir);
  const topicDlq = await readDlqTopic(ctx, bad.size);
  assert.deepEqual(new Set(fileDlq.map(coord)), bad, 'NDJSON DLQ holds exactly the rejected records');
  assert.deepEqual(new Set(topicDlq.map(coord)), bad, 'DLQ topic holds exactly the rejected records');
  for (const d of fileDlq) {
    assert.equal(d.reason, 'database');
    assert.equal(d.errorCode, 'P0001');
    assert.match(d.errorMessage, /rejected by trigger/);
  }
});

test('target table renamed away for 20 s: nothing dead-lettered, /readyz names 42P01, every row lands once back', async (t) => {
  const ctx = await harness.testContext(t, 'envgone', ['bars'], 3);
  await ctx.migrate();
  const msgs = harness.sampleBatch('bars', 20_000, 400);
  const sink = await harness.startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      QUEUE_CAPACITY_RECORDS: '3000',
      CB_FAILURE_THRESHOLD: '3',
      ...FAST_RETRY,
    }),
    { log: harness.createLogger('silent') },
  );
  t.after(() => sink.kill());
  await harness.waitFor(() => sink.snapshot().consumer.joined, 'never joined', 30_000);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(0, 8000)));
  await harness.waitFor(
    async () => (await ctx.db.query(`SELECT 1 FROM ${ctx.schema}.bars LIMIT 1`)).rowCount === 1,
    'no rows before the table went away',
    60_000,
  );
  await ctx.db.query(`ALTER TABLE ${ctx.schema}.bars RENAME TO bars_away`);
  const goneAt = Date.now();
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(8000)));
  let named = '';
  let gauge = false;
  let paused = false;
  while (Date.now() - goneAt < 20_000) {
    const r = await httpGet(sink.metricsPort, '/readyz');
    const body = JSON.parse(r.body) as { reasons?: string[] };
    const reason = (body.reasons ?? []).find((x) => x.includes('42P01'));
    if (r.status === 503 && reason !== undefined) named = reason;
    if ((await sink.metrics.registry.metrics()).includes('mds_sink_environment_error{sqlstate="42P01"} 1'))
      gauge = true;
    if (sink.snapshot().consumer.paused) paused = true;
    await new Promise((res) => setTimeout(res, 250));
  }
  assert.notEqual(named, '', '/readyz answered 503 naming SQLSTATE 42P01 while the table was away');
  assert.ok(gauge, 'mds_sink_environment_error{sqlstate="42P01"} was 1 while the table was away');
  assert.ok(paused, 'partitions paused while the table was away');
  assert.equal(readNdjson(ctx.dlqDir).length, 0, 'nothing dead-lettered while the table was away');
  await ctx.db.query(`ALTER TABLE ${ctx.schema}.bars_away RENAME TO bars`);

  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'did not resume once the table was back',
    120_000,
  );
  await harness.waitFor(
    async () => (await httpGet(sink.metricsPort, '/readyz')).status === 200,
    async () => `/readyz did not turn ready again: ${(await httpGet(sink.metricsPort, '/readyz')).body}`,
    30_000,
    250,
  );
  assert.ok(
    !(await sink.metrics.registry.metrics()).includes('mds_sink_environment_error{sqlstate="42P01"} 1'),
    'the environment gauge cleared',
  );
  await sink.stop();
  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, bars),
    harness.expectedRows(
      bars,
      msgs.map((m) => m.value),
    ),
  );
  const written = (await sink.metrics.recordsApplied.get()).values.find(
    (v) => v.labels.outcome === 'written',
  );
  assert.equal(written?.value, msgs.length, 'each record written once');
  assert.equal(readNdjson(ctx.dlqDir).length, 0, 'nothing dead-lettered');
  assert.equal(await dlqTopicSize(ctx), 0, 'nothing in the DLQ topic');
});

test("a key's good record followed by a poison record of that key in one batch: good written, poison dead-lettered", async (t) => {
  const ctx = await harness.testContext(t, 'isodedupe', ['bars'], 1);
  await ctx.migrate();
  await ctx.db.query(`ALTER TABLE ${ctx.schema}.bars ADD CONSTRAINT sane_close CHECK (close_price < 1e12)`);
  const msgs = harness.sampleBatch('bars', 200, 50);
  const out: { key: string; value: string }[] = [];
  const good: Record<string, unknown>[] = [];
  const poisonAt = new Set([40, 41, 150]);
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    out.push({ key: m.key, value: JSON.stringify(m.value) });
    good.push(m.value);
    // The same conflict key again, right after, with a close price the CHECK rejects.
    if (poisonAt.has(i))
      out.push({ key: m.key, value: JSON.stringify({ ...m.value, close_price: '5000000000000' }) });
  }
  // One send, one partition, one batch: the pairs meet in the same transaction.
  await ctx.produce(ctx.topic('bars'), out);
  const sink = await harness.startSink(
    ctx.config({ KAFKA_TOPICS: 'bars', SINK_BATCH_SIZE: '1000', SINK_FLUSH_INTERVAL_MS: '2000' }),
    { log: harness.createLogger('error') },
  );
  t.after(() => sink.kill());
  await harness.waitFor(() => harness.caughtUp(ctx, [ctx.topic('bars')]), 'sink did not catch up', 60_000);
  await sink.stop();
  const batches = (await sink.metrics.batchesWritten.get()).values.reduce((n, v) => n + v.value, 0);
  assert.equal(batches, 1, 'test setup: all records in one batch');
  const actual = await harness.actualRows(ctx.db, ctx.schema, bars);
  const expected = harness.expectedRows(bars, good);
  const have = new Set(actual);
  assert.deepEqual(
    expected.filter((r) => !have.has(r)),
    [],
    'no good value lost to the poison record of its key',
  );
  assert.deepEqual(actual, expected, 'exactly the good values written');
  const poisonOffsets = [...poisonAt]
    .sort((a, b) => a - b)
    .map((i, n) => `${ctx.topic('bars')}/0/${i + n + 1}`);
  const fileDlq = readNdjson(ctx.dlqDir);
  assert.deepEqual(fileDlq.map(coord).sort(), poisonOffsets.sort(), 'the poison records dead-lettered');
  assert.ok(
    fileDlq.every((d) => d.reason === 'database' && d.errorCode === '23514'),
    'dead-lettered as 23514',
  );
  const topicDlq = await readDlqTopic(ctx, poisonOffsets.length);
  assert.deepEqual(topicDlq.map(coord).sort(), poisonOffsets.sort(), 'DLQ topic holds the same');
});

/**
 * Breaks the environment with `breakSql` while records flow, holds it `holdMs`, and checks
 * what the environment case promises: /readyz names `sqlState`, nothing dead-lettered, and
 * once `fixSql` ran every record lands.
 */
async function environmentOutage(
  t: { after: (fn: () => Promise<unknown>) => void },
  name: string,
  mode: 'upsert' | 'copy',
  breakSql: (schema: string) => string,
  fixSql: (schema: string) => string,
  sqlState: string,
): Promise<void> {
  const ctx = await harness.testContext(t, name, ['bars'], 2);
  await ctx.migrate();
  const msgs = harness.sampleBatch('bars', 6000, 300);
  const sink = await harness.startSink(
    ctx.config({ KAFKA_TOPICS: 'bars', SINK_WRITE_MODE: mode, CB_FAILURE_THRESHOLD: '3', ...FAST_RETRY }),
    { log: harness.createLogger('silent') },
  );
  t.after(() => sink.kill());
  await harness.waitFor(() => sink.snapshot().consumer.joined, 'never joined', 30_000);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(0, 3000)));
  await harness.waitFor(() => harness.caughtUp(ctx, [ctx.topic('bars')]), 'first half not applied', 60_000);
  await ctx.db.query(breakSql(ctx.schema));
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(3000)));
  let reasons = '';
  await harness.waitFor(
    async () => {
      const r = await httpGet(sink.metricsPort, '/readyz');
      reasons = r.body;
      return r.status === 503 && r.body.includes(`SQLSTATE ${sqlState}`);
    },
    () => `/readyz never named SQLSTATE ${sqlState}: ${reasons}`,
    30_000,
    100,
  );
  assert.ok(
    (await sink.metrics.registry.metrics()).includes(`mds_sink_environment_error{sqlstate="${sqlState}"} 1`),
    'the environment gauge names the SQLSTATE',
  );
  assert.equal(readNdjson(ctx.dlqDir).length, 0, 'nothing dead-lettered while broken');
  await ctx.db.query(fixSql(ctx.schema));
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'did not resume once fixed',
    60_000,
  );
  await sink.stop();
  const mapping = harness.builtinMappings(mode).find((m) => m.table === 'bars')!;
  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, mapping),
    harness.expectedRows(
      mapping,
      msgs.map((m) => m.value),
    ),
  );
  assert.equal(readNdjson(ctx.dlqDir).length, 0, 'nothing dead-lettered');
  assert.equal(await dlqTopicSize(ctx), 0, 'nothing in the DLQ topic');
}

test('copy mode, table renamed away: the write with no rows tells the environment (42P01), nothing dead-lettered', (t) =>
  environmentOutage(
    t,
    'envcopy',
    'copy',
    (s) => `ALTER TABLE ${s}.bars RENAME TO bars_away`,
    (s) => `ALTER TABLE ${s}.bars_away RENAME TO bars`,
    '42P01',
  ));

test('a row trigger rejecting every record: the single-record probes tell the environment (P0001), nothing dead-lettered', (t) =>
  environmentOutage(
    t,
    'envtrigger',
    'upsert',
    (s) => `
      CREATE FUNCTION ${s}.reject_all() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit table unavailable'; END $$;
      CREATE TRIGGER reject_all BEFORE INSERT OR UPDATE ON ${s}.bars
        FOR EACH ROW EXECUTE FUNCTION ${s}.reject_all();`,
    (s) => `DROP TRIGGER reject_all ON ${s}.bars`,
    'P0001',
  ));
