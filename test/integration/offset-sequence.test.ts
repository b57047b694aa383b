// Offsets as a strict sequence per partition, against the real broker and PostgreSQL. The
// bars table runs in `copy` mode (straight COPY into a table with a primary key), so an
// offset applied twice shows up as an extra row or a dead-lettered duplicate, and a lost
// one as a missing row: the row count must equal the record count exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssignerProtocol } from 'kafkajs';
import { quoteIdent } from '../../src/core/sql-identifier.js';
import type { SampleMessage } from '../../src/sample/sample-data.js';
import * as harness from '../helpers/sink-harness.js';
import { readNdjson } from '../helpers/dlq-readers.js';

const barsCopy = { ...harness.builtinMappings('copy').find((m) => m.table === 'bars')! };
const COPY_ENV = { KAFKA_TOPICS: 'bars', SINK_WRITE_MODE: 'copy' };

async function assertExactlyOnce(ctx: harness.TestContext, msgs: readonly SampleMessage[]): Promise<void> {
  const rows = await harness.tableCount(ctx.db, ctx.schema, 'bars');
  const dead = readNdjson(ctx.dlqDir);
  assert.deepEqual(
    {
      rows,
      deadLettered: dead.length,
      firstDeadLetters: dead
        .slice(0, 3)
        .map((d) => `${d.partition}@${d.offset}: ${d.errorCode} ${d.errorMessage}`),
    },
    { rows: msgs.length, deadLettered: 0, firstDeadLetters: [] },
    'row count equals record count (nothing lost, nothing doubled), nothing dead-lettered',
  );
  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, barsCopy),
    harness.expectedRows(
      barsCopy,
      msgs.map((m) => m.value),
    ),
  );
}

async function membersWithPartitions(ctx: harness.TestContext): Promise<number[]> {
  const g = (await ctx.admin.describeGroups([ctx.groupId])).groups[0];
  if (g?.state !== 'Stable') return [];
  return g.members.map((m) => {
    const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
    return a?.assignment[ctx.topic('bars')]?.length ?? 0;
  });
}

test("group's Kafka offsets deleted, producers writing on: the new member applies everything from next_offset", async (t) => {
  const ctx = await harness.testContext(t, 'seekrace', ['bars'], 6);
  const FIRST = 6_000;
  const ROUNDS = 40;
  const PER_ROUND = 750;
  const msgs = harness.sampleBatch('bars', FIRST + ROUNDS * PER_ROUND, 300);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(0, FIRST)));
  const log = harness.createLogger((process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'warn');
  const sinks: harness.SinkHandle[] = [];
  t.after(() => Promise.all(sinks.map((s) => s.kill())));

  const first = await harness.startSink(ctx.config(COPY_ENV), { log, http: false });
  sinks.push(first);
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'first member did not catch up',
    60_000,
  );
  await first.stop();
  assert.equal(await harness.tableCount(ctx.db, ctx.schema, 'bars'), FIRST);

  // As when the group's offsets expire: Kafka forgets them, sink_offsets keeps them.
  await harness.waitFor(
    async () => {
      await ctx.admin.deleteGroups([ctx.groupId]);
      return true;
    },
    'could not delete the empty group',
    30_000,
    250,
  );
  const committed = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [ctx.topic('bars')] });
  assert.ok(
    committed[0]!.partitions.every((p) => p.offset === '-1'),
    'the group has no committed offsets in Kafka',
  );

  // A bounded producer loop writing on while the new member joins.
  let produced = 0;
  const producing = (async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const from = FIRST + i * PER_ROUND;
      await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(from, from + PER_ROUND)));
      produced++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await harness.waitFor(() => produced >= 4, 'producer made no progress', 30_000, 10);
  const second = await harness.startSink(ctx.config({ ...COPY_ENV, KAFKA_FROM_BEGINNING: 'false' }), {
    log,
    http: false,
  });
  sinks.push(second);
  await producing;
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'second member did not catch up',
    60_000,
  );
  await second.stop();
  await assertExactlyOnce(ctx, msgs);
});

test('partitions kept through a rebalance while their records are queued: no offset applied twice (copy mode)', async (t) => {
  const ctx = await harness.testContext(t, 'keptpart', ['bars'], 6);
  await ctx.migrate();
  // A slow database: every statement on bars waits, so the queue stays full of records of
  // partitions the member keeps through the rebalances below.
  const table = `${quoteIdent(ctx.schema)}.bars`;
  await ctx.db.query(`CREATE FUNCTION ${quoteIdent(ctx.schema)}.slow() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$`);
  await ctx.db.query(
    `CREATE TRIGGER slow AFTER INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${quoteIdent(ctx.schema)}.slow()`,
  );
  const msgs = harness.sampleBatch('bars', 36_000, 600);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const env = {
    ...COPY_ENV,
    SINK_WORKERS: '1',
    SINK_BATCH_SIZE: '2000',
    SINK_MAX_BATCH_SIZE: '2000',
    QUEUE_CAPACITY_RECORDS: '10000',
  };
  const log = harness.createLogger((process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'warn');
  const sinks: harness.SinkHandle[] = [];
  t.after(() => Promise.all(sinks.map((s) => s.kill())));

  const keeper = await harness.startSink(ctx.config(env), { log, http: false });
  sinks.push(keeper);
  await harness.waitFor(
    async () =>
      (await harness.tableCount(ctx.db, ctx.schema, 'bars')) >= 2000 &&
      keeper.snapshot().queue.records >= 4000,
    'the first member wrote nothing or queued too little',
    60_000,
    50,
  );
  // A second member joins (the first keeps half its partitions), then leaves again.
  const visitor = await harness.startSink(ctx.config(env), { log, http: false });
  sinks.push(visitor);
  await harness.waitFor(
    async () => {
      const spread = await membersWithPartitions(ctx);
      return spread.length === 2 && spread.every((n) => n > 0);
    },
    'the two members did not share the partitions',
    60_000,
    100,
  );
  await visitor.stop();
  await harness.waitFor(
    async () => (await membersWithPartitions(ctx)).join() === '6',
    'the first member did not get every partition back',
    60_000,
    100,
  );
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'the first member did not catch up',
    90_000,
  );
  await keeper.stop();
  await assertExactlyOnce(ctx, msgs);
});
