// A PostgreSQL cluster run from the distribution's initdb/pg_ctl, for development and tests:
// finding the binaries, running as the `postgres` OS user when we are root (initdb and
// postgres refuse root), initdb, start, readiness and stop exist here once. Used by the dev
// cluster of scripts/services.sh (dev-postgres.ts) and the test clusters (private-postgres.ts).
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { errorText, sleep } from './host.js';

const run = promisify(execFile);

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** An initdb'd data directory and how to drive its postmaster. */
export interface PgCluster {
  readonly dataDir: string;
  readonly logFile: string;
  readonly port: number;
  readonly url: string;
  isRunning(): boolean;
  /** Starts on `port`; resolves once it answers a query. No-op start when running. */
  start(timeoutMs: number): Promise<void>;
  /** 'fast' rolls back and disconnects clients; 'immediate' is crash-like. No-op when stopped. */
  stop(mode: 'fast' | 'immediate', timeoutS?: number): Promise<void>;
}

/** The newest /usr/lib/postgresql/<major>/bin with initdb and pg_ctl, PG_BIN_DIR if set, or pg_ctl's dir on PATH. */
export function findPostgresBin(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PG_BIN_DIR) candidates.push(process.env.PG_BIN_DIR);
  const root = '/usr/lib/postgresql';
  if (fs.existsSync(root)) {
    const majors = fs
      .readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
    candidates.push(...majors.map((v) => path.join(root, v, 'bin')));
  }
  const onPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  if (onPath !== '') candidates.push(path.dirname(onPath));
  return candidates.find(
    (d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')),
  );
}

/** Where PostgreSQL binaries were looked for, for error messages. */
export const POSTGRES_BIN_PLACES = 'PG_BIN_DIR, /usr/lib/postgresql/*/bin or PATH';

/** The `postgres` OS user when we are root, else undefined (run as ourselves). */
export function postgresOwner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const fields = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
    ?.split(':');
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error('running as root needs a `postgres` OS user (initdb refuses root), found none');
  }
  return { uid, gid };
}

export function asOwner(owner: Owner | undefined): { uid?: number; gid?: number } {
  return owner ? { uid: owner.uid, gid: owner.gid } : {};
}

/** A directory the cluster's owner can write; `preferred` if it can, else a fresh one in /tmp. */
export function ownedDir(preferred: string, owner: Owner | undefined): string {
  fs.mkdirSync(preferred, { recursive: true });
  if (owner) fs.chownSync(preferred, owner.uid, owner.gid);
  // The postgres user must reach the directory: one under /root would not do.
  if (spawnSync('test', ['-w', preferred], asOwner(owner)).status === 0) return preferred;
  fs.rmSync(preferred, { recursive: true, force: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-postgres.'));
  fs.chmodSync(dir, 0o755);
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** pg_isready semantics: something on 127.0.0.1:port accepts PostgreSQL connections. */
export function pgIsReady(port: number): boolean {
  const bin = findPostgresBin();
  const exe =
    bin && fs.existsSync(path.join(bin, 'pg_isready')) ? path.join(bin, 'pg_isready') : 'pg_isready';
  const r = spawnSync(exe, ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '3'], { stdio: 'ignore' });
  return r.status === 0;
}

export interface ClusterOptions {
  readonly bin: string;
  readonly owner: Owner | undefined;
  /** Holds data/, the server log and the unix socket. */
  readonly root: string;
  readonly port: number;
  readonly locale: string;
  /** Lines appended to postgresql.conf after initdb. */
  readonly conf: readonly string[];
  /**
   * pg_hba.conf lines replacing initdb's (which trust every local and loopback connection);
   * keep `local all all trust`: readiness is then checked over the Unix socket.
   */
  readonly hba?: readonly string[];
  /** Files copied into the data directory (name → source), owned by the server's user, mode 0600: keys and certificates. */
  readonly files?: Readonly<Record<string, string>>;
  /** initdb's output goes here (default: kept only in the error). */
  readonly initdbLog?: string;
}

/** Runs initdb (unless data/PG_VERSION exists) and returns the cluster, not started. */
export async function initCluster(o: ClusterOptions): Promise<PgCluster> {
  const dataDir = path.join(o.root, 'data');
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    try {
      const r = await run(
        path.join(o.bin, 'initdb'),
        ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', `--locale=${o.locale}`, '--no-sync'],
        { ...asOwner(o.owner), cwd: o.root },
      );
      if (o.initdbLog) fs.writeFileSync(o.initdbLog, r.stdout + r.stderr);
    } catch (e) {
      if (o.initdbLog) fs.writeFileSync(o.initdbLog, errorText(e));
      throw new Error(`initdb in ${dataDir} failed: ${errorText(e)}`, { cause: e });
    }
    const conf = ["listen_addresses = '127.0.0.1'", `unix_socket_directories = '${o.root}'`, ...o.conf];
    fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), conf.join('\n') + '\n');
    if (o.hba !== undefined) fs.writeFileSync(path.join(dataDir, 'pg_hba.conf'), [...o.hba, ''].join('\n'));
    for (const [name, source] of Object.entries(o.files ?? {})) {
      const target = path.join(dataDir, name);
      fs.copyFileSync(source, target);
      fs.chmodSync(target, 0o600);
      if (o.owner) fs.chownSync(target, o.owner.uid, o.owner.gid);
    }
  }
  return cluster(o.bin, o.owner, o.root, o.port, o.hba !== undefined);
}

/** `overSocket`: readiness is checked over the Unix socket (custom pg_hba rules may refuse plain TCP). */
export function cluster(
  bin: string,
  owner: Owner | undefined,
  root: string,
  port: number,
  overSocket = false,
): PgCluster {
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'postgres.log');
  const pgCtl = path.join(bin, 'pg_ctl');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const readyUrl = overSocket ? `postgres://postgres@/postgres?host=${root}&port=${port}` : url;
  const isRunning = () => fs.existsSync(path.join(dataDir, 'postmaster.pid'));
  const opts = { ...asOwner(owner), cwd: root };
  return {
    dataDir,
    logFile,
    port,
    url,
    isRunning,
    async start(timeoutMs) {
      if (!isRunning()) {
        // -W: pg_ctl does not wait; readiness is a real query below.
        await run(pgCtl, ['-D', dataDir, '-l', logFile, '-o', `-p ${port}`, '-W', 'start'], opts);
      }
      await waitUntilReady(readyUrl, logFile, timeoutMs);
    },
    async stop(mode, timeoutS = 60) {
      if (!isRunning()) return;
      try {
        await run(pgCtl, ['-D', dataDir, '-m', mode, '-w', '-t', String(timeoutS), 'stop'], opts);
      } catch (e) {
        // A postmaster that died on its own leaves a stale pid file: pg_ctl then says it is not running.
        const status = spawnSync(pgCtl, ['-D', dataDir, 'status'], { ...opts, stdio: 'ignore' });
        if (isRunning() && status.status === 0) throw e;
      }
    },
  };
}

async function waitUntilReady(url: string, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (e) {
      last = e;
    } finally {
      await client.end().catch(() => undefined);
    }
    if (Date.now() >= deadline) {
      throw new Error(`not ready after ${timeoutMs} ms (last error: ${errorText(last)}); log ${logFile}`);
    }
    await sleep(100);
  }
}
