// KafkaJS logs land in our logger: its INFO chatter at debug, its warnings and errors as
// they are, except the idempotent-producer retries warning, which does not apply to a sink
// whose exactly-once is PostgreSQL's (kept at debug); passwords in URLs are masked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logLevel } from 'kafkajs';
import { createLogger, kafkaLogCreator, redactUrl } from '../../../src/core/logger.js';

function capture(): { lines: { level: number; msg: string }[]; log: ReturnType<typeof createLogger> } {
  const lines: { level: number; msg: string }[] = [];
  const log = createLogger('debug', {
    write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }),
  });
  return { lines, log };
}

test('KafkaJS levels map to ours; the idempotent retries warning goes to debug', () => {
  const { lines, log } = capture();
  const emit = kafkaLogCreator(log)(logLevel.DEBUG);
  const entry = (message: string) => ({
    namespace: 'x',
    level: 0,
    label: 'x',
    log: { timestamp: '', message },
  });
  emit({
    ...entry('Limiting retries for the idempotent producer may invalidate EoS guarantees'),
    level: logLevel.WARN,
  });
  emit({ ...entry('Consumer has joined the group'), level: logLevel.INFO });
  emit({ ...entry('Connection error'), level: logLevel.ERROR });
  emit({ ...entry('Request timed out'), level: logLevel.WARN });
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      [20, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'],
      [20, 'Consumer has joined the group'],
      [50, 'Connection error'],
      [40, 'Request timed out'],
    ],
  );
});

test('redactUrl keeps host, port and database and masks only the password', () => {
  assert.equal(
    redactUrl('postgres://sink:s3cret@db.internal:6432/market'),
    'postgres://sink:***@db.internal:6432/market',
  );
  assert.equal(redactUrl('postgres://sink@db.internal/market'), 'postgres://sink@db.internal/market');
});

test('redactUrl masks from "://user:" to the last @ even where URL parsing would misplace the password', () => {
  const cases: [string, string][] = [
    ['postgres://u:12345/abc@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:12#3@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:a@b/c@h:5433/db?sslmode=require', 'postgres://u:***@h:5433/db?sslmode=require'],
    ['postgres://u:p@h/db?password=x', 'postgres://u:***@h/db?password=***'],
  ];
  for (const [url, want] of cases) assert.equal(redactUrl(url), want, url);
});
