// CPU seconds spent by each part of the machine during a bench phase, read from /proc: the
// bench process, the worker it spawned, the Kafka broker(s), PostgreSQL (backends plus the
// reaped ones, which the kernel adds to the postmaster's cutime/cstime) and everything else.
// On a 2-core machine that runs all three, E2E is bounded by 2 cores / (CPU per record), so
// these figures say which part's cost binds. Linux only; elsewhere cores busy is NaN and
// every per-record figure 0. On a machine shared with other work (other test runs on the same
// PostgreSQL, private clusters, 3-node Kafka clusters), `postgresPids` narrows PostgreSQL to
// this run's backends and the server's background processes and `brokerPorts` the brokers to
// those listening on the run's ports; every other such process then counts as other. Both
// are counted per process, so one that exits mid-phase cannot make a figure negative.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type pg from 'pg';

export type CpuGroup = 'bench' | 'worker' | 'broker' | 'postgres' | 'other';

export interface CpuSnapshot {
  readonly at: number;
  /** Busy CPU seconds of the whole machine, all cores (from /proc/stat). */
  readonly busy: number;
  readonly groups: Record<Exclude<CpuGroup, 'other'>, number>;
  /** Kernel-mode share of the node processes (bench + worker): loopback sends land here. */
  readonly nodeSys: number;
  /** CPU seconds per broker and PostgreSQL process of the run. */
  readonly byPid: ReadonlyMap<number, { readonly group: 'broker' | 'postgres'; readonly seconds: number }>;
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

/**
 * The PostgreSQL processes that serve this run: client backends whose application_name starts
 * with `appPrefix`, and the server's own background processes (WAL writer, checkpointer,
 * autovacuum), which work for whoever writes.
 */
export async function postgresPids(db: pg.Pool, appPrefix: string): Promise<Set<number>> {
  const r = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE backend_type <> 'client backend' OR starts_with(application_name, $1)`,
    [appPrefix],
  );
  return new Set(r.rows.map((x) => x.pid));
}

/** Inodes of the TCP sockets listening on `ports` (this network namespace). */
function listeningInodes(ports: ReadonlySet<number>): Set<string> {
  const out = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      // local_address is c[1] (hex ip:port), st is c[3] (0A = LISTEN), inode is c[9].
      if (c.length < 10 || c[3] !== '0A') continue;
      if (ports.has(parseInt(c[1]!.split(':')[1] ?? '', 16))) out.add(c[9]!);
    }
  }
  return out;
}

/** Whether the process holds one of these sockets; true when its fds cannot be read (not ours to judge). */
function holdsSocket(pid: number, inodes: ReadonlySet<string>): boolean {
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link.startsWith('socket:[') && inodes.has(link.slice(8, -1))) return true;
    }
    return false;
  } catch {
    return true;
  }
}

export interface CpuScope {
  /** PostgreSQL processes to count (see postgresPids); all of them (and reaped ones) when absent. */
  readonly postgresPids?: ReadonlySet<number> | undefined;
  /** Count only brokers listening on these ports; all brokers when absent. */
  readonly brokerPorts?: readonly number[] | undefined;
}

export function cpuSnapshot(workerPid?: number, scope: CpuScope = {}): CpuSnapshot {
  const groups = { bench: 0, worker: 0, broker: 0, postgres: 0 };
  const byPid = new Map<number, { group: 'broker' | 'postgres'; seconds: number }>();
  const pgPids = scope.postgresPids;
  const brokerInodes =
    scope.brokerPorts === undefined ? undefined : listeningInodes(new Set(scope.brokerPorts));
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
    if (g === 'postgres' && pgPids !== undefined && !pgPids.has(pid)) continue;
    if (g === 'broker' && brokerInodes !== undefined && !holdsSocket(pid, brokerInodes)) continue;
    // Unnarrowed, PostgreSQL's exited backends count too (the postmaster reaps them).
    const t = processSeconds(pid, g === 'postgres' && pgPids === undefined);
    if (g === 'broker' || g === 'postgres') byPid.set(pid, { group: g, seconds: t.user + t.sys });
    groups[g] += t.user + t.sys;
    if (g === 'bench' || g === 'worker') nodeSys += t.sys;
  }
  return { at: Date.now(), busy: machineBusySeconds(), groups, nodeSys, byPid };
}

/**
 * A group's CPU seconds between two snapshots, per process: one born in between counts from
 * 0, one gone by the end is left out (its last seconds are lost, never subtracted).
 */
function groupSeconds(from: CpuSnapshot, to: CpuSnapshot, group: 'broker' | 'postgres'): number {
  let s = 0;
  for (const [pid, t] of to.byPid) {
    if (t.group !== group) continue;
    const before = from.byPid.get(pid);
    s += t.seconds - (before?.group === group ? before.seconds : 0);
  }
  return s;
}

export function cpuReport(from: CpuSnapshot, to: CpuSnapshot, records: number): CpuReport {
  const us = (s: number): number => Number(((s * 1e6) / records).toFixed(2));
  const d = {
    bench: to.groups.bench - from.groups.bench,
    worker: to.groups.worker - from.groups.worker,
    broker: groupSeconds(from, to, 'broker'),
    postgres: groupSeconds(from, to, 'postgres'),
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

/**
 * CPU microseconds one record cost the pipeline in a phase: node (bench + worker), the broker
 * and PostgreSQL. The machine's other processes are reported beside it, never in it.
 */
export function pipelineUsPerRecord(r: CpuReport): number {
  const u = r.usPerRecord;
  return u.bench + u.worker + u.broker + u.postgres;
}

/**
 * The most E2E can reach on `cores` if a record costs it what it cost L_db plus what it cost
 * L_kafka: the worker must consume and decode (L_kafka's work) and write (L_db's) on the same
 * cores, so on a machine that also runs the broker and the database this bound, not
 * min(L_db, L_kafka), is the machine's limit. NaN without CPU figures (not Linux).
 */
export function cpuBound(db: CpuReport, kafka: CpuReport, cores: number): number {
  const us = pipelineUsPerRecord(db) + pipelineUsPerRecord(kafka);
  return us > 0 ? (cores * 1e6) / us : NaN;
}

export function formatCpu(r: CpuReport): string {
  const u = r.usPerRecord;
  return (
    `${r.coresBusy.toFixed(2)} cores busy; CPU µs/record: ` +
    `node ${(u.bench + u.worker).toFixed(1)} (sys ${r.nodeSysUsPerRecord.toFixed(1)}) + broker ${u.broker.toFixed(1)} + ` +
    `postgres ${u.postgres.toFixed(1)} = pipeline ${pipelineUsPerRecord(r).toFixed(1)}; other processes ${u.other.toFixed(1)}`
  );
}
