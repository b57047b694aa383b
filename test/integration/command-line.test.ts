// The command line against the real services: --help and --version of every command touch
// nothing (no schema, no table, no topic, no group), an unknown flag or command exits 2 naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestContext } from '../helpers/sink-harness.js';
import { runCommand as run } from '../helpers/worker-process.js';

test('--help and --version of every command touch neither PostgreSQL nor Kafka', async (t) => {
  const ctx = await createTestContext('clihelp');
  t.after(() => ctx.cleanup());
  const commands = ['run', 'migrate', 'replay-dlq', 'reset-offsets', 'status', 'config'];
  const group = ['--group', ctx.groupId, '--topic', ctx.topic('bars'), '--to-earliest', '--execute'];
  for (const args of [
    ['--help'],
    ['-h'],
    ['--version'],
    ...commands.flatMap((c) => [
      [c, '--help'],
      [c, '--version'],
    ]),
    ['reset-offsets', ...group, '--help'],
    ['status', '--json', '-h'],
    ['replay-dlq', '--dry-run', '--version'],
  ]) {
    const r = await run(ctx.env, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.out}`);
    if (args.includes('--version')) assert.match(r.out, /^\d+\.\d+\.\d+\n$/, args.join(' '));
    else if (args[0] === 'replay-dlq') assert.match(r.out, /^Usage: replay-dlq/);
    else assert.match(r.out, /^Usage: market-data-sink/, args.join(' '));
  }
  const schema = await ctx.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ctx.schema]);
  assert.equal(schema.rowCount, 0, 'no schema was created');
  const topics = (await ctx.admin.listTopics()).filter((t) => t.startsWith(ctx.prefix));
  assert.deepEqual(topics, [], 'no topic was created');
  const groups = (await ctx.admin.listGroups()).groups.filter((g) => g.groupId.startsWith(ctx.groupId));
  assert.deepEqual(groups, [], 'no group was created');
});

test('an unknown flag or command: exit 2, one line naming it, nothing touched', async (t) => {
  const ctx = await createTestContext('clibad');
  t.after(() => ctx.cleanup());
  for (const [args, text] of [
    [['--sink-wrokers', '8'], /unknown option '--sink-wrokers'/],
    [['serve'], /unknown command 'serve'/],
    [['migrate', '--no-such'], /unknown option '--no-such'/],
    [['status', '--no-such'], /unknown option '--no-such'/],
    [['config', '--sink-workers'], /option '--sink-workers <value>' argument missing/],
    [
      ['reset-offsets', '--group', 'g', '--topic', 't', '--to-offset', 'x'],
      /--to-offset <n>' argument 'x' is invalid/,
    ],
  ] as const) {
    const r = await run(ctx.env, [...args]);
    assert.equal(r.code, 2, r.out);
    assert.equal(r.out.trim().split('\n').length, 1, r.out);
    assert.match(r.out, text);
  }
  const schema = await ctx.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ctx.schema]);
  assert.equal(schema.rowCount, 0, 'no schema was created');
});

test('the commands run: replay-dlq delegates, config redacts, status refuses a missing topic', async (t) => {
  const ctx = await createTestContext('clirun');
  t.after(() => ctx.cleanup());
  const replay = await run(ctx.env, ['replay-dlq', '--dry-run', '--from-files', ctx.dlqDir]);
  assert.equal(replay.code, 0, replay.out);
  assert.match(replay.out, /replay dry run done: entries=0 /);

  const url = new URL(ctx.env.DATABASE_URL!);
  url.password = 'not-for-output';
  const config = await run({ ...ctx.env, DATABASE_URL: url.toString() }, ['config', '--sink-workers', '3']);
  assert.equal(config.code, 0, config.out);
  assert.ok(!config.out.includes('not-for-output'), 'the password is not printed');
  const { settings } = JSON.parse(config.out) as {
    settings: { key: string; value: unknown; source: string; from: string | null }[];
  };
  const of = (key: string): unknown => settings.find((s) => s.key === key);
  assert.deepEqual(of('sink.workers'), {
    key: 'sink.workers',
    env: 'SINK_WORKERS',
    value: 3,
    source: 'flag',
    from: '--sink-workers',
  });
  assert.deepEqual(of('kafka.groupId'), {
    key: 'kafka.groupId',
    env: 'KAFKA_GROUP_ID',
    value: ctx.groupId,
    source: 'env',
    from: 'KAFKA_GROUP_ID',
  });

  const status = await run(ctx.env, ['status', '--topic', ctx.topic('bars')]);
  assert.equal(status.code, 1, status.out);
  assert.match(status.out, new RegExp(`status: no such topic: ${ctx.topic('bars')} \\(give the full name`));
  assert.ok(!(await ctx.admin.listTopics()).includes(ctx.topic('bars')), 'the topic was not created');
});

test('status and reset-offsets with TLS set against a plaintext broker: exit 1 in seconds, naming KAFKA_SSL', async (t) => {
  const ctx = await createTestContext('clitls');
  t.after(() => ctx.cleanup());
  const env = { ...ctx.env, KAFKA_SSL: 'true' };
  for (const args of [
    ['status'],
    ['reset-offsets', '--group', ctx.groupId, '--topic', ctx.topic('bars'), '--to-earliest'],
  ]) {
    const started = Date.now();
    const r = await run(env, args);
    const tookMs = Date.now() - started;
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /kafka\.ssl \(KAFKA_SSL\): the TLS handshake with .* failed/);
    // KafkaJS's own retries would take ~20 s; the probe answers in about one.
    assert.ok(tookMs < 15_000, `${args[0]} took ${tookMs} ms`);
  }
});
