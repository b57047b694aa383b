// reset-offsets' plan per partition: each target, clamped to the log; and its printout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMoves, planMove, type ResetTarget } from '../../../src/ops/reset-offsets.js';
import type { PartitionOffsets } from '../../../src/ops/group-offsets.js';

const p = (stored: number | null, committed: number | null): PartitionOffsets => ({
  topic: 'md.bars',
  partition: 0,
  stored,
  committed,
  logStart: 100,
  logEnd: 500,
});

const after = (part: PartitionOffsets, t: ResetTarget, atTime?: number): [number, boolean] => {
  const m = planMove(part, t, atTime);
  return [m.after, m.clamped];
};

void test('each target, clamped to the log start and end', () => {
  assert.deepEqual(after(p(300, 280), { kind: 'earliest' }), [100, false]);
  assert.deepEqual(after(p(300, 280), { kind: 'latest' }), [500, false]);
  assert.deepEqual(after(p(300, 280), { kind: 'offset', offset: 250 }), [250, false]);
  assert.deepEqual(after(p(300, 280), { kind: 'offset', offset: 20 }), [100, true]);
  assert.deepEqual(after(p(300, 280), { kind: 'offset', offset: 900 }), [500, true]);
  assert.deepEqual(after(p(300, 280), { kind: 'datetime', at: 0 }, 420), [420, false]);
  // No record at or after the time: the log end.
  assert.deepEqual(after(p(300, 280), { kind: 'datetime', at: 0 }, undefined), [500, false]);
});

void test('a shift counts from sink_offsets, else Kafka, else the log start', () => {
  assert.deepEqual(after(p(300, 280), { kind: 'shift', by: -50 }), [250, false]);
  assert.deepEqual(after(p(null, 280), { kind: 'shift', by: -50 }), [230, false]);
  assert.deepEqual(after(p(null, null), { kind: 'shift', by: 50 }), [150, false]);
  assert.deepEqual(after(p(300, 280), { kind: 'shift', by: -1000 }), [100, true]);
});

void test('the printout: before → after in both stores per partition, and whether it applied', () => {
  const req = {
    groupId: 'g',
    topic: 'md.bars',
    partition: undefined,
    target: { kind: 'latest' },
    execute: false,
  } as const;
  const text = formatMoves(req, [planMove(p(300, null), { kind: 'offset', offset: 900 }, undefined)]);
  assert.equal(
    text,
    'reset-offsets: group g, topic md.bars: dry run, nothing changed (--execute applies)\n' +
      'partition  sink_offsets  kafka committed  log\n' +
      '0          300 → 500     - → 500          100..500  clamped to the log\n',
  );
});
