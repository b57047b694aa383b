// loadConfig's 'kafka-client' scope, for commands that only talk to Kafka (replay-dlq, status,
// reset-offsets): the log, kafka and dlq settings are layered and validated as for the worker
// (with the SASL check), and nothing else is read or checked: no mappings file, no worker
// cross-checks, no NODE_ENV enum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { configErrorOf } from '../../helpers/config-errors.js';

/** Settings the worker refuses, none of them in log.*, kafka.* or dlq.*. */
const WORKER_ONLY_PROBLEMS: NodeJS.ProcessEnv = {
  NODE_ENV: 'staging',
  SINK_MAPPINGS_FILE: '/nonexistent/mappings.json',
  SINK_WORKERS: 'many',
  QUEUE_HIGH_WATERMARK: '0.5',
  QUEUE_LOW_WATERMARK: '0.9',
  TOMBSTONE_POLICY: 'bogus',
  METRICS_PORT: 'http',
  DATABASE_URL_FILE: '/nonexistent/database-url',
  DATABASE_SSL_MODE: 'verify-full',
  DATABASE_SSL_CA_FILE: '/nonexistent/db-ca.pem',
};

test('the worker scope refuses the worker-only problems (the fixture is really bad for it)', () => {
  assert.match(
    configErrorOf(() => loadConfig({ env: WORKER_ONLY_PROBLEMS })),
    /NODE_ENV|SINK_WORKERS|TOMBSTONE|DATABASE_URL_FILE/,
  );
});

test('kafka-client: worker-only settings are neither read nor checked; kafka, dlq and log are', () => {
  const env = {
    ...WORKER_ONLY_PROBLEMS,
    KAFKA_BROKERS: 'b1:9092,b2:9093',
    KAFKA_TOPICS: 'no-such-topic',
    DLQ_TOPIC: 'x.dlq',
    LOG_LEVEL: 'debug',
  };
  const { config } = loadConfig({ env, scope: 'kafka-client' });
  assert.deepEqual(Object.keys(config).sort(), ['dlq', 'kafka', 'log']);
  assert.deepEqual(config.kafka.brokers, ['b1:9092', 'b2:9093']);
  assert.equal(config.dlq.topic, 'x.dlq');
  assert.equal(config.log.level, 'debug');
});

test('kafka-client: a bad kafka, dlq or log setting and SASL without credentials are still refused', () => {
  const load = (env: NodeJS.ProcessEnv) => () => loadConfig({ env, scope: 'kafka-client' });
  assert.match(configErrorOf(load({ KAFKA_SSL: 'maybe' })), /kafka\.ssl \(KAFKA_SSL\)/);
  assert.match(
    configErrorOf(load({ KAFKA_BROKERS: 'localhost' })),
    /kafka\.brokers \(KAFKA_BROKERS\): expected host:port/,
  );
  assert.match(configErrorOf(load({ DLQ_TOPIC: 'a/b' })), /dlq\.topic \(DLQ_TOPIC\)/);
  assert.match(configErrorOf(load({ LOG_LEVEL: 'loud' })), /log\.level \(LOG_LEVEL\)/);
  assert.match(
    configErrorOf(load({ KAFKA_SASL_PASSWORD_FILE: '/nonexistent/pw' })),
    /KAFKA_SASL_PASSWORD_FILE: cannot read/,
  );
  assert.match(
    configErrorOf(load({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' })),
    /KAFKA_SSL_CA_FILE/,
  );
  const sasl = configErrorOf(load({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'hunter2-secret' }));
  assert.match(sasl, /KAFKA_SASL_USERNAME/);
  assert.doesNotMatch(sasl, /hunter2-secret/);
});

test('kafka-client: the config files are layered as for the worker; their other sections are ignored', async () => {
  const configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-scope-config-'));
  try {
    await fs.writeFile(
      path.join(configDir, 'default.json'),
      JSON.stringify({ kafka: { brokers: ['file:9092'] }, sink: { workers: 'many' }, nonsense: 1 }),
    );
    await fs.writeFile(path.join(configDir, 'test.json'), JSON.stringify({ dlq: { topic: 'file.dlq' } }));
    const { config } = loadConfig({ env: { NODE_ENV: 'test' }, configDir, scope: 'kafka-client' });
    assert.deepEqual(config.kafka.brokers, ['file:9092']);
    assert.equal(config.dlq.topic, 'file.dlq');
    // An unknown key inside a section the scope checks is refused, as for the worker.
    await fs.writeFile(path.join(configDir, 'default.json'), JSON.stringify({ kafka: { brokerz: ['x:1'] } }));
    assert.match(
      configErrorOf(() => loadConfig({ env: {}, configDir, scope: 'kafka-client' })),
      /kafka\.brokerz/,
    );
  } finally {
    await fs.rm(configDir, { recursive: true, force: true });
  }
});
