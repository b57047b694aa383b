// CPU seconds spent by each part of the machine during a bench phase, read from /proc: the
// bench process, the worker it spawned, the Kafka broker(s), PostgreSQL (backends plus the
// reaped ones, which the kernel adds to the postmaster's cutime/cstime) and everything else.
// On a 2-core machine that runs all three, E2E is bounded by 2 cores / (CPU per record), so
// these figures say which part's cost binds. Linux only; elsewhere cores busy is NaN and
// every per-record figure 0.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export type CpuGroup = 'bench' | 'worker' | 'broker' | 'postgres' | 'other';

export interface CpuSnapshot {
  readonly at: number;
  /** Busy CPU seconds of the whole machine, all cores (from /proc/stat). */
  readonly busy: number;
  readonly groups: Record<Exclude<CpuGroup, 'other'>, number>;
  /** Kernel-mode share of the node processes (bench + worker): loopback sends land here. */
  readonly nodeSys: number;
}

export interface CpuReport {
  readonly seconds: number;
  /** Average cores busy over the phase (2 = both cores of this machine). */
  readonly coresBusy: number;
  /** CPU microseconds per record, per group. */
  readonly usPerRecord: Record<CpuGroup, number>;
  readonly nodeSysUsPerRecord: number;
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** User and system seconds (with reaped children's when `children`) of one process; 0 if gone. */
function processSeconds(pid: number, children: boolean): { user: number; sys: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(f[11]) + (children ? Number(f[13]) : 0);
    const sys = Number(f[12]) + (children ? Number(f[14]) : 0);
    return { user: user / clockTicks(), sys: sys / clockTicks() };
  } catch {
    return { user: 0, sys: 0 };
  }
}

function machineBusySeconds(): number {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is inside user already
    const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
    return (total - idle) / clockTicks();
  } catch {
    return NaN;
  }
}

function classify(pid: number): 'broker' | 'postgres' | undefined {
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm === 'postgres') return 'postgres';
    if (comm !== 'java') return undefined;
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('kafka.Kafka') ? 'broker' : undefined;
  } catch {
    return undefined;
  }
}

export function cpuSnapshot(workerPid?: number): CpuSnapshot {
  const groups = { bench: 0, worker: 0, broker: 0, postgres: 0 };
  let nodeSys = 0;
  let pids: number[] = [];
  try {
    pids = fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    /* not Linux */
  }
  for (const pid of pids) {
    const g = pid === process.pid ? 'bench' : pid === workerPid ? 'worker' : classify(pid);
    if (g === undefined) continue;
    // Only PostgreSQL reaps children we care about (its exited backends).
    const t = processSeconds(pid, g === 'postgres');
    groups[g] += t.user + t.sys;
    if (g === 'bench' || g === 'worker') nodeSys += t.sys;
  }
  return { at: Date.now(), busy: machineBusySeconds(), groups, nodeSys };
}

export function cpuReport(from: CpuSnapshot, to: CpuSnapshot, records: number): CpuReport {
  const us = (s: number): number => Number(((s * 1e6) / records).toFixed(2));
  const d = {
    bench: to.groups.bench - from.groups.bench,
    worker: to.groups.worker - from.groups.worker,
    broker: to.groups.broker - from.groups.broker,
    postgres: to.groups.postgres - from.groups.postgres,
  };
  const busy = to.busy - from.busy;
  const other = Math.max(0, busy - d.bench - d.worker - d.broker - d.postgres);
  const seconds = (to.at - from.at) / 1000;
  return {
    seconds,
    coresBusy: Number((busy / seconds).toFixed(2)),
    usPerRecord: {
      bench: us(d.bench),
      worker: us(d.worker),
      broker: us(d.broker),
      postgres: us(d.postgres),
      other: us(other),
    },
    nodeSysUsPerRecord: us(to.nodeSys - from.nodeSys),
  };
}

/** All CPU microseconds one record cost in a phase, every part of the machine together. */
export function totalUsPerRecord(r: CpuReport): number {
  const u = r.usPerRecord;
  return u.bench + u.worker + u.broker + u.postgres + u.other;
}

/**
 * The most E2E can reach on `cores` if a record costs it what it cost L_db plus what it cost
 * L_kafka: the worker must consume and decode (L_kafka's work) and write (L_db's) on the same
 * cores, so on a machine that also runs the broker and the database this bound, not
 * min(L_db, L_kafka), is the machine's limit. NaN without CPU figures (not Linux).
 */
export function cpuBound(db: CpuReport, kafka: CpuReport, cores: number): number {
  const us = totalUsPerRecord(db) + totalUsPerRecord(kafka);
  return us > 0 ? (cores * 1e6) / us : NaN;
}

export function formatCpu(r: CpuReport): string {
  const u = r.usPerRecord;
  const total = totalUsPerRecord(r);
  return (
    `${r.coresBusy.toFixed(2)} cores busy; CPU µs/record: ` +
    `node ${(u.bench + u.worker).toFixed(1)} (sys ${r.nodeSysUsPerRecord.toFixed(1)}), broker ${u.broker.toFixed(1)}, ` +
    `postgres ${u.postgres.toFixed(1)}, other ${u.other.toFixed(1)} = ${total.toFixed(1)}`
  );
}
