// The seed's overflow strategies, adapted to Kafka so nothing is silently lost:
// drop_oldest dead-letters exactly the records it drops (reason overflow) and never pauses;
// error stops the member with exit code 3 and never commits past what it wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as harness from '../helpers/sink-harness.js';
import { readDlqTopic, readNdjson } from '../helpers/dlq-readers.js';
import { lastLines, spawnWorker } from '../helpers/worker-process.js';

async function slowBars(ctx: harness.TestContext, seconds: number): Promise<void> {
  await ctx.migrate();
  await ctx.db.query(`
    CREATE FUNCTION ${ctx.schema}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${seconds}); RETURN NULL; END $$;
    CREATE TRIGGER slow AFTER INSERT ON ${ctx.schema}.bars FOR EACH STATEMENT EXECUTE FUNCTION ${ctx.schema}.slow();`);
}

test('drop_oldest under a slow sink: DLQ holds exactly the dropped records, the table the rest, no pause', async (t) => {
  const ctx = await harness.testContext(t, 'dropold', ['bars'], 2);
  await slowBars(ctx, 0.1);
  const msgs = harness.sampleBatch('bars', 8000, 400);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const sink = await harness.startSink(
    ctx.config({
      KAFKA_TOPICS: 'bars',
      MDS_COORDINATOR_OVERFLOW: 'drop_oldest',
      MDS_COORDINATOR_CAPACITY: '1000',
      SINK_WRITE_MODE: 'copy',
      SINK_WORKERS: '1',
      SINK_BATCH_SIZE: '200',
    }),
    { log: harness.createLogger('error') },
  );
  t.after(() => sink.kill());
  let paused = false;
  sink.on('pause', () => (paused = true));
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'drop_oldest sink did not finish',
    120_000,
  );
  await sink.stop();

  const ident = harness.barIdent;
  const all = new Set(msgs.map((m) => ident(m.value)));
  const written = await harness.writtenBarsOnce(ctx);
  const fileDlq = readNdjson(ctx.dlqDir);
  const dropped = fileDlq.map(harness.deadLetterIdent);
  assert.ok(dropped.length > 0, 'the slow sink made the queue overflow');
  assert.ok(fileDlq.every((d) => d.reason === 'overflow' && d.errorCode === 'QUEUE_OVERFLOW'));
  assert.equal(new Set(dropped).size, dropped.length, 'each dropped record once');
  for (const d of dropped) assert.ok(!written.has(d), `${d} is both dropped and written`);
  assert.equal(written.size + dropped.length, all.size, 'dropped + written = everything: nothing lost');
  const topicDlq = await readDlqTopic(ctx, dropped.length);
  assert.deepEqual(
    new Set(topicDlq.map((d) => `${d.partition}/${d.offset}`)),
    new Set(fileDlq.map((d) => `${d.partition}/${d.offset}`)),
    'both DLQ destinations hold the same dropped records',
  );
  const metric = (await sink.metrics.itemsDropped.get()).values.find((v) => v.labels.reason === 'overflow');
  assert.equal(metric?.value, dropped.length, 'mds_coord_items_dropped_total{reason="overflow"}');
  assert.equal(paused, false, 'drop_oldest never pauses');
  t.diagnostic(
    `drop_oldest: ${msgs.length} records, ${dropped.length} dropped to the DLQ, ${written.size} written`,
  );
});

test('error under a slow sink: exit code 3, committed offsets never ahead of the table', async (t) => {
  const ctx = await harness.testContext(t, 'overr', ['bars'], 2);
  await slowBars(ctx, 0.2);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(harness.sampleBatch('bars', 6000, 300)));
  const w = spawnWorker({
    ...ctx.env,
    KAFKA_TOPICS: 'bars',
    QUEUE_OVERFLOW: 'error',
    QUEUE_CAPACITY_RECORDS: '500',
    SINK_WRITE_MODE: 'copy',
    SINK_WORKERS: '1',
    SINK_BATCH_SIZE: '100',
  });
  t.after(() => w.kill('SIGKILL'));
  const { code } = await w.exited;
  assert.equal(code, 3, lastLines(w.output()));
  assert.match(w.output(), /queue full .* queue\.overflow=error/);
  const stored = await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  const total = [...stored.values()].reduce((a, b) => a + b, 0);
  assert.equal(
    await harness.tableCount(ctx.db, ctx.schema, 'bars'),
    total,
    'sink_offsets cover exactly the rows written',
  );
  const committed = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [ctx.topic('bars')] });
  for (const p of committed[0]!.partitions) {
    const k = `${ctx.topic('bars')}/${p.partition}`;
    assert.ok(
      Number(p.offset) <= (stored.get(k) ?? 0),
      `Kafka offset ${p.offset} of ${k} not ahead of PostgreSQL`,
    );
  }
});
