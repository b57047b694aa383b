// scripts/services.sh's contract where it touches nothing: usage and bad input exit 1 with one
// line naming what was wrong, and `env` prints only the export lines for the configured ports.
// Each run gets an empty state dir and ports nothing listens on, so no service is started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.resolve(__dirname, '../../../scripts/services.sh');

function services(args: string[], env: Record<string, string> = {}, prepare?: (runDir: string) => void) {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-services-test-'));
  try {
    prepare?.(runDir);
    const r = spawnSync('bash', [SCRIPT, ...args], {
      encoding: 'utf8',
      env: { ...process.env, MDS_RUN_DIR: runDir, KAFKA_PORT: '1', PGPORT: '2', ...env },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

test('env prints the two export lines for the configured ports and nothing else', () => {
  const r = services(['env'], { KAFKA_PORT: '29999', PGPORT: '25999' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'export KAFKA_BROKERS=127.0.0.1:29999\nexport DATABASE_URL=postgres://postgres@127.0.0.1:25999/postgres\n',
  );
  assert.equal(
    services(['env', '--brokers', '3']).stdout.split('\n')[0],
    'export KAFKA_BROKERS=127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096',
  );
});

test('--help prints the commands and exits 0', () => {
  const r = services(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /up\|down\|status\|env \[--brokers 1\|3\] \[--clean\] \[--install-postgres\]/);
});

test('bad input exits 1 with one line naming it', () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ['bogus'],
      {},
      /expected a command up\|down\|status\|env\|classpath\|stop-broker\|start-broker, got 'bogus'/,
    ],
    [['up', '--brokers', '2'], {}, /--brokers: expected 1 or 3, got '2'/],
    [['status', '--frobnicate'], {}, /unknown argument '--frobnicate'/],
    [['env'], { KAFKA_PORT: 'abc' }, /KAFKA_PORT: expected a port number, got 'abc'/],
    [['env'], { KAFKA_PORT: '65535' }, /KAFKA_PORT: expected 1\.\.65534/],
    [['stop-broker'], {}, /stop-broker: which node\? expected a number 1\.\.3/],
    [['stop-broker', '7'], {}, /stop-broker: expected a node 1\.\.3, got '7'/],
  ];
  for (const [args, env, message] of cases) {
    const r = services(args, env);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('services.sh: error: '));
    assert.equal(errors.length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(errors[0]!, message);
    assert.equal(r.stdout, '', `${args.join(' ')} printed to stdout`);
  }
});

test('status with nothing running exits 3 and says what is stopped', () => {
  const r = services(['status'], { KAFKA_PORT: '29998', PGPORT: '25998' });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /node 1: stopped/);
  assert.match(r.stdout, /postgres: not running/);
});

test('a single node formatted for one port keeps it: env notes the ignored KAFKA_PORT, up refuses', () => {
  const formattedFor = (port: string) => (runDir: string) => {
    fs.mkdirSync(path.join(runDir, 'kafka-single'));
    fs.writeFileSync(path.join(runDir, 'kafka-single', 'port'), `${port}\n`);
  };
  const env = services(['env'], { KAFKA_PORT: '29997' }, formattedFor('29996'));
  assert.equal(env.code, 0, env.stderr);
  assert.match(env.stdout, /^export KAFKA_BROKERS=127\.0\.0\.1:29996$/m);
  assert.match(env.stderr, /note: KAFKA_PORT=29997 ignored, .*kafka-single uses port 29996/);
  const up = services(['up'], { KAFKA_PORT: '29997' }, formattedFor('29996'));
  assert.equal(up.code, 1);
  assert.match(
    up.stderr,
    /error: KAFKA_PORT=29997 but .*kafka-single was set up for port 29996; run 'down --clean' first/,
  );
  assert.equal(up.stdout, '');
});
