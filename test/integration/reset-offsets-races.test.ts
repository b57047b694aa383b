// reset-offsets' writes against the real broker and PostgreSQL when something else moves:
// a row lock held on sink_offsets (bounded by lock_timeout, the holder named), a row changed
// between planning and writing (compare-and-set: nothing written), a forward write landing
// after the reset (read back: non-zero), and a Kafka write that does not finish (bounded);
// the lock case also through the command line (exit 1, one line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { quoteIdent } from '../../src/core/sql-identifier.js';
import { SinkError } from '../../src/core/errors.js';
import { applyReset, planReset, type ResetRequest } from '../../src/ops/reset-offsets.js';
import {
  DATABASE_URL,
  sampleBatch,
  storedOffsets,
  testContext,
  toKafka,
  waitFor,
  type TestContext,
} from '../helpers/sink-harness.js';
import { runCommand } from '../helpers/worker-process.js';

/** A topic of 2 partitions with records, and sink_offsets at each log end: a stopped group. */
async function stoppedGroup(
  t: Parameters<typeof testContext>[0],
  name: string,
): Promise<{ ctx: TestContext; req: ResetRequest; end: Map<string, number> }> {
  const ctx = await testContext(t, name, ['bars'], 2);
  await ctx.migrate();
  const topic = ctx.topic('bars');
  await ctx.produce(topic, toKafka(sampleBatch('bars', 40, 20)));
  const end = new Map<string, number>();
  for (const p of await ctx.admin.fetchTopicOffsets(topic)) {
    end.set(`${topic}/${p.partition}`, Number(p.high));
    await ctx.db.query(
      `INSERT INTO ${quoteIdent(ctx.schema)}.sink_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)`,
      [ctx.groupId, topic, p.partition, p.high],
    );
  }
  assert.ok(
    [...end.values()].every((v) => v > 0),
    'every partition has records',
  );
  const req: ResetRequest = {
    groupId: ctx.groupId,
    topic,
    partition: undefined,
    target: { kind: 'earliest' },
    execute: true,
  };
  return { ctx, req, end };
}

const deps = (ctx: TestContext): { admin: TestContext['admin']; db: pg.Pool; schema: string } => ({
  admin: ctx.admin,
  db: ctx.db,
  schema: ctx.schema,
});

/** Rejects when `work` is still pending after `ms`: the bug under test is a hang. */
async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function kafkaCommitted(ctx: TestContext, topic: string): Promise<Map<string, number>> {
  const [c] = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [topic] });
  return new Map((c?.partitions ?? []).map((p) => [`${topic}/${p.partition}`, Number(p.offset)]));
}

/**
 * A session holding one partition's sink_offsets row FOR UPDATE in an open transaction, as a
 * worker's batch does; end it (`holder.end()`) before the context's cleanup, whose DROP SCHEMA
 * would wait on the lock.
 */
async function holdOffsetsRow(
  ctx: { schema: string; groupId: string },
  partition: number,
): Promise<{ holder: pg.Client; pid: number }> {
  const holder = new pg.Client({ connectionString: DATABASE_URL, application_name: 'reset-lock-holder' });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query(
    `SELECT 1 FROM ${quoteIdent(ctx.schema)}.sink_offsets WHERE group_id = $1 AND partition = $2 FOR UPDATE`,
    [ctx.groupId, partition],
  );
  const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return { holder, pid };
}

test('a row lock on sink_offsets: the reset gives up after lock_timeout, names the holder, writes nothing', async (t) => {
  const { ctx, req, end } = await stoppedGroup(t, 'resetlock');
  // Ended in `finally`, before the context's cleanup: its DROP SCHEMA would wait on this lock.
  const { holder, pid } = await holdOffsetsRow(ctx, 1);
  let err: unknown;
  try {
    const moves = await planReset(req, deps(ctx));
    err = await within(
      applyReset(req, moves, deps(ctx)).then(
        () => new Error('the reset succeeded under a held row lock'),
        (e: unknown) => e,
      ),
      30_000,
      'reset under a row lock',
    ).catch((e: unknown) => e);
  } finally {
    await holder.end();
  }
  assert.ok(err instanceof SinkError, String(err));
  assert.equal(err.code, 'SINK_OFFSETS_LOCKED', err.message);
  assert.match(err.message, new RegExp(`pid ${pid}\\b.*reset-lock-holder`), err.message);
  assert.deepEqual(await storedOffsets(ctx.db, ctx.schema, ctx.groupId), end, 'nothing written');
  assert.deepEqual(await kafkaCommitted(ctx, req.topic), new Map([...end.keys()].map((k) => [k, -1])));
});

