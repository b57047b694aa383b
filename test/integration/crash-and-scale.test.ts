// Real worker processes: kill -9 mid-stream and restart; three members joining and leaving
// mid-stream; SIGTERM under load. The bars table runs in `copy` mode (no conflict key), so
// a record applied twice would show up as an extra row: the row count must equal the
// record count exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssignerProtocol } from 'kafkajs';
import * as harness from '../helpers/sink-harness.js';
import { lastLines, spawnWorker, type WorkerProcess } from '../helpers/worker-process.js';

const COPY_ENV = { KAFKA_TOPICS: 'bars', SINK_WRITE_MODE: 'copy', SINK_WORKERS: '2', SINK_BATCH_SIZE: '500' };
const barsCopy = { ...harness.builtinMappings('copy').find((m) => m.table === 'bars')! };

async function assertExactlyOnce(
  ctx: harness.TestContext,
  values: readonly Record<string, unknown>[],
): Promise<void> {
  const count = await harness.tableCount(ctx.db, ctx.schema, 'bars');
  assert.equal(count, values.length, 'row count equals record count: nothing lost, nothing doubled');
  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, barsCopy),
    harness.expectedRows(barsCopy, values),
  );
}

function stopAll(workers: WorkerProcess[]): Promise<unknown> {
  for (const w of workers) w.kill('SIGKILL');
  return Promise.all(workers.map((w) => w.exited));
}

test('kill -9 of a worker mid-stream, restart: every record applied exactly once', async (t) => {
  const ctx = await harness.testContext(t, 'crash', ['bars'], 4);
  const msgs = harness.sampleBatch('bars', 40_000, 400);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const env = { ...ctx.env, ...COPY_ENV };
  const workers: WorkerProcess[] = [];
  t.after(() => stopAll(workers));

  const first = spawnWorker(env);
  workers.push(first);
  await harness.waitFor(
    async () => (await harness.tableCount(ctx.db, ctx.schema, 'bars').catch(() => 0)) >= 8_000,
    () => `no progress before the kill:\n${lastLines(first.output())}`,
    60_000,
    20,
  );
  first.kill('SIGKILL');
  const { signal } = await first.exited;
  assert.equal(signal, 'SIGKILL');
  const atKill = await harness.tableCount(ctx.db, ctx.schema, 'bars');
  assert.ok(atKill < msgs.length, `the kill came mid-stream (${atKill} of ${msgs.length} written)`);

  const second = spawnWorker(env);
  workers.push(second);
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    () => `restarted worker did not catch up:\n${lastLines(second.output())}`,
    120_000,
  );
  second.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
  await assertExactlyOnce(
    ctx,
    msgs.map((m) => m.value),
  );
});

test('three members joining and leaving mid-stream: exact content, partitions spread', async (t) => {
  const ctx = await harness.testContext(t, 'scale', ['bars'], 6);
  const msgs = harness.sampleBatch('bars', 60_000, 600);
  const env = { ...ctx.env, ...COPY_ENV, SINK_WORKERS: '1' };
  const workers: WorkerProcess[] = [];
  t.after(() => stopAll(workers));
  const producing = (async () => {
    for (let i = 0; i < msgs.length; i += 6000) {
      await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs.slice(i, i + 6000)));
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  workers.push(spawnWorker(env));
  await harness.waitFor(
    async () => (await harness.tableCount(ctx.db, ctx.schema, 'bars').catch(() => 0)) > 3000,
    'first member made no progress',
    60_000,
    50,
  );
  workers.push(spawnWorker(env), spawnWorker(env));
  // All three members in the group, each with partitions.
  let spread: number[] = [];
  await harness.waitFor(
    async () => {
      const g = (await ctx.admin.describeGroups([ctx.groupId])).groups[0];
      if (g?.state !== 'Stable' || g.members.length !== 3) return false;
      spread = g.members.map((m) => {
        const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        return a?.assignment[ctx.topic('bars')]?.length ?? 0;
      });
      return spread.every((n) => n > 0);
    },
    () => `three members did not share the partitions (spread ${JSON.stringify(spread)})`,
    60_000,
    200,
  );
  assert.equal(
    spread.reduce((a, b) => a + b, 0),
    6,
  );
  // One leaves gracefully, one crashes, one stays.
  workers[1]!.kill('SIGTERM');
  workers[2]!.kill('SIGKILL');
  assert.equal((await workers[1]!.exited).code, 0);
  await workers[2]!.exited;
  await producing;
  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    () => `remaining member did not catch up:\n${lastLines(workers[0]!.output())}`,
    120_000,
  );
  workers[0]!.kill('SIGTERM');
  assert.equal((await workers[0]!.exited).code, 0);
  await assertExactlyOnce(
    ctx,
    msgs.map((m) => m.value),
  );
});

test('SIGTERM under load: drains, commits what it wrote, exits 0 within the timeout', async (t) => {
  const ctx = await harness.testContext(t, 'term', ['bars'], 3);
  const msgs = harness.sampleBatch('bars', 50_000, 500);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const w = spawnWorker({ ...ctx.env, ...COPY_ENV, SHUTDOWN_TIMEOUT_MS: '15000' });
  t.after(() => stopAll([w]));
  await harness.waitFor(
    async () => (await harness.tableCount(ctx.db, ctx.schema, 'bars').catch(() => 0)) >= 5_000,
    () => `no progress:\n${lastLines(w.output())}`,
    60_000,
    20,
  );
  const sent = Date.now();
  w.kill('SIGTERM');
  const { code } = await w.exited;
  const took = Date.now() - sent;
  assert.equal(code, 0, lastLines(w.output()));
  assert.ok(took < 15_000 + 5_000, `stopped in ${took} ms`);
  // What is committed (PostgreSQL and Kafka agree) is exactly what is in the table.
  const stored = await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  const committed = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [ctx.topic('bars')] });
  let total = 0;
  for (const p of committed[0]!.partitions) {
    const k = `${ctx.topic('bars')}/${p.partition}`;
    assert.equal(Number(p.offset), stored.get(k) ?? -1, `Kafka and PostgreSQL agree on ${k}`);
    total += stored.get(k) ?? 0;
  }
  assert.equal(
    await harness.tableCount(ctx.db, ctx.schema, 'bars'),
    total,
    'rows = committed offsets (copy mode)',
  );
  const hw = await harness.highWatermarks(ctx.admin, [ctx.topic('bars')]);
  assert.ok([...hw.values()].reduce((a, b) => a + b, 0) === msgs.length);
});
