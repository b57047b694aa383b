// The drop_oldest overflow gate with a fake clock and a scripted DLQ: bounded in records and
// bytes (full → onFull once, half empty → onRoom), DLQ failures retried with backoff and
// nothing skipped, settled() for the records dropped before it, close() never hangs a waiter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverflowGate, OverflowGateClosedError } from '../../../src/pipeline/overflow-gate.js';
import type { DeadLetter, DeadLetterSink } from '../../../src/core/dead-letter.js';
import type { SinkRecord } from '../../../src/core/sink-record.js';
import { createLogger } from '../../../src/core/logger.js';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';

class ScriptedDlq implements DeadLetterSink {
  readonly written: DeadLetter[][] = [];
  failures = 0;
  calls = 0;
  start(): Promise<void> {
    return Promise.resolve();
  }
  write(entries: readonly DeadLetter[]): Promise<void> {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('DLQ away'));
    }
    this.written.push([...entries]);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function record(offset: number, bytes = 100): SinkRecord {
  return {
    topic: 't',
    partition: 0,
    offset,
    bytes,
    key: null,
    value: Buffer.from('{}'),
  } as unknown as SinkRecord;
}

function setup(maxRecords: number, maxBytes: number) {
  const clock = new FakeClock();
  const dlq = new ScriptedDlq();
  const events: string[] = [];
  const dropped: number[] = [];
  const gate = new OverflowGate({
    dlq,
    clock,
    log: createLogger('silent'),
    maxRecords,
    maxBytes,
    backoffMs: (attempt) => 100 * 2 ** (attempt - 1),
    onDropped: (entries) => dropped.push(...entries.map((e) => e.offset)),
    onFull: () => events.push('full'),
    onRoom: () => events.push('room'),
  });
  /** Drops like the dispatcher: only what the gate admits. */
  const offer = (r: SinkRecord): boolean => {
    if (!gate.admits(r.bytes)) return false;
    gate.drop([r]);
    return true;
  };
  return { clock, dlq, events, dropped, gate, offer };
}

test('bounded in records: a full gate refuses, asks once to pause, and resumes at half', async () => {
  const { dlq, events, gate, offer, clock, dropped } = setup(4, 1_000_000);
  dlq.failures = 2;
  for (let i = 0; i < 4; i++) assert.equal(offer(record(i)), true);
  assert.equal(offer(record(4)), false);
  assert.equal(offer(record(5)), false);
  assert.deepEqual(events, ['full'], 'onFull once');
  assert.equal(gate.stats().records, 4);
  await flushMicrotasks(); // first write fails
  assert.equal(dlq.calls, 1);
  await clock.advance(100); // second fails
  await clock.advance(200); // third succeeds
  assert.deepEqual(dropped, [0, 1, 2, 3], 'nothing skipped, in order');
  assert.deepEqual(events, ['full', 'room']);
  assert.equal(gate.stats().records, 0);
  assert.equal(gate.stats().peakRecords, 4);
});

test('bounded in bytes; a record larger than the bound is taken alone', () => {
  const { gate, offer } = setup(100, 250);
  assert.equal(offer(record(0, 100)), true);
  assert.equal(offer(record(1, 100)), true);
  assert.equal(offer(record(2, 100)), false, '300 > 250 bytes');
  assert.equal(gate.stats().bytes, 200);
  const lone = setup(100, 250);
  assert.equal(lone.offer(record(0, 1000)), true, 'an empty gate takes any one record');
  assert.equal(lone.offer(record(1, 1)), false);
});

test('settled() waits for the records dropped before it, through DLQ failures', async () => {
  const { dlq, gate, offer, clock } = setup(10, 1_000_000);
  await gate.settled(); // nothing dropped: at once
  dlq.failures = 1;
  offer(record(0));
  let first = false;
  void gate.settled().then(() => (first = true));
  await flushMicrotasks();
  assert.equal(first, false, 'the write failed: not settled');
  offer(record(1)); // dropped while the retry waits
  let second = false;
  void gate.settled().then(() => (second = true));
  await clock.advance(100);
  await flushMicrotasks();
  assert.equal(first, true);
  assert.equal(second, true);
  assert.deepEqual(
    dlq.written.map((w) => w.map((e) => e.offset)),
    [[0], [1]],
  );
});

test('close() ends the retries and rejects waiters of records that never reached the DLQ', async () => {
  const { dlq, gate, offer, clock } = setup(10, 1_000_000);
  dlq.failures = 1_000;
  offer(record(0));
  const waiting = gate.settled();
  await clock.advance(10_000);
  const calls = dlq.calls;
  gate.close();
  await assert.rejects(waiting, OverflowGateClosedError);
  await assert.rejects(gate.settled(), OverflowGateClosedError, 'later commits are refused too');
  await clock.advance(60_000);
  assert.equal(dlq.calls, calls, 'no retry after close');
  assert.equal(clock.pendingSleepers(), 0);
  assert.equal(gate.admits(1), false, 'a closed gate takes nothing');
  gate.close(); // idempotent
});

test('close() with everything durable leaves settled() resolving', async () => {
  const { gate, offer } = setup(10, 1_000_000);
  offer(record(0));
  await gate.settled();
  gate.close();
  await gate.settled();
});
