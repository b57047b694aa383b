// The bench's CPU split from two snapshots: per-process sums (a process that exits between
// them is left out, one that starts counts from 0), other = the machine's busy time the
// pipeline does not account for, and the pipeline figure that leaves other out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpuReport, formatCpu, pipelineUsPerRecord, type CpuSnapshot } from '../../../bench/cpu-usage.js';

type Procs = [pid: number, group: 'broker' | 'postgres', seconds: number][];
const snap = (at: number, busy: number, bench: number, worker: number, procs: Procs): CpuSnapshot => ({
  at,
  busy,
  groups: { bench, worker, broker: 0, postgres: 0 },
  nodeSys: 0,
  byPid: new Map(procs.map(([pid, group, seconds]) => [pid, { group, seconds }])),
});

describe('cpuReport', () => {
  it('sums brokers and PostgreSQL per process: exited ones are left out, new ones count from 0', () => {
    const from = snap(0, 100, 1, 2, [
      [10, 'broker', 50],
      [11, 'broker', 400], // another cluster's broker that stops mid-phase
      [20, 'postgres', 5],
    ]);
    const to = snap(10_000, 110, 2, 5, [
      [10, 'broker', 51],
      [20, 'postgres', 7],
      [21, 'postgres', 1], // a backend opened during the phase
    ]);
    const r = cpuReport(from, to, 1_000_000);
    assert.deepEqual(r.usPerRecord, { bench: 1, worker: 3, broker: 1, postgres: 3, other: 2 });
    assert.equal(r.coresBusy, 1);
    assert.equal(pipelineUsPerRecord(r), 8);
  });

  it('never reports negative other time', () => {
    const r = cpuReport(snap(0, 0, 0, 0, []), snap(1000, 1, 0, 2, []), 1_000_000);
    assert.equal(r.usPerRecord.other, 0);
  });
});

describe('formatCpu', () => {
  it('prints the pipeline sum and the other processes beside it', () => {
    const from = snap(0, 100, 1, 2, [[10, 'broker', 50]]);
    const to = snap(10_000, 110, 2, 5, [[10, 'broker', 51]]);
    assert.equal(
      formatCpu(cpuReport(from, to, 1_000_000)),
      '1.00 cores busy; CPU µs/record: node 4.0 (sys 0.0) + broker 1.0 + postgres 0.0 = pipeline 5.0; other processes 5.0',
    );
  });
});
