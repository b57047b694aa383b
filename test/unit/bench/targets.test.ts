// The bench's target verdicts: each figure judged against its target, "not measured" when a
// phase or the peer figure is missing, other processes reported beside the pipeline, never in it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatTargets, judgeTargets, type BenchFigures } from '../../../bench/targets.js';
import type { CpuReport } from '../../../bench/cpu-usage.js';

const cpu = (worker: number, broker: number, postgres: number, other: number): CpuReport => ({
  seconds: 10,
  coresBusy: 2,
  usPerRecord: { bench: 0.5, worker, broker, postgres, other },
  nodeSysUsPerRecord: 1,
});

const byName = (f: BenchFigures): Map<string, { figure: string; met: boolean | undefined }> =>
  new Map(judgeTargets(f).map((v) => [v.name, v]));

describe('judgeTargets', () => {
  it('judges the CPU split without the other processes', () => {
    // node 7.5 + broker 1.5 + postgres 10 = 19 <= 20, although other is 30.
    const v = byName({ mode: 'upsert', steadyRate: 20000, e2eCpu: cpu(7, 1.5, 10, 30) });
    assert.equal(v.get('CPU/record E2E, pipeline')?.met, true);
    assert.match(
      v.get('CPU/record E2E, pipeline')!.figure,
      /^19\.0 µs \(other processes 30\.0 µs, not counted\)$/,
    );
    assert.equal(v.get('CPU/record E2E, node')?.met, true);
    assert.equal(v.get('CPU/record E2E, node')?.figure, '7.5 µs');
    assert.equal(v.get('CPU/record E2E, PostgreSQL')?.met, false);
  });

  it('says not measured for every phase that did not run', () => {
    const v = judgeTargets({ mode: 'upsert', steadyRate: 20000 });
    assert.equal(v.length, 8);
    for (const t of v) assert.equal(t.met, undefined, t.name);
    assert.match(
      v.find((t) => t.name === 'E2E upsert vs peer')!.figure,
      /peer not measured \(--peer-rows-per-sec N\)/,
    );
    assert.match(
      v.find((t) => t.name === 'peak RSS under overload')!.figure,
      /^not measured \(--overload\)$/,
    );
  });

  it('compares E2E with 4 × the peer and copy with 1.3 × upsert', () => {
    const base = { mode: 'upsert', steadyRate: 20000, e2eRate: 90000, peerRate: 23000 };
    assert.equal(byName(base).get('E2E upsert vs peer')?.met, false); // 4 × 23000 = 92000
    assert.equal(byName(base).get('E2E upsert vs peer')?.figure, '90,000 rows/s (3.91 × peer)');
    assert.equal(byName({ ...base, e2eRate: 92000 }).get('E2E upsert vs peer')?.met, true);
    assert.equal(byName({ ...base, e2eCopyRate: 117000 }).get('E2E copy vs upsert')?.met, true);
    assert.equal(byName({ ...base, e2eCopyRate: 116999 }).get('E2E copy vs upsert')?.met, false);
    // A copy-mode run has no upsert figure to compare with.
    assert.equal(
      byName({ ...base, mode: 'copy', e2eCopyRate: 200000 }).get('E2E copy vs upsert')?.met,
      undefined,
    );
  });

  it('judges latency and RSS at their bounds', () => {
    const v = byName({
      mode: 'upsert',
      steadyRate: 20000,
      latencyP50Ms: 30,
      latencyP99Ms: 101,
      overloadPeakRssMb: 300,
    });
    assert.equal(v.get('latency p50 @20000/s')?.met, true);
    assert.equal(v.get('latency p99 @20000/s')?.met, false);
    assert.equal(v.get('peak RSS under overload')?.met, false);
  });
});

describe('formatTargets', () => {
  it('prints the verdict, the figure and the target on one line each', () => {
    const lines = formatTargets([
      { name: 'a', figure: '1 ms', target: '<= 2 ms', met: true },
      { name: 'longer', figure: '3 ms', target: '<= 2 ms', met: false },
      { name: 'c', figure: 'not measured (x)', target: '< 1', met: undefined },
    ]);
    assert.deepEqual(lines, [
      'met    a       1 ms  [target <= 2 ms]',
      'MISSED longer  3 ms  [target <= 2 ms]',
      '-      c       not measured (x)  [target < 1]',
    ]);
  });
});
