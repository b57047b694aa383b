// Config: defaults, layering, messages that name key + env var + expected form, secrets
// never echoed, and the seed's MDS_* names in their own units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load-config.js';
import { SEED_ALIASES } from '../../../src/config/seed-aliases.js';
import { ConfigError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/logger.js';

const load = (env: Record<string, string>, args: string[] = []) =>
  loadConfig({ env: { NODE_ENV: 'development', ...env }, args });

function errorOf(env: Record<string, string>, args: string[] = []): string {
  try {
    load(env, args);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected the config to be rejected');
}

test('defaults are the documented public values', () => {
  const { config, mappings } = load({});
  assert.deepEqual(config.kafka.brokers, ['localhost:9092']);
  assert.equal(config.kafka.groupId, 'market-data-sink');
  assert.equal(config.kafka.topicPrefix, 'md.');
  assert.equal(config.database.url, 'postgres://postgres@127.0.0.1:5432/postgres');
  assert.equal(config.database.schema, 'public');
  assert.equal(config.dlq.topic, 'md.dlq');
  assert.equal(config.metrics.port, 9464);
  // Seed defaults: capacity 10000, 4 workers, batch 500, 0.25 s, retry 5/50/2000/2.0/jitter, CB 5 / 60 s.
  assert.equal(config.queue.capacityRecords, 10000);
  assert.equal(config.sink.workers, 4);
  assert.equal(config.sink.batchSize, 500);
  assert.equal(config.sink.flushIntervalMs, 250);
  assert.deepEqual(config.retry, {
    maxAttempts: 5,
    initialBackoffMs: 50,
    maxBackoffMs: 2000,
    multiplier: 2,
    jitter: true,
  });
  assert.deepEqual(config.breaker, { failureThreshold: 5, openMs: 60000 });
  assert.equal(config.queue.overflow, 'block');
  assert.deepEqual([...mappings.keys()], ['md.bars', 'md.options', 'md.fundamentals', 'md.news']);
  assert.deepEqual(
    [...mappings.values()].map((m) => m.table),
    ['bars', 'options_snap', 'fundamentals', 'news'],
  );
});

test('SINK_MAX_BATCH_SIZE: 0 (the default) follows the batch size, a value is kept', () => {
  assert.equal(load({}).config.sink.maxBatchSize, 2000);
  assert.equal(load({ SINK_BATCH_SIZE: '50' }).config.sink.maxBatchSize, 200);
  assert.equal(load({ SINK_BATCH_SIZE: '50', SINK_MAX_BATCH_SIZE: '50' }).config.sink.maxBatchSize, 50);
  assert.equal(load({}).config.kafka.pauseHoldMs, 1000);
});

test('env vars and CLI args override, args last', () => {
  const { config } = load({ KAFKA_BROKERS: 'a:1,b:2', SINK_WORKERS: '3', TOPIC_PREFIX: 'x.' }, [
    '--sink-workers',
    '6',
  ]);
  assert.deepEqual(config.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(config.sink.workers, 6);
  assert.equal(config.kafka.topicPrefix, 'x.');
});

const BAD: [Record<string, string>, string][] = [
  [
    { KAFKA_BROKERS: 'localhost' },
    'kafka.brokers (KAFKA_BROKERS): expected host:port[,host:port…], got "localhost"',
  ],
  [{ SINK_WORKERS: 'four' }, 'sink.workers (SINK_WORKERS): expected an integer >= 1, got "four"'],
  [{ SINK_BATCH_SIZE: '0' }, 'sink.batchSize (SINK_BATCH_SIZE): expected an integer >= 1, got 0'],
  [
    { QUEUE_HIGH_WATERMARK: '1.5' },
    'queue.highWatermark (QUEUE_HIGH_WATERMARK): expected a fraction in (0, 1], got 1.5',
  ],
  [
    { QUEUE_OVERFLOW: 'drop' },
    'queue.overflow (QUEUE_OVERFLOW): expected one of ["block","drop_oldest","error"], got "drop"',
  ],
  [{ RETRY_JITTER: 'maybe' }, 'retry.jitter (RETRY_JITTER): expected true or false, got "maybe"'],
  [
    { DEFAULT_TENANT_ID: 'acme' },
    'defaultTenantId (DEFAULT_TENANT_ID): expected a UUID (8-4-4-4-12 hex) or empty, got "acme"',
  ],
  [{ DATABASE_SCHEMA: 'Bad-Name' }, 'database.schema (DATABASE_SCHEMA): expected a lower-case SQL name'],
  [
    { METRICS_PORT: '70000' },
    'metrics.port (METRICS_PORT): expected an integer between 0 and 65535, got 70000',
  ],
  [
    { QUEUE_LOW_WATERMARK: '0.9' },
    'queue.lowWatermark (QUEUE_LOW_WATERMARK): expected < queue.highWatermark (0.8), got 0.9',
  ],
  [
    { RETRY_MAX_BACKOFF_MS: '10' },
    'retry.maxBackoffMs (RETRY_MAX_BACKOFF_MS): expected >= retry.initialBackoffMs (50), got 10',
  ],
  [
    { SINK_MAX_BATCH_SIZE: '100' },
    'sink.maxBatchSize (SINK_MAX_BATCH_SIZE): expected 0 (4 × batchSize) or >= sink.batchSize (500), got 100',
  ],
  [
    { KAFKA_PAUSE_HOLD_MS: '-1' },
    'kafka.pauseHoldMs (KAFKA_PAUSE_HOLD_MS): expected an integer >= 0, got -1',
  ],
  [{ KAFKA_TOPICS: 'bars,quotes' }, 'kafka.topics (KAFKA_TOPICS): no mapping for topic "quotes"'],
  [{ DLQ_TOPIC: 'md.bars' }, 'dlq.topic (DLQ_TOPIC): md.bars is also a consumed topic'],
];

for (const [env, message] of BAD) {
  test(`rejects ${JSON.stringify(env)} naming the key and the expected form`, () => {
    const m = errorOf(env);
    assert.ok(m.includes(message), `message was: ${m}`);
    assert.ok(!m.includes('\n'), 'one line');
  });
}

test('a bad DATABASE_URL is rejected without echoing it (it may hold a password)', () => {
  const m = errorOf({ DATABASE_URL: 'mysql://user:s3cret@host/db' });
  assert.ok(m.startsWith('database.url (DATABASE_URL): expected postgres://'), m);
  assert.ok(!m.includes('s3cret'), m);
});

test('the redacted config hides the database URL and SASL password', () => {
  const { redacted } = load({
    DATABASE_URL: 'postgres://u:s3cret@h:5432/d',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'hunter2',
  });
  const text = JSON.stringify(redacted);
  assert.ok(!text.includes('s3cret') && !text.includes('hunter2'), text);
});

test('the start line shows the database host, port and name with only the password masked', () => {
  const { redacted } = load({
    DATABASE_URL: 'postgres://sink:s3cret@db.internal:6432/market?sslpassword=k3y',
  });
  const lines: string[] = [];
  createLogger('info', { write: (l: string) => void lines.push(l) }).info({ config: redacted }, 'starting');
  const text = lines.join('');
  assert.ok(text.includes('postgres://sink:***@db.internal:6432/market'), text);
  assert.ok(!text.includes('s3cret') && !text.includes('k3y'), text);
});

// Seed names in the seed's units → our settings (issue: seed parity).
const SEED: [string, string, (c: ReturnType<typeof load>['config']) => unknown, unknown][] = [
  ['MDS_COORDINATOR_CAPACITY', '2500', (c) => c.queue.capacityRecords, 2500],
  ['MDS_COORDINATOR_WORKERS', '7', (c) => c.sink.workers, 7],
  ['MDS_COORDINATOR_BATCH_SIZE', '123', (c) => c.sink.batchSize, 123],
  ['MDS_COORDINATOR_FLUSH_INTERVAL', '0.5', (c) => c.sink.flushIntervalMs, 500],
  ['MDS_COORDINATOR_OVERFLOW', 'drop_oldest', (c) => c.queue.overflow, 'drop_oldest'],
  ['MDS_RETRY_MAX_ATTEMPTS', '9', (c) => c.retry.maxAttempts, 9],
  ['MDS_RETRY_INITIAL_BACKOFF_MS', '20', (c) => c.retry.initialBackoffMs, 20],
  ['MDS_RETRY_MAX_BACKOFF_MS', '3000', (c) => c.retry.maxBackoffMs, 3000],
  ['MDS_RETRY_BACKOFF_MULTIPLIER', '3.5', (c) => c.retry.multiplier, 3.5],
  ['MDS_RETRY_JITTER', 'false', (c) => c.retry.jitter, false],
  ['MDS_CB_FAILURE_THRESHOLD', '2', (c) => c.breaker.failureThreshold, 2],
  ['MDS_CB_HALF_OPEN_AFTER_SEC', '1.5', (c) => c.breaker.openMs, 1500],
  ['MDS_METRICS_QUEUE_POLL_SEC', '2', (c) => c.metrics.queuePollMs, 2000],
  ['MDS_DSN', 'postgres://x@db.local:5433/md', (c) => c.database.url, 'postgres://x@db.local:5433/md'],
  [
    'MDS_TENANT_ID',
    '6f1c1b9e-3a59-4f4e-9d43-2a1f0c7b8e01',
    (c) => c.defaultTenantId,
    '6f1c1b9e-3a59-4f4e-9d43-2a1f0c7b8e01',
  ],
];

test('every seed alias is covered by the table below', () => {
  assert.deepEqual(SEED.map((s) => s[0]).sort(), SEED_ALIASES.map((a) => a.seed).sort());
});

for (const [name, value, get, expected] of SEED) {
  test(`${name}=${value} sets its setting in the seed's unit`, () => {
    assert.deepEqual(get(load({ [name]: value }).config), expected);
  });
}

test('a seed name and our name that agree are accepted', () => {
  assert.equal(
    load({ MDS_COORDINATOR_FLUSH_INTERVAL: '0.25', SINK_FLUSH_INTERVAL_MS: '250' }).config.sink
      .flushIntervalMs,
    250,
  );
});

test('a seed name and our name that disagree fail naming both', () => {
  const m = errorOf({ MDS_COORDINATOR_WORKERS: '4', SINK_WORKERS: '8' });
  assert.ok(m.includes('MDS_COORDINATOR_WORKERS') && m.includes('SINK_WORKERS'), m);
  const dsn = errorOf({ MDS_DSN: 'postgres://a:pw1@h/d', DATABASE_URL: 'postgres://a:pw2@h/d' });
  assert.ok(
    dsn.includes('MDS_DSN') && dsn.includes('DATABASE_URL') && !dsn.includes('pw1') && !dsn.includes('pw2'),
    dsn,
  );
});

// An invalid value given through each seed name: the message names that name, then ours.
const INVALID_SEED: Record<string, string> = {
  MDS_COORDINATOR_CAPACITY: 'abc',
  MDS_COORDINATOR_WORKERS: '0',
  MDS_COORDINATOR_BATCH_SIZE: '-5',
  MDS_COORDINATOR_FLUSH_INTERVAL: 'soon',
  MDS_COORDINATOR_OVERFLOW: 'sometimes',
  MDS_RETRY_MAX_ATTEMPTS: '2.5',
  MDS_RETRY_INITIAL_BACKOFF_MS: 'abc',
  MDS_RETRY_MAX_BACKOFF_MS: 'x',
  MDS_RETRY_BACKOFF_MULTIPLIER: '0.5',
  MDS_RETRY_JITTER: 'maybe',
  MDS_CB_FAILURE_THRESHOLD: 'many',
  MDS_CB_HALF_OPEN_AFTER_SEC: '0',
  MDS_METRICS_QUEUE_POLL_SEC: 'abc',
  MDS_DSN: 'mysql://u:pw@h/d',
  MDS_TENANT_ID: 'not-a-uuid',
};

test('every seed alias has an invalid value in the table below', () => {
  assert.deepEqual(Object.keys(INVALID_SEED).sort(), SEED_ALIASES.map((a) => a.seed).sort());
});

for (const { seed, ours } of SEED_ALIASES) {
  test(`${seed}=${INVALID_SEED[seed]} is reported as "${seed} (${ours}): expected …"`, () => {
    const m = errorOf({ [seed]: INVALID_SEED[seed]! });
    assert.ok(m.startsWith(`${seed} (${ours}): expected `), m);
    assert.ok(!m.includes('pw@'), `no password in ${m}`);
  });
}

test('a cross-check on a value given through a seed name names the seed name', () => {
  const m = errorOf({ MDS_RETRY_MAX_BACKOFF_MS: '10', RETRY_INITIAL_BACKOFF_MS: '50' });
  assert.ok(m.startsWith('MDS_RETRY_MAX_BACKOFF_MS (RETRY_MAX_BACKOFF_MS): expected >= '), m);
});

test('a flag that overrides a seed name is reported under our name, not the seed name', () => {
  const m = errorOf({ MDS_COORDINATOR_WORKERS: '4' }, ['--sink-workers', 'abc']);
  assert.ok(m.startsWith('sink.workers (SINK_WORKERS): expected '), m);
});
