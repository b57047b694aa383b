// config's report: each value with the layer that set it (default, file, env, seed env,
// flag), and no secret in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { configFiles, configReport, formatConfigReport } from '../../../src/ops/config-report.js';
import { projectRoot } from '../../../src/util/project-root.js';

void test('each setting names its source, and secrets stay out', () => {
  const env = {
    NODE_ENV: 'test',
    SINK_WORKERS: '4',
    MDS_COORDINATOR_BATCH_SIZE: '50',
    DATABASE_URL: 'postgres://sink:s3cret@db.internal:6432/market',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'sink',
    KAFKA_SASL_PASSWORD: 'hunter2',
  };
  const args = ['--breaker-open-ms', '700'];
  const loaded = loadConfig({ env, args });
  const files = configFiles(path.join(projectRoot(), 'config'), loaded.config.env);
  const report = configReport(loaded, { env, args, files });
  const by = new Map(report.map((e) => [e.key, e]));
  const pick = (key: string): unknown[] => {
    const e = by.get(key)!;
    return [e.value, e.source, e.from];
  };
  assert.deepEqual(pick('sink.workers'), [4, 'env', 'SINK_WORKERS']);
  assert.deepEqual(pick('sink.batchSize'), [50, 'seed env', 'MDS_COORDINATOR_BATCH_SIZE']);
  assert.deepEqual(pick('breaker.openMs'), [700, 'flag', '--breaker-open-ms']);
  assert.deepEqual(pick('log.level'), ['warn', 'file', path.join(projectRoot(), 'config', 'test.json')]);
  assert.deepEqual(pick('queue.capacityRecords'), [10_000, 'default', null]);
  assert.deepEqual(pick('database.url'), [
    'postgres://sink:***@db.internal:6432/market',
    'env',
    'DATABASE_URL',
  ]);
  assert.deepEqual(pick('kafka.sasl.password'), ['[redacted]', 'env', 'KAFKA_SASL_PASSWORD']);
  assert.equal(report.length, by.size);
  const text = formatConfigReport(report) + JSON.stringify(report);
  assert.ok(!text.includes('s3cret') && !text.includes('hunter2'), 'no secret printed');
  assert.match(
    formatConfigReport(report),
    /\nsink\.batchSize +SINK_BATCH_SIZE +50 +seed env MDS_COORDINATOR_BATCH_SIZE\n/,
  );
});

void test('a secret read from X_FILE names the X_FILE variable as its source, value redacted', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-report-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'password');
  fs.writeFileSync(file, 'hunter2\n');
  const env = {
    NODE_ENV: 'test',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'sink',
    KAFKA_SASL_PASSWORD_FILE: file,
  };
  const loaded = loadConfig({ env, args: [] });
  const files = configFiles(path.join(projectRoot(), 'config'), loaded.config.env);
  const report = configReport(loaded, { env, args: [], files });
  const e = report.find((x) => x.key === 'kafka.sasl.password')!;
  assert.deepEqual([e.value, e.source, e.from], ['[redacted]', 'file secret', 'KAFKA_SASL_PASSWORD_FILE']);
  const text = formatConfigReport(report) + JSON.stringify(report);
  assert.ok(!text.includes('hunter2'), 'no secret printed');
  assert.match(
    text,
    /kafka\.sasl\.password +KAFKA_SASL_PASSWORD +\[redacted\] +file secret KAFKA_SASL_PASSWORD_FILE\n/,
  );
});
