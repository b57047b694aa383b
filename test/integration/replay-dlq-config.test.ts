// replay-dlq takes the worker's Kafka settings from every layer, config files included: a
// broker list, DLQ topic or DLQ directory set only in config/default.json is the one it uses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import { NdjsonDeadLetterSink } from '../../src/dlq/file/writer.js';
import { KafkaTopicDeadLetterSink } from '../../src/dlq/topic/writer.js';
import { main } from '../../src/replay/cli.js';
import { BROKERS } from '../helpers/sink-harness.js';
import { randomName } from '../helpers/services.js';

const FAILED_AT = Date.parse('2024-05-01T00:00:00Z');

function deadLetter(topic: string): DeadLetter {
  return {
    topic,
    partition: 0,
    offset: 7,
    timestamp: FAILED_AT,
    key: Buffer.from('k7'),
    value: Buffer.from('{"i":7}'),
    headers: {},
    reason: 'validation',
    errorCode: 'SCHEMA_INVALID',
    errorMessage: 'bad',
    attempts: 0,
    workerId: 'w1',
    failedAt: FAILED_AT,
  };
}

/** main() with a config directory holding `settings` as default.json, no environment. */
async function runWithConfigFile(
  settings: Record<string, unknown>,
  args: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  const configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-replay-config-'));
  try {
    await fs.writeFile(path.join(configDir, 'default.json'), JSON.stringify(settings));
    let out = '';
    let err = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s) };
    const code = await main(['node', 'replay-dlq', ...args], { PATH: process.env.PATH }, { configDir, io });
    return { code, out, err };
  } finally {
    await fs.rm(configDir, { recursive: true, force: true });
  }
}

void describe('replay-dlq reads kafka.brokers and dlq.topic from the config files', () => {
  const dlqTopic = randomName('it.cfg.dlq.');
  const target = randomName('it.cfg.target.');
  const kafka = new Kafka({ clientId: 'replay-cfg-test', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  let filesDir = '';

  before(async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: target, numPartitions: 1 }], waitForLeaders: true });
    const sink = new KafkaTopicDeadLetterSink({ kafka, topic: dlqTopic, logger: pino({ level: 'silent' }) });
    await sink.start();
    await sink.write([deadLetter('md.cfg')]);
    await sink.close();
    filesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-replay-config-files-'));
    const files = new NdjsonDeadLetterSink({ dir: filesDir, maxFileBytes: 1 << 20 });
    await files.write([deadLetter(target)]);
    await files.close();
  });
  after(async () => {
    await admin.deleteTopics({ topics: [dlqTopic, target] }).catch(() => undefined);
    await admin.disconnect();
    await fs.rm(filesDir, { recursive: true, force: true });
  });

  void it('dlq.topic and kafka.brokers from default.json: the dry run reads that topic', async () => {
    const r = await runWithConfigFile({ kafka: { brokers: BROKERS }, dlq: { topic: dlqTopic } }, [
      '--dry-run',
      '--group',
      randomName('it-cfg-replay-'),
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^md\.cfg\/0\/7 -> md\.cfg reason=validation error=SCHEMA_INVALID /m);
    assert.match(r.out, /replay dry run done: entries=1 /);
  });

  void it('kafka.brokers from default.json naming a closed port: the replay cannot connect, exit 1', async () => {
    const r = await runWithConfigFile({ kafka: { brokers: ['127.0.0.1:1'] }, log: { level: 'silent' } }, [
      '--from-files',
      filesDir,
      '--to-topic',
      target,
    ]);
    assert.equal(r.code, 1, `expected exit 1, got ${r.code}; out: ${r.out}; err: ${r.err}`);
    assert.doesNotMatch(r.out, /replay done/);
  });

  void it('--reconcile without --dlq-dir reads dlq.dir from default.json: a missing one exits 2 naming it', async () => {
    const missing = path.join(os.tmpdir(), randomName('mds-no-such-dlq-dir-'));
    const r = await runWithConfigFile(
      { kafka: { brokers: BROKERS }, dlq: { topic: dlqTopic, dir: missing } },
      ['--reconcile'],
    );
    assert.equal(r.code, 2, r.err);
    assert.equal(r.err, `error: dlq.dir (DLQ_DIR): no such directory: ${missing}\n`);
  });

  void it('a replay that needs Kafka is not stopped by settings only the worker uses', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-replay-config-empty-'));
    try {
      let err = '';
      const io = { out: () => undefined, err: (s: string) => void (err += s) };
      const env = {
        KAFKA_BROKERS: BROKERS.join(','),
        NODE_ENV: 'staging',
        KAFKA_TOPICS: 'no-such-topic',
        SINK_MAPPINGS_FILE: '/nonexistent/mappings.json',
        QUEUE_HIGH_WATERMARK: '0.5',
        QUEUE_LOW_WATERMARK: '0.9',
      };
      const code = await main(['node', 'replay-dlq', '--from-files', empty, '--to-topic', target], env, {
        io,
      });
      assert.equal(code, 0, err);
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });
});
