// reset-offsets against the real broker and PostgreSQL, through the real command line: a
// group applies two halves produced with distinct timestamps, is refused a reset while it
// runs (the message names the member), stops, is reset --to-datetime the second half, and
// on restart applies exactly the second half again, counted by a row trigger; both offset
// stores agree before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import { quoteIdent } from '../../src/core/sql-identifier.js';
import {
  caughtUp,
  createTestContext,
  highWatermarks,
  sampleBatch,
  storedOffsets,
  waitFor,
  type TestContext,
} from '../helpers/sink-harness.js';
import { runCommand as cli } from '../helpers/worker-process.js';

async function kafkaCommitted(ctx: TestContext, topic: string): Promise<Map<string, number>> {
  const [t] = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [topic] });
  return new Map((t?.partitions ?? []).map((p) => [`${topic}/${p.partition}`, Number(p.offset)]));
}

/** (symbol, ts) of each application the audit trigger saw, as "SYMBOL|epoch ms", sorted. */
async function applications(ctx: TestContext): Promise<string[]> {
  const r = await ctx.db.query<{ k: string }>(
    `SELECT symbol || '|' || (extract(epoch from ts) * 1000)::bigint AS k FROM ${quoteIdent(ctx.schema)}.audit`,
  );
  return r.rows.map((x) => x.k).sort();
}

test('reset-offsets --to-datetime: exactly the records from then on are applied again', async (t) => {
  const ctx = await createTestContext('reset');
  t.after(() => ctx.cleanup());
  const topic = ctx.topic('bars');
  await ctx.createTopics(['bars'], 3);
  await ctx.migrate();
  const s = quoteIdent(ctx.schema);
  await ctx.db.query(`
    CREATE TABLE ${s}.audit (symbol text NOT NULL, ts timestamptz NOT NULL, op text NOT NULL);
    CREATE FUNCTION ${s}.audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${s}.audit VALUES (NEW.symbol, NEW.ts, TG_OP); RETURN NULL; END $$;
    CREATE TRIGGER audit AFTER INSERT OR UPDATE ON ${s}.bars FOR EACH ROW EXECUTE FUNCTION ${s}.audit();`);

  // Two halves, distinct Kafka timestamps a minute apart; every record has its own row key.
  const all = sampleBatch('bars', 500, 50);
  const first = all.slice(0, 300);
  const second = all.slice(300);
  const secondAt = Date.now() - 60_000;
  const producer = await ctx.producer();
  const send = (half: typeof all, at: number): Promise<unknown> =>
    producer.send({
      topic,
      acks: -1,
      messages: half.map((m) => ({ key: m.key, value: JSON.stringify(m.value), timestamp: String(at) })),
    });
  await send(first, secondAt - 60_000);
  // The log end after the first half is, per partition, where the second half starts.
  const firstEnd = await highWatermarks(ctx.admin, [topic]);
  await send(second, secondAt);
  const end = await highWatermarks(ctx.admin, [topic]);
  assert.ok(
    [...end].every(([k, v]) => v > firstEnd.get(k)!),
    'every partition has records of both halves',
  );
  const key = (m: (typeof all)[number]): string =>
    `${String(m.value.symbol).toUpperCase()}|${Date.parse(String(m.value.ts))}`;

  const config = ctx.config({ KAFKA_TOPICS: 'bars', SINK_WORKERS: '2' });
  let sink = await startSink(config, { log: createLogger('warn') });
  t.after(() => sink.kill());
  await waitFor(() => caughtUp(ctx, [topic]), 'first run did not catch up', 120_000);
  assert.equal((await applications(ctx)).length, all.length, 'each record applied once');

  const reset = ['reset-offsets', '--group', ctx.groupId, '--topic', topic];
  const toSecond = [...reset, '--to-datetime', new Date(secondAt).toISOString()];
  // A running member: refused, naming it, nothing changed.
  const refused = await cli(ctx.env, [...toSecond, '--execute']);
  assert.equal(refused.code, 5, refused.out);
  assert.match(refused.out, new RegExp(`live members: \\S+ \\(client ${ctx.env.KAFKA_CLIENT_ID}, host `));
  assert.match(refused.out, /nothing was changed/);
  assert.deepEqual(await storedOffsets(ctx.db, ctx.schema, ctx.groupId), end);

  await sink.stop();
  await waitFor(async () => {
    const { groups } = await ctx.admin.describeGroups([ctx.groupId]);
    return groups[0]?.members.length === 0;
  }, 'the group still has members after stop');
  await waitFor(async () => {
    const k = await kafkaCommitted(ctx, topic);
    return [...end].every(([p, o]) => k.get(p) === o);
  }, 'Kafka did not get the final offsets');

  // Dry run (the default): prints before → after, changes nothing.
  const dry = await cli(ctx.env, toSecond);
  assert.equal(dry.code, 0, dry.out);
  assert.match(dry.out, /dry run, nothing changed/);
  for (const [k, v] of firstEnd) {
    const p = k.slice(k.lastIndexOf('/') + 1);
    assert.match(dry.out, new RegExp(`\\n${p} +${end.get(k)} → ${v} +${end.get(k)} → ${v} `), dry.out);
  }
  assert.deepEqual(await storedOffsets(ctx.db, ctx.schema, ctx.groupId), end);

  const applied = await cli(ctx.env, [...toSecond, '--execute']);
  assert.equal(applied.code, 0, applied.out);
  assert.match(applied.out, /applied \(PostgreSQL, then Kafka\)/);
  assert.deepEqual(await storedOffsets(ctx.db, ctx.schema, ctx.groupId), firstEnd);
  assert.deepEqual(await kafkaCommitted(ctx, topic), firstEnd);

  await ctx.db.query(`TRUNCATE ${s}.audit`);
  sink = await startSink(config, { log: createLogger('warn') });
  await waitFor(() => caughtUp(ctx, [topic]), 'second run did not catch up', 120_000);
  await sink.stop();
  assert.deepEqual(await applications(ctx), second.map(key).sort(), 'exactly the second half, once each');
  assert.deepEqual(await storedOffsets(ctx.db, ctx.schema, ctx.groupId), end);
  await waitFor(async () => {
    const k = await kafkaCommitted(ctx, topic);
    return [...end].every(([p, o]) => k.get(p) === o);
  }, 'Kafka and sink_offsets disagree after the second run');
});
