// The dev cluster of scripts/services.sh: the PostgreSQL already answering on PGPORT is used
// and never stopped; otherwise a cluster of its own in <state>/postgres/ on the first free port
// from 25432, stopped by `down` only if `up` started it. Debian's package is installed only
// when asked (--install-postgres) and no binaries exist.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { errorText, portIsFree, readTail, readText } from './host.js';
import {
  POSTGRES_BIN_PLACES,
  cluster,
  findPostgresBin,
  initCluster,
  ownedDir,
  pgIsReady,
  postgresOwner,
} from './postgres.js';

/** State of the dev cluster: <runDir>/postgres/{root,port,started-by-up,test-db,initdb.log}. */
export interface DevPostgres {
  readonly stateDir: string;
  readonly startTimeoutS: number;
  readonly stopTimeoutS: number;
  readonly say: (line: string) => void;
}

function readState(d: DevPostgres, name: string): string {
  return readText(path.join(d.stateDir, name));
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
