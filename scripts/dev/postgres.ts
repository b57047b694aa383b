// PostgreSQL clusters for development and tests, run from the distribution's initdb/pg_ctl:
// the dev cluster scripts/services.sh keeps in its state dir, and the throw-away clusters
// fault tests stop and start under a running sink. Finding the binaries, running as the
// `postgres` OS user when we are root (initdb and postgres refuse root), initdb, start,
// readiness and stop exist here once. Nothing here installs a package unless asked.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { errorText, freePort, portIsFree, readTail } from './host.js';

const run = promisify(execFile);

interface Owner {
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
function findPostgresBin(): string | undefined {
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
const POSTGRES_BIN_PLACES = 'PG_BIN_DIR, /usr/lib/postgresql/*/bin or PATH';

/** The `postgres` OS user when we are root, else undefined (run as ourselves). */
function postgresOwner(): Owner | undefined {
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

function asOwner(owner: Owner | undefined): { uid?: number; gid?: number } {
  return owner ? { uid: owner.uid, gid: owner.gid } : {};
}

/** A directory the cluster's owner can write; `preferred` if it can, else a fresh one in /tmp. */
function ownedDir(preferred: string, owner: Owner | undefined): string {
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
  /** Lines appended to pg_hba.conf after initdb. */
  readonly hba?: readonly string[];
  /** initdb's output goes here (default: kept only in the error). */
  readonly initdbLog?: string;
}

/** Runs initdb (unless data/PG_VERSION exists) and returns the cluster, not started. */
async function initCluster(o: ClusterOptions): Promise<PgCluster> {
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
    if (o.hba && o.hba.length > 0)
      fs.appendFileSync(path.join(dataDir, 'pg_hba.conf'), o.hba.join('\n') + '\n');
  }
  return cluster(o.bin, o.owner, o.root, o.port);
}

function cluster(bin: string, owner: Owner | undefined, root: string, port: number): PgCluster {
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'postgres.log');
  const pgCtl = path.join(bin, 'pg_ctl');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
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
      await waitUntilReady(url, logFile, timeoutMs);
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
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---------------------------------------------------------------- throw-away clusters for tests

export interface PrivatePostgres {
  readonly url: string;
  readonly port: number;
  /** Stops the server ('fast': roll back and disconnect clients; 'immediate': crash-like). No-op if stopped. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts queries. No-op if running. */
  start(): Promise<void>;
  /** Stops (immediately) and removes the data directory. Safe to call twice. */
  destroy(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /** Extra postgresql.conf lines (after the defaults, so they win). */
  readonly conf?: readonly string[];
  /** Extra pg_hba.conf lines (appended: earlier lines match first). */
  readonly hba?: readonly string[];
}

const PRIVATE_READY_TIMEOUT_MS = 60_000;
/** Clusters not yet destroyed: stopped on process exit so an aborted test run leaves no postmaster behind. */
const live = new Set<{ bin: string; root: string; owner: Owner | undefined }>();
let exitHookInstalled = false;

/** A cluster of its own in a temp dir on a free loopback port, started. */
export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = findPostgresBin();
  if (bin === undefined) {
    throw new Error(
      `private PostgreSQL: expected initdb and pg_ctl in ${POSTGRES_BIN_PLACES}, found none; install Debian's postgresql package`,
    );
  }
  const owner = postgresOwner();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-private-pg-'));
  fs.chmodSync(root, 0o755);
  if (owner) fs.chownSync(root, owner.uid, owner.gid);
  const port = await freePort();
  let c: PgCluster;
  try {
    c = await initCluster({
      bin,
      owner,
      root,
      port,
      locale: 'C',
      // Durability is irrelevant for a cluster that lives for one test file; speed is not.
      conf: [
        '# test cluster (scripts/dev/postgres.ts)',
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 50',
        ...(options.conf ?? []),
      ],
      ...(options.hba ? { hba: options.hba } : {}),
    });
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new Error(`private PostgreSQL: ${errorText(e)}`, { cause: e });
  }
  const entry = { bin, root, owner };
  live.add(entry);
  installExitHook();
  let destroyed = false;

  const handle: PrivatePostgres = {
    url: c.url,
    port,
    async start() {
      if (destroyed) throw new Error(`private PostgreSQL on port ${port} was destroyed`);
      await c.start(PRIVATE_READY_TIMEOUT_MS);
    },
    stop: (mode = 'fast') => c.stop(mode),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        await c.stop('immediate');
      } finally {
        live.delete(entry);
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
  };
  try {
    await handle.start();
  } catch (e) {
    const tail = readTail(c.logFile, 20) ?? '(no server log)';
    await handle.destroy().catch(() => undefined);
    throw new Error(`private PostgreSQL did not start on 127.0.0.1:${port}: ${errorText(e)}\n${tail}`, {
      cause: e,
    });
  }
  return handle;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const { bin, root, owner } of live) {
      try {
        execFileSync(
          path.join(bin, 'pg_ctl'),
          ['-D', path.join(root, 'data'), '-m', 'immediate', '-w', 'stop'],
          {
            stdio: 'ignore',
            ...asOwner(owner),
          },
        );
        fs.rmSync(root, { recursive: true, force: true });
      } catch {
        // Best effort at exit: nothing left to report to.
      }
    }
  });
}

