// The performance targets of the bench (issue 18), each judged against the run's figure and
// printed beside it. Pure: bench.ts gathers the figures, this decides and formats, so the
// verdicts are unit-tested. A target whose figure was not measured says so instead of passing.
import type { CpuReport } from './cpu-usage.js';
import { pipelineUsPerRecord } from './cpu-usage.js';

export interface BenchFigures {
  /** The E2E phase's CPU split (write mode `mode`). */
  readonly e2eCpu?: CpuReport | undefined;
  readonly mode: string;
  /** E2E rows/s in `mode`. */
  readonly e2eRate?: number | undefined;
  /** E2E rows/s in copy mode, when the run compared modes. */
  readonly e2eCopyRate?: number | undefined;
  /** Rows/s of the peer sink (Debezium JDBC) on the same box, given by the caller. */
  readonly peerRate?: number | undefined;
  readonly latencyP50Ms?: number | undefined;
  readonly latencyP99Ms?: number | undefined;
  readonly steadyRate: number;
  /** Peak RSS of the worker during the overload phase. */
  readonly overloadPeakRssMb?: number | undefined;
}

export interface TargetVerdict {
  readonly name: string;
  /** The figure as printed, or "not measured" with what would measure it. */
  readonly figure: string;
  readonly target: string;
  /** undefined: not measured. */
  readonly met: boolean | undefined;
}

const known = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

function verdict(
  name: string,
  value: number | undefined,
  target: string,
  ok: (v: number) => boolean,
  show: (v: number) => string,
  howToMeasure: string,
): TargetVerdict {
  return known(value)
    ? { name, figure: show(value), target, met: ok(value) }
    : { name, figure: `not measured (${howToMeasure})`, target, met: undefined };
}

const us = (v: number): string => `${v.toFixed(1)} µs`;
const perSec = (v: number): string => `${Math.round(v).toLocaleString('en-US')} rows/s`;

export function judgeTargets(f: BenchFigures): TargetVerdict[] {
  const cpu = f.e2eCpu;
  const node = cpu === undefined ? undefined : cpu.usPerRecord.bench + cpu.usPerRecord.worker;
  const out: TargetVerdict[] = [
    verdict(
      'CPU/record E2E, pipeline',
      cpu === undefined ? undefined : pipelineUsPerRecord(cpu),
      '<= 20 µs (node + broker + PostgreSQL)',
      (v) => v <= 20,
      (v) => `${us(v)} (other processes ${us(cpu?.usPerRecord.other ?? NaN)}, not counted)`,
      'run the e2e phase',
    ),
    verdict('CPU/record E2E, node', node, '<= 8 µs', (v) => v <= 8, us, 'run the e2e phase'),
    verdict(
      'CPU/record E2E, PostgreSQL',
      cpu?.usPerRecord.postgres,
      '<= 9 µs',
      (v) => v <= 9,
      us,
      'run the e2e phase',
    ),
  ];
  const peer = f.peerRate;
  out.push(
    known(peer)
      ? verdict(
          `E2E ${f.mode} vs peer`,
          f.e2eRate,
          `>= 4 × peer ${perSec(peer)} = ${perSec(4 * peer)}`,
          (v) => v >= 4 * peer,
          (v) => `${perSec(v)} (${(v / peer).toFixed(2)} × peer)`,
          'run the e2e phase',
        )
      : {
          name: `E2E ${f.mode} vs peer`,
          figure: `${known(f.e2eRate) ? perSec(f.e2eRate) : '-'}; peer not measured (--peer-rows-per-sec N)`,
          target: '>= 4 × the Debezium JDBC sink on the same box',
          met: undefined,
        },
  );
  const upsert = f.mode === 'upsert' ? f.e2eRate : undefined;
  out.push(
    known(upsert)
      ? verdict(
          'E2E copy vs upsert',
          f.e2eCopyRate,
          `>= 1.3 × upsert = ${perSec(1.3 * upsert)}`,
          (v) => v >= 1.3 * upsert,
          (v) => `${perSec(v)} (${(v / upsert).toFixed(2)} × upsert)`,
          '--compare-copy',
        )
      : verdict(
          'E2E copy vs upsert',
          undefined,
          '>= 1.3 × upsert',
          () => false,
          perSec,
          '--mode upsert --compare-copy',
        ),
  );
  for (const [q, value, bound] of [
    ['p50', f.latencyP50Ms, 30],
    ['p99', f.latencyP99Ms, 100],
  ] as const) {
    out.push(
      verdict(
        `latency ${q} @${f.steadyRate}/s`,
        value,
        `<= ${bound} ms`,
        (v) => v <= bound,
        (v) => `${v.toFixed(0)} ms`,
        `run the latency phase, --steady-rate ${f.steadyRate}`,
      ),
    );
  }
  out.push(
    verdict(
      'peak RSS under overload',
      f.overloadPeakRssMb,
      '< 300 MB',
      (v) => v < 300,
      (v) => `${v.toFixed(0)} MB`,
      '--overload',
    ),
  );
  return out;
}

/** One line per target: name, figure, target and the verdict (met / MISSED / -). */
export function formatTargets(verdicts: readonly TargetVerdict[]): string[] {
  const w = Math.max(...verdicts.map((v) => v.name.length));
  return verdicts.map((v) => {
    const mark = v.met === undefined ? '-     ' : v.met ? 'met   ' : 'MISSED';
    return `${mark} ${v.name.padEnd(w)}  ${v.figure}  [target ${v.target}]`;
  });
}
