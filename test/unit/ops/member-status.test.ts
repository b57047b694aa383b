// GET /status's snapshot: which partitions are paused and why, from the components' state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemberStatus, type MemberStatusDeps } from '../../../src/ops/member-status.js';
import type { CircuitState } from '../../../src/resilience/circuit-breaker.js';

interface State {
  paused: boolean;
  high: boolean;
  gateFull: boolean;
  breaker: CircuitState;
  sqlStates: string[];
  waiting: { topic: string; partition: number }[];
  stopping: boolean;
}

function status(s: Partial<State>): Record<string, unknown> {
  const st: State = {
    paused: false,
    high: false,
    gateFull: false,
    breaker: 'closed',
    sqlStates: [],
    waiting: [],
    stopping: false,
    ...s,
  };
  const deps: MemberStatusDeps = {
    groupId: 'g',
    consumer: () => ({
      isJoined: true,
      isPaused: st.paused,
      assigned: () => [
        { topic: 'md.bars', partition: 1 },
        { topic: 'md.bars', partition: 0 },
      ],
      waitingForPosition: () => st.waiting,
    }),
    queue: {
      stats: () => ({
        records: 90,
        bytes: 900,
        queued: 80,
        capacityRecords: 100,
        capacityBytes: 10_000,
        high: st.high,
      }),
    },
    gate: { stats: () => ({ records: 0, bytes: 0, peakRecords: 0, peakBytes: 0, full: st.gateFull }) },
    breaker: { state: st.breaker },
    environment: {
      list: () => st.sqlStates.map((sqlState) => ({ sqlState, code: 'X', message: 'm', workers: 1 })),
    },
    lag: { partitions: () => [{ topic: 'md.bars', partition: 0, highWatermark: 50, committed: 20 }] },
    isStopping: () => st.stopping,
  };
  return new MemberStatus(deps).status();
}

const parts = (s: Record<string, unknown>): unknown =>
  (s.partitions as { partition: number; paused: boolean; reasons: string[] }[]).map((p) => [
    p.partition,
    p.paused,
    p.reasons,
  ]);

void test('running: nothing paused; partitions sorted with what the member knows of them', () => {
  const s = status({});
  assert.equal(s.fetching, 'running');
  assert.deepEqual(s.pauseReasons, []);
  assert.deepEqual(s.partitions, [
    { topic: 'md.bars', partition: 0, paused: false, reasons: [], nextOffset: 20, logEnd: 50, lag: 30 },
    { topic: 'md.bars', partition: 1, paused: false, reasons: [], nextOffset: null, logEnd: null, lag: null },
  ]);
  assert.deepEqual(s.queue, {
    records: 90,
    bytes: 900,
    capacityRecords: 100,
    capacityBytes: 10_000,
    fill: 0.9,
    aboveHighWatermark: false,
  });
});

void test('paused: the direct cause first, then what holds the writes', () => {
  assert.deepEqual(parts(status({ paused: true, high: true })), [
    [0, true, ['watermark']],
    [1, true, ['watermark']],
  ]);
  const held = status({ paused: true, high: true, breaker: 'open', sqlStates: ['42P01'] });
  assert.deepEqual(held.pauseReasons, ['watermark', 'breaker open', 'environment SQLSTATE 42P01']);
  assert.deepEqual(held.writesHeldBy, ['breaker open', 'environment SQLSTATE 42P01']);
  assert.deepEqual(status({ paused: true, gateFull: true }).pauseReasons, ['overflow gate full']);
  assert.deepEqual(status({ paused: true, stopping: true }).pauseReasons, ['stopping']);
  // Writes held but fetching not (yet) paused: the partitions are not reported paused.
  assert.deepEqual(parts(status({ breaker: 'half_open' })), [
    [0, false, []],
    [1, false, []],
  ]);
});

void test('a partition waiting for its stored offset is paused for positioning alone', () => {
  assert.deepEqual(parts(status({ waiting: [{ topic: 'md.bars', partition: 1 }] })), [
    [0, false, []],
    [1, true, ['positioning']],
  ]);
});