// ---------------------------------------------------------------- the dev cluster of services.sh

/** State of the dev cluster: <runDir>/postgres/{root,port,started-by-up,test-db,initdb.log}. */
export interface DevPostgres {
  readonly stateDir: string;
  readonly startTimeoutS: number;
  readonly stopTimeoutS: number;
  readonly say: (line: string) => void;
}

function readState(d: DevPostgres, name: string): string {
  try {
    return fs.readFileSync(path.join(d.stateDir, name), 'utf8').trim();
  } catch {
    return '';
  }
}

/** The private dev cluster's root and port when it runs and answers, else undefined. */
export function devPostgresRunning(d: DevPostgres): { root: string; port: number } | undefined {
  const root = readState(d, 'root');
  const port = Number(readState(d, 'port'));
  if (root === '' || !Number.isInteger(port) || port <= 0) return undefined;
  if (!fs.existsSync(path.join(root, 'data', 'postmaster.pid')) || !pgIsReady(port)) return undefined;
  return { root, port };
}

/** The first port from `from` on that nothing listens on or holds. */
async function freePortFrom(from: number): Promise<number> {
  for (let p = from; p < from + 1000; p++) if (await portIsFree(p)) return p;
  throw new Error(`no free port in ${from}..${from + 999}`);
}

/**
 * Starts the dev cluster unless it (or a server on externalPort) already answers. With
 * `install`, installs Debian's postgresql package when no binaries exist (root only).
 */
