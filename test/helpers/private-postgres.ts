// A throw-away PostgreSQL cluster for fault tests (stop it under a running sink, start it again)
// without touching the shared server: initdb + pg_ctl in a temp dir on a free loopback port.
// initdb and postgres refuse to run as root, so when we are root they run as the `postgres` OS user.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const READY_TIMEOUT_MS = 60_000;

export interface PrivatePostgres {
  readonly url: string;
  readonly port: number;
  /** Directory of its Unix socket (.s.PGSQL.<port>). */
  readonly socketDir: string;
  /** Stops the server ('fast': roll back and disconnect clients; 'immediate': crash-like). No-op if stopped. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts queries. No-op if running. */
  start(): Promise<void>;
  /** Stops (immediately) and removes the data directory. Safe to call twice. */
  destroy(): Promise<void>;
}

/** Clusters not yet destroyed: killed on process exit so an aborted test run leaves no postmaster behind. */
const live = new Set<{ pgCtl: string; dataDir: string; owner: Owner | undefined }>();
let exitHookInstalled = false;

interface Owner {
  uid: number;
  gid: number;
}

export interface PrivatePostgresOptions {
  /** Extra postgresql.conf lines (e.g. ssl = on). */
  readonly conf?: readonly string[];
  /** pg_hba.conf lines replacing initdb's (which trust every local and loopback connection); keep `local all all trust`. */
  readonly hba?: readonly string[];
  /** Files copied into the data directory (name → source), owned by the server's user, mode 0600: keys and certificates. */
  readonly files?: Readonly<Record<string, string>>;
}

export async function startPrivatePostgres(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = findPostgresBin();
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-private-pg-'));
  const dataDir = path.join(base, 'data');
  const logFile = path.join(base, 'postgres.log');
  fs.chmodSync(base, 0o755);
  if (owner) fs.chownSync(base, owner.uid, owner.gid);
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const pgCtl = path.join(bin, 'pg_ctl');

  try {
    await run(
      path.join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      {
        ...asOwner,
        cwd: base,
      },
    );
  } catch (e) {
    fs.rmSync(base, { recursive: true, force: true });
    throw new Error(`private PostgreSQL: initdb in ${dataDir} failed: ${errorText(e)}`, { cause: e });
  }
  const port = await freePort();
  // Durability is irrelevant for a cluster that lives for one test file; speed is not.
  fs.appendFileSync(
    path.join(dataDir, 'postgresql.conf'),
    [
      '# test/helpers/private-postgres.ts',
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${base}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 50',
      ...(opts.conf ?? []),
      '',
    ].join('\n'),
  );
  if (opts.hba !== undefined)
    fs.writeFileSync(path.join(dataDir, 'pg_hba.conf'), [...opts.hba, ''].join('\n'));
  for (const [name, source] of Object.entries(opts.files ?? {})) {
    const target = path.join(dataDir, name);
    fs.copyFileSync(source, target);
    fs.chmodSync(target, 0o600);
    if (owner) fs.chownSync(target, owner.uid, owner.gid);
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // Custom pg_hba rules may refuse plain TCP (hostssl only): readiness is then checked over
  // the Unix socket, which the rules must keep (`local all all trust`).
  const readyUrl = opts.hba === undefined ? url : `postgres://postgres@/postgres?host=${base}&port=${port}`;
  const entry = { pgCtl, dataDir, owner };
  live.add(entry);
  installExitHook();

  const isRunning = () => fs.existsSync(path.join(dataDir, 'postmaster.pid'));
  let destroyed = false;

  const handle: PrivatePostgres = {
    url,
    port,
    socketDir: base,
    async start() {
      if (destroyed) throw new Error(`private PostgreSQL on port ${port} was destroyed`);
      if (!isRunning()) {
        // -W: do not let pg_ctl wait; readiness is checked below with a real query.
        await run(pgCtl, ['-D', dataDir, '-l', logFile, '-W', 'start'], { ...asOwner, cwd: base });
      }
      await waitUntilReady(readyUrl, logFile, READY_TIMEOUT_MS);
    },
    async stop(mode = 'fast') {
      if (!isRunning()) return;
      try {
        await run(pgCtl, ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop'], { ...asOwner, cwd: base });
      } catch (e) {
        // A postmaster that died on its own leaves a stale pid file: pg_ctl then reports it is not running.
        if (isRunning() && (await pgCtlStatus(pgCtl, dataDir, asOwner))) throw e;
      }
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        await handle.stop('immediate');
      } finally {
        live.delete(entry);
        fs.rmSync(base, { recursive: true, force: true });
      }
    },
  };

  try {
    await handle.start();
  } catch (e) {
    const tail = readTail(logFile);
    await handle.destroy().catch(() => undefined);
    throw new Error(`private PostgreSQL did not start on 127.0.0.1:${port}: ${errorText(e)}\n${tail}`, {
      cause: e,
    });
  }
  return handle;
}

/** The newest /usr/lib/postgresql/<major>/bin with initdb and pg_ctl, or PG_BIN_DIR if set. */
function findPostgresBin(): string {
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
  const found = candidates.find(
    (d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')),
  );
  if (!found) {
    throw new Error(
      `private PostgreSQL: expected initdb and pg_ctl in PG_BIN_DIR or /usr/lib/postgresql/*/bin, found none ` +
        `(looked in: ${candidates.join(', ') || 'nothing'}); install Debian's postgresql package`,
    );
  }
  return found;
}

function postgresUser(): Owner {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':');
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(
      'private PostgreSQL: running as root needs a `postgres` OS user (initdb refuses root), found none',
    );
  }
  return { uid, gid };
}

/** A port the kernel just handed out on 127.0.0.1; PostgreSQL binds it right after. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
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

async function pgCtlStatus(pgCtl: string, dataDir: string, asOwner: Partial<Owner>): Promise<boolean> {
  try {
    await run(pgCtl, ['-D', dataDir, 'status'], asOwner);
    return true;
  } catch {
    return false;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const { pgCtl, dataDir, owner } of live) {
      try {
        execFileSync(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], {
          stdio: 'ignore',
          ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
        });
        fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
      } catch {
        // Best effort at exit: nothing left to report to.
      }
    }
  });
}

function readTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no server log)';
  }
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const stderr = (e as { stderr?: unknown }).stderr;
    return typeof stderr === 'string' && stderr.trim() !== ''
      ? `${e.message.split('\n')[0]}: ${stderr.trim()}`
      : e.message;
  }
  return String(e);
}

/**
 * A private cluster for one test, and a list of closers that run (last first) before the
 * cluster is destroyed: node:test runs after-hooks in registration order, and clients must
 * close before their server goes.
 */
export async function privatePostgresForTest(t: {
  after(fn: () => Promise<void>): void;
}): Promise<{ pg: PrivatePostgres; closers: (() => Promise<unknown>)[] }> {
  const pg = await startPrivatePostgres();
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await pg.destroy();
  });
  return { pg, closers };
}
