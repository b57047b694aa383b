// replay-dlq reaches Kafka through the worker's client factory and settings: a security
// setting in the environment (KAFKA_SSL, KAFKA_SASL_*) changes how it connects. Against the
// plaintext test broker, TLS or SASL must make it fail with a connection error, not connect.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { BROKERS } from '../helpers/sink-harness.js';
import { randomName } from '../helpers/services.js';

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'replay-dlq');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs replay-dlq with only these variables (and PATH), killed after 90 s at worst. */
function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      SCRIPT,
      [...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

void describe('replay-dlq takes its Kafka security settings from config', () => {
  const dlqTopic = randomName('it.sec.dlq.');
  const kafka = new Kafka({ clientId: 'replay-sec-test', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const base = { KAFKA_BROKERS: BROKERS.join(','), DLQ_TOPIC: dlqTopic };
  const args = ['--dry-run', '--group', randomName('it-sec-replay-')];

  before(async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: dlqTopic, numPartitions: 1 }], waitForLeaders: true });
  });
  after(async () => {
    await admin.deleteTopics({ topics: [dlqTopic] }).catch(() => undefined);
    await admin.disconnect();
  });

  void it('plaintext settings: the dry run reads the (empty) DLQ topic and exits 0', async () => {
    const r = await run(args, base);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /replay dry run done: entries=0 /);
  });

  void it('KAFKA_SSL=true: TLS to the plaintext broker fails, exit 1, nothing read', async () => {
    const r = await run(args, { ...base, KAFKA_SSL: 'true' });
    assert.equal(r.code, 1, `expected exit 1, got ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /replay dry run done/);
    assert.match(r.stderr, /error: .*(SSL|TLS|secure|connect|Connection)/i);
  });

  void it('KAFKA_SASL_MECHANISM=plain: the broker refuses the SASL handshake, exit 1', async () => {
    const r = await run(args, {
      ...base,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'replay',
      KAFKA_SASL_PASSWORD: 'not-a-real-secret',
    });
    assert.equal(r.code, 1, `expected exit 1, got ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /replay dry run done/);
    assert.match(r.stderr, /error: .*SASL/i);
    assert.doesNotMatch(r.stderr + r.stdout, /not-a-real-secret/);
  });
});