export async function ensureDevPostgres(
  d: DevPostgres,
  externalPort: number,
  install: boolean,
): Promise<void> {
  if (devPostgresRunning(d)) return;
  const external = `postgres: using the server already answering on 127.0.0.1:${externalPort} (not managed here)`;
  if (pgIsReady(externalPort)) return d.say(external);
  let bin = findPostgresBin();
  if (bin === undefined) {
    installPostgres(externalPort, install, d.say);
    bin = findPostgresBin();
    if (bin === undefined) throw new Error('PostgreSQL installed but no initdb/pg_ctl found');
    // The Debian package may have started its own cluster on the default port: use that.
    if (pgIsReady(externalPort)) return d.say(external);
  }
  const owner = postgresOwner();
  fs.mkdirSync(d.stateDir, { recursive: true });
  let root = readState(d, 'root');
  if (root === '') {
    root = ownedDir(path.join(d.stateDir, 'pg'), owner);
    fs.writeFileSync(path.join(d.stateDir, 'root'), root + '\n');
  }
  const fresh = !fs.existsSync(path.join(root, 'data', 'PG_VERSION'));
  if (fresh) {
    d.say(`postgres: initdb in ${root}/data`);
    fs.rmSync(path.join(d.stateDir, 'port'), { force: true });
  }
  let port = Number(readState(d, 'port'));
  if (!Number.isInteger(port) || port <= 0 || !(await portIsFree(port))) port = await freePortFrom(25432);
  const initdbLog = path.join(d.stateDir, 'initdb.log');
  const c = await initCluster({
    bin,
    owner,
    root,
    port,
    locale: 'C.UTF-8',
    conf: [
      '# scripts/services.sh (development/test cluster)',
      'max_connections = 200',
      'synchronous_commit = off',
    ],
    initdbLog,
  }).catch((e: unknown) => {
    throw new Error(`${errorText(e)} (log: ${initdbLog})`, { cause: e });
  });
  fs.writeFileSync(path.join(d.stateDir, 'port'), `${port}\n`);
  try {
    await c.start(d.startTimeoutS * 1000);
  } catch (e) {
    process.stderr.write((readTail(c.logFile, 20) ?? '') + '\n');
    throw new Error(`private PostgreSQL did not start on 127.0.0.1:${port} (log: ${c.logFile})`, {
      cause: e,
    });
  }
  fs.writeFileSync(path.join(d.stateDir, 'started-by-up'), 'up\n');
  if (!fs.existsSync(path.join(d.stateDir, 'test-db'))) {
    const client = new pg.Client({ connectionString: c.url });
    try {
      await client.connect();
      await client.query('CREATE DATABASE test');
    } catch {
      // It exists already (a state dir reused after test-db was removed): nothing to do.
    } finally {
      await client.end().catch(() => undefined);
    }
    fs.writeFileSync(path.join(d.stateDir, 'test-db'), '');
  }
  d.say(`postgres: private cluster ready on 127.0.0.1:${port}`);
}

function installPostgres(externalPort: number, install: boolean, say: (line: string) => void): void {
  if (!install) {
    throw new Error(
      `no PostgreSQL answers on 127.0.0.1:${externalPort} and none is installed (no initdb/pg_ctl in ${POSTGRES_BIN_PLACES}): ` +
        "start one, set PGPORT, or pass --install-postgres to install Debian's postgresql package",
    );
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      "no PostgreSQL binaries under /usr/lib/postgresql/*/bin and not root: install Debian's postgresql package",
    );
  }
  say("no PostgreSQL binaries found: installing Debian's postgresql package");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const opts = { stdio: ['ignore', 2, 2] as ('ignore' | number)[], env };
  if (
    spawnSync('apt-get', ['update', '-qq'], opts).status !== 0 ||
    spawnSync('apt-get', ['install', '-y', '-qq', 'postgresql'], opts).status !== 0
  ) {
    throw new Error('apt-get install postgresql failed');
  }
}

/** Stops the dev cluster if `up` started it. */
export async function stopDevPostgres(d: DevPostgres): Promise<void> {
  const marker = path.join(d.stateDir, 'started-by-up');
  if (!fs.existsSync(marker)) return;
  const root = readState(d, 'root');
  const bin = findPostgresBin();
  if (root !== '' && fs.existsSync(path.join(root, 'data', 'postmaster.pid')) && bin !== undefined) {
    d.say(`postgres: stopping the private cluster on port ${readState(d, 'port')}`);
    const c = cluster(bin, postgresOwner(), root, Number(readState(d, 'port')));
    await c.stop('fast', d.stopTimeoutS).catch(() => c.stop('immediate').catch(() => undefined));
  }
  fs.rmSync(marker, { force: true });
}

/** `down --clean`: removes the dev cluster's data unless it is still running or `up` owns it. */
export function removeDevPostgres(d: DevPostgres): void {
  if (fs.existsSync(path.join(d.stateDir, 'started-by-up')) || !fs.existsSync(d.stateDir)) return;
  if (devPostgresRunning(d)) return;
  const root = readState(d, 'root');
  if (root !== '') fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(d.stateDir, { recursive: true, force: true });
}
