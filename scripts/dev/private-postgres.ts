// Throw-away PostgreSQL clusters for fault tests (stop one under a running sink, start it
// again) without touching the shared server: a temp dir, a free loopback port, fsync off.
// Every cluster not yet destroyed is stopped when the process exits.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorText, freePort, readTail } from './host.js';
import {
  POSTGRES_BIN_PLACES,
  asOwner,
  findPostgresBin,
  initCluster,
  postgresOwner,
  type Owner,
  type PgCluster,
} from './postgres.js';

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

export interface PrivatePostgresOptions {
  /** Extra postgresql.conf lines (after the defaults, so they win). */
  readonly conf?: readonly string[];
  /** pg_hba.conf lines replacing initdb's (which trust every local and loopback connection); keep `local all all trust`. */
  readonly hba?: readonly string[];
  /** Files copied into the data directory (name → source), owned by the server's user, mode 0600: keys and certificates. */
  readonly files?: Readonly<Record<string, string>>;
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
      ...(options.files ? { files: options.files } : {}),
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
    socketDir: root,
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