test('sink_offsets changed between planning and writing: aborted, nothing written', async (t) => {
  const { ctx, req, end } = await stoppedGroup(t, 'resetcas');
  const moves = await planReset(req, deps(ctx));
  // A member that joined after the check, committed a batch and left again.
  const p0 = `${req.topic}/0`;
  await ctx.db.query(
    `UPDATE ${quoteIdent(ctx.schema)}.sink_offsets SET next_offset = next_offset + 5 WHERE group_id = $1 AND partition = 0`,
    [ctx.groupId],
  );
  await assert.rejects(applyReset(req, moves, deps(ctx)), (e: unknown) => {
    assert.ok(e instanceof SinkError && e.code === 'SINK_OFFSETS_CHANGED', String(e));
    assert.match(e.message, /sink_offsets changed since planning/);
    assert.match(e.message, new RegExp(`partition 0: planned from ${end.get(p0)}, now ${end.get(p0)! + 5}`));
    return true;
  });
  const want = new Map(end);
  want.set(p0, end.get(p0)! + 5);
  assert.deepEqual(await storedOffsets(ctx.db, ctx.schema, ctx.groupId), want, 'nothing written');
  assert.deepEqual(await kafkaCommitted(ctx, req.topic), new Map([...end.keys()].map((k) => [k, -1])));
});

test('a forward write landing during the Kafka write: the read-back fails the command', async (t) => {
  const { ctx, req } = await stoppedGroup(t, 'resetundo');
  const moves = await planReset(req, deps(ctx));
  // A zombie member still writing: its batch moves partition 1 forward again while Kafka is set.
  const admin: TestContext['admin'] = Object.create(ctx.admin) as TestContext['admin'];
  admin.setOffsets = async (o) => {
    await ctx.db.query(
      `UPDATE ${quoteIdent(ctx.schema)}.sink_offsets SET next_offset = 7 WHERE group_id = $1 AND partition = 1`,
      [ctx.groupId],
    );
    return ctx.admin.setOffsets(o);
  };
  await assert.rejects(applyReset(req, moves, { ...deps(ctx), admin }), (e: unknown) => {
    assert.ok(e instanceof SinkError && e.code === 'RESET_UNDONE', String(e));
    assert.match(e.message, /partition 1: 7, reset to 0/);
    return true;
  });
});

test('a Kafka write that does not finish within its deadline: RESET_KAFKA_FAILED, sink_offsets moved', async (t) => {
  const { ctx, req, end } = await stoppedGroup(t, 'resetkafka');
  const moves = await planReset(req, deps(ctx));
  // A group join takes the broker's initial rebalance delay (3 s by default): 200 ms is short.
  const started = Date.now();
  const err = await within(
    applyReset(req, moves, { ...deps(ctx), kafkaTimeoutMs: 200 }).then(
      () => assert.fail('the Kafka write finished within 200 ms'),
      (e: unknown) => e,
    ),
    30_000,
    'Kafka write with a deadline',
  );
  assert.ok(err instanceof SinkError && err.code === 'RESET_KAFKA_FAILED', String(err));
  assert.match(err.message, /sink_offsets was moved, Kafka's committed offsets were not/);
  assert.match(err.message, /within 200 ms/);
  assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms`);
  assert.deepEqual(
    await storedOffsets(ctx.db, ctx.schema, ctx.groupId),
    new Map([...end.keys()].map((k) => [k, 0])),
  );
  // KafkaJS's temporary member goes on and commits the same values once it joins.
  await waitFor(async () => {
    const k = await kafkaCommitted(ctx, req.topic);
    return [...end.keys()].every((p) => k.get(p) === 0);
  }, 'the temporary member did not commit');
  await waitFor(async () => {
    const { groups } = await ctx.admin.describeGroups([ctx.groupId]);
    return groups[0]?.members.length === 0;
  }, 'the temporary member did not leave');
});

test('through the command line: a held row lock is exit 1 and one line naming the holder', async (t) => {
  const { ctx, req, end } = await stoppedGroup(t, 'resetlockcli');
  const { holder, pid } = await holdOffsetsRow(ctx, 0);
  let r: { code: number | null; out: string } | undefined;
  try {
    r = await runCommand(
      ctx.env,
      ['reset-offsets', '--group', ctx.groupId, '--topic', req.topic, '--to-earliest', '--execute'],
      60_000,
    );
  } finally {
    await holder.end();
  }
  assert.equal(r.code, 1, r.out);
  const lines = r.out
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('{'));
  assert.equal(lines.length, 1, r.out);
  assert.match(
    lines[0]!,
    new RegExp(`^market-data-sink: reset-offsets: .*lock_timeout.* pid ${pid}\\b.*reset-lock-holder`),
  );
  assert.deepEqual(await storedOffsets(ctx.db, ctx.schema, ctx.groupId), end, 'nothing written');
});
