// replay-dlq reads its Kafka settings through the worker's config: a Kafka setting the worker
// would refuse is refused here too, with exit 2 and one line naming it, before anything
// connects; settings it does not use are not its business.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, '..', '..', '..', 'scripts', 'replay-dlq');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      SCRIPT,
      args,
      { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      (error, _out, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stderr });
      },
    );
  });
}

void describe('replay-dlq settings', () => {
  void it('exit 2 naming the setting: SASL without credentials, a bad KAFKA_SSL or KAFKA_BROKERS', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-replay-settings-'));
    try {
      const args = ['--from-files', dir, '--to-topic', 'md.retry'];
      const sasl = await run(args, { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'hunter2-secret' });
      assert.equal(sasl.code, 2, sasl.stderr);
      assert.match(sasl.stderr, /^error: .*KAFKA_SASL_USERNAME/m);
      assert.doesNotMatch(sasl.stderr, /hunter2-secret/);
      const ssl = await run(args, { KAFKA_SSL: 'maybe' });
      assert.equal(ssl.code, 2, ssl.stderr);
      assert.match(ssl.stderr, /^error: .*KAFKA_SSL/m);
      const brokers = await run(args, { KAFKA_BROKERS: 'localhost' });
      assert.equal(brokers.code, 2, brokers.stderr);
      assert.match(brokers.stderr, /^error: kafka\.brokers \(KAFKA_BROKERS\): expected host:port/m);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  void it('a dry run from files reads no settings: worker-only and even Kafka problems do not stop it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-replay-settings-'));
    try {
      const r = await run(['--from-files', dir, '--dry-run'], {
        NODE_ENV: 'staging',
        KAFKA_TOPICS: 'no-such-topic',
        SINK_MAPPINGS_FILE: '/nonexistent/mappings.json',
        QUEUE_HIGH_WATERMARK: '0.5',
        QUEUE_LOW_WATERMARK: '0.9',
        KAFKA_SSL: 'maybe',
      });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
