// A throw-away PostgreSQL cluster for fault tests (stop it under a running sink, start it again)
// without touching the shared server: initdb + pg_ctl in a temp dir on a free loopback port.
// The cluster code is scripts/dev/postgres.ts, which scripts/services.sh uses too.
import { startPrivatePostgres, type PrivatePostgres } from '../../scripts/dev/private-postgres.js';

export {
  startPrivatePostgres,
  type PrivatePostgres,
  type PrivatePostgresOptions,
} from '../../scripts/dev/private-postgres.js';

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
