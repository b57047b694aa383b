// Bad input at the doors of the process: a bad setting, an unreachable database or broker,
// a topic that does not exist, a mapping naming a missing table. Each gives one clear line
// and a non-zero exit — no stack trace, no retry loop forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { createTestContext } from '../helpers/sink-harness.js';
import { lastLines, spawnWorker } from '../helpers/worker-process.js';

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function run(
  env: NodeJS.ProcessEnv,
  timeoutMs = 90_000,
): Promise<{ code: number | null; out: string; ms: number }> {
  const started = Date.now();
  const w = spawnWorker(env);
  const timer = setTimeout(() => w.kill('SIGKILL'), timeoutMs);
  const { code } = await w.exited;
  clearTimeout(timer);
  return { code, out: w.output(), ms: Date.now() - started };
}

test('a bad setting: exit 2, one line naming the key, the env var and the expected form', async () => {
  const r = await run({ ...process.env, KAFKA_BROKERS: 'localhost', SINK_WORKERS: 'x' });
  assert.equal(r.code, 2, r.out);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 1, r.out);
  assert.match(
    lines[0]!,
    /kafka\.brokers \(KAFKA_BROKERS\): expected host:port\[,host:port…\], got "localhost"/,
  );
  assert.match(lines[0]!, /sink\.workers \(SINK_WORKERS\): expected an integer >= 1, got "x"/);
});

test('an unreachable database: exit 1 with a clear error, no stack trace', async (t) => {
  const ctx = await createTestContext('nodb');
  t.after(() => ctx.cleanup());
  const port = await closedPort();
  const r = await run({
    ...ctx.env,
    DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/postgres`,
    DATABASE_CONNECT_TIMEOUT_MS: '2000',
  });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /could not start: connect ECONNREFUSED 127\.0\.0\.1/);
  assert.ok(!r.out.includes('secret'), 'password not printed');
  assert.ok(!/\n\s+at /.test(r.out), `no stack trace:\n${lastLines(r.out)}`);
});

test('an unreachable broker: exit 1 with a clear error after bounded retries', async (t) => {
  const ctx = await createTestContext('nokafka');
  t.after(() => ctx.cleanup());
  const port = await closedPort();
  const r = await run({ ...ctx.env, KAFKA_BROKERS: `127.0.0.1:${port}`, LOG_LEVEL: 'fatal' });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /could not start: .*(ECONNREFUSED|Connection error)/);
  assert.ok(r.ms < 90_000);
});

test('a topic that does not exist and a mapping naming a missing table: clear errors', async (t) => {
  const ctx = await createTestContext('missing');
  t.after(() => ctx.cleanup());
  const noTopic = await run({ ...ctx.env, KAFKA_TOPICS: 'bars', LOG_LEVEL: 'fatal' });
  assert.equal(noTopic.code, 1, noTopic.out);
  assert.match(noTopic.out, /could not start: .*(does not host this topic-partition|topic)/i);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapping-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'mappings.json');
  fs.writeFileSync(
    file,
    JSON.stringify([
      {
        topicSuffix: 'quotes',
        table: 'quotes',
        mode: 'upsert',
        key: ['symbol'],
        columns: [{ name: 'symbol', type: 'text', required: true }],
      },
    ]),
  );
  await ctx.createTopics(['quotes'], 1);
  const noTable = await run({
    ...ctx.env,
    KAFKA_TOPICS: 'quotes',
    SINK_MAPPINGS_FILE: file,
    LOG_LEVEL: 'fatal',
  });
  assert.equal(noTable.code, 1, noTable.out);
  assert.match(
    noTable.out,
    new RegExp(`table ${ctx.schema}\\.quotes \\(topic suffix quotes\\) does not exist`),
  );
});
