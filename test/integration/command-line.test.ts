// The worker's command line against the real services: --help and --version touch nothing
// (no schema, no table, no DLQ topic), an unknown flag or command exits 2 naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestContext } from '../helpers/sink-harness.js';
import { spawnWorker } from '../helpers/worker-process.js';

async function run(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; out: string }> {
  const w = spawnWorker(env, args);
  const timer = setTimeout(() => w.kill('SIGKILL'), 60_000);
  const { code } = await w.exited;
  clearTimeout(timer);
  return { code, out: w.output() };
}

test('--help and --version of every command touch neither PostgreSQL nor Kafka', async (t) => {
  const ctx = await createTestContext('clihelp');
  t.after(() => ctx.cleanup());
  for (const args of [
    ['--help'],
    ['run', '--help'],
    ['migrate', '--help'],
    ['-h'],
    ['--version'],
    ['migrate', '--version'],
  ]) {
    const r = await run(ctx.env, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.out}`);
    if (args.some((a) => a.startsWith('-h') || a === '--help'))
      assert.match(r.out, /^market-data-sink .*\n\nUsage:/);
    else assert.match(r.out, /^\d+\.\d+\.\d+\n$/);
  }
  const schema = await ctx.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ctx.schema]);
  assert.equal(schema.rowCount, 0, 'no schema was created');
  assert.ok(!(await ctx.admin.listTopics()).includes(ctx.dlqTopic), 'no DLQ topic was created');
});

test('an unknown flag or command: exit 2, one line naming it, nothing touched', async (t) => {
  const ctx = await createTestContext('clibad');
  t.after(() => ctx.cleanup());
  for (const [args, text] of [
    [['--sink-wrokers', '8'], /unknown flag --sink-wrokers/],
    [['serve'], /unknown command "serve"/],
    [['migrate', '--no-such'], /unknown flag --no-such/],
  ] as const) {
    const r = await run(ctx.env, [...args]);
    assert.equal(r.code, 2, r.out);
    assert.equal(r.out.trim().split('\n').length, 1, r.out);
    assert.match(r.out, text);
  }
  const schema = await ctx.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ctx.schema]);
  assert.equal(schema.rowCount, 0, 'no schema was created');
});
