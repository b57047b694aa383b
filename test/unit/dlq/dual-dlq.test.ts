// The dual DLQ resolves only when both destinations have the records; a failure on either
// side rejects (retriable) so the batch's offsets never move past an unstored record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DualDeadLetterSink } from '../../../src/dlq/dual-dlq.js';
import type { DeadLetter, DeadLetterSink } from '../../../src/core/dead-letter.js';
import { SinkError } from '../../../src/core/errors.js';

class Recording implements DeadLetterSink {
  readonly written: DeadLetter[] = [];
  readonly calls: string[] = [];
  failWrites = 0;
  constructor(
    private readonly name: string,
    private readonly log: string[],
  ) {}
  start(): Promise<void> {
    this.log.push(`${this.name}.start`);
    return Promise.resolve();
  }
  write(entries: readonly DeadLetter[]): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites--;
      return Promise.reject(new Error(`${this.name} down`));
    }
    this.written.push(...entries);
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.log.push(`${this.name}.close`);
    return Promise.resolve();
  }
}

const entry = (offset: number): DeadLetter => ({
  topic: 'md.bars',
  partition: 0,
  offset,
  timestamp: 0,
  key: null,
  value: Buffer.from('x'),
  headers: undefined,
  reason: 'validation',
  errorCode: 'WRONG_TYPE',
  errorMessage: 'volume: expected integer',
  attempts: 0,
  workerId: 'w',
  failedAt: 0,
});

test('write resolves when both destinations stored the records', async () => {
  const log: string[] = [];
  const topic = new Recording('topic', log);
  const file = new Recording('file', log);
  const dual = new DualDeadLetterSink({ topic, file });
  await dual.start();
  await dual.write([entry(1), entry(2)]);
  assert.deepEqual(
    topic.written.map((e) => e.offset),
    [1, 2],
  );
  assert.deepEqual(
    file.written.map((e) => e.offset),
    [1, 2],
  );
  await dual.close();
  await dual.close();
  assert.deepEqual(
    log,
    ['file.start', 'topic.start', 'topic.close', 'file.close'],
    'close is idempotent, reverse order',
  );
});

for (const side of ['topic', 'file'] as const) {
  test(`a failing ${side} rejects with a retriable DLQ_WRITE_FAILED naming it; the retry stores it`, async () => {
    const log: string[] = [];
    const topic = new Recording('topic', log);
    const file = new Recording('file', log);
    (side === 'topic' ? topic : file).failWrites = 1;
    const dual = new DualDeadLetterSink({ topic, file });
    await assert.rejects(dual.write([entry(7)]), (e: unknown) => {
      assert.ok(e instanceof SinkError);
      assert.equal(e.code, 'DLQ_WRITE_FAILED');
      assert.equal(e.retriable, true);
      assert.match(e.message, new RegExp(`${side}: ${side} down`));
      return true;
    });
    await dual.write([entry(7)]);
    assert.deepEqual(
      (side === 'topic' ? topic : file).written.map((e) => e.offset),
      [7],
    );
  });
}
