// reset-offsets' write to sink_offsets: one transaction that locks the partitions' rows,
// checks they still hold what the plan read (compare-and-set) and writes the new values,
// bounded by lock_timeout and statement_timeout. A member's batch transaction holds the same
// rows FOR UPDATE (src/sink/offset-store.ts, also ordered by partition), so without the
// bounds the command would wait on a stuck member for ever; without the comparison a batch
// committed since planning would be overwritten with a plan made from older offsets.
import type pg from 'pg';
import { DatabaseError, SinkError } from '../core/errors.js';
import { quoteIdent } from '../core/sql-identifier.js';

/** How long the write waits for a row lock held by another transaction (a member's batch). */
const RESET_LOCK_TIMEOUT_MS = 5_000;
/** How long any one statement of the write may take. */
const RESET_STATEMENT_TIMEOUT_MS = 30_000;

export interface OffsetWrite {
  readonly partition: number;
  /** next_offset as planned from; null when the plan found no row. */
  readonly expected: number | null;
  readonly next: number;
}

export interface OffsetTarget {
  readonly schema: string;
  readonly groupId: string;
  readonly topic: string;
}

const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';

/** Writes `writes` if every row still holds `expected`; else throws and writes nothing. */
export async function compareAndSetOffsets(
  db: pg.Pool,
  at: OffsetTarget,
  writes: readonly OffsetWrite[],
): Promise<void> {
  const table = `${quoteIdent(at.schema)}.sink_offsets`;
  const partitions = writes.map((w) => w.partition);
  const c = await db.connect();
  let failed = true;
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL lock_timeout = ${RESET_LOCK_TIMEOUT_MS}`);
    await c.query(`SET LOCAL statement_timeout = ${RESET_STATEMENT_TIMEOUT_MS}`);
    const locked = await c.query<{ partition: number; next_offset: string }>(
      `SELECT partition, next_offset::text AS next_offset FROM ${table}
        WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])
        ORDER BY partition FOR UPDATE`,
      [at.groupId, at.topic, partitions],
    );
    const now = new Map(locked.rows.map((r) => [r.partition, Number(r.next_offset)]));
    const changed = writes.filter((w) => (now.get(w.partition) ?? null) !== w.expected);
    if (changed.length > 0) throw changedError(changed.map((w) => [w, now.get(w.partition) ?? null]));

    const present = writes.filter((w) => now.has(w.partition));
    const absent = writes.filter((w) => !now.has(w.partition));
    if (present.length > 0)
      await c.query(
        `UPDATE ${table} AS o SET next_offset = u.n, updated_at = now()
           FROM unnest($3::int[], $4::bigint[]) AS u(p, n)
          WHERE o.group_id = $1 AND o.topic = $2 AND o.partition = u.p`,
        [at.groupId, at.topic, present.map((w) => w.partition), present.map((w) => String(w.next))],
      );
    if (absent.length > 0) {
      // A row that appeared since the SELECT was written by someone else: the same abort.
      const ins = await c.query(
        `INSERT INTO ${table} (group_id, topic, partition, next_offset, updated_at)
         SELECT $1, $2, u.p, u.n, now() FROM unnest($3::int[], $4::bigint[]) AS u(p, n)
         ON CONFLICT (group_id, topic, partition) DO NOTHING`,
        [at.groupId, at.topic, absent.map((w) => w.partition), absent.map((w) => String(w.next))],
      );
      if (ins.rowCount !== absent.length) throw changedError(absent.map((w) => [w, 'a row']));
    }
    await c.query('COMMIT');
    failed = false;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw await explain(db, at, partitions, e);
  } finally {
    c.release(failed);
  }
}

function changedError(diffs: readonly (readonly [OffsetWrite, number | string | null])[]): SinkError {
  const what = diffs
    .map(
      ([w, now]) =>
        `partition ${w.partition}: planned from ${w.expected ?? 'no row'}, now ${now ?? 'no row'}`,
    )
    .join('; ');
  return new SinkError(
    'SINK_OFFSETS_CHANGED',
    `sink_offsets changed since planning (${what}): a member ran meanwhile; nothing was written. ` +
      'Stop every member and run the same command again',
  );
}

/** The lock timeout names who holds the rows: the transaction that last locked them (xmax). */
async function explain(
  db: pg.Pool,
  at: OffsetTarget,
  partitions: readonly number[],
  e: unknown,
): Promise<unknown> {
  const sqlState = (e as { code?: unknown }).code;
  if (sqlState === QUERY_CANCELED)
    return new DatabaseError(
      'SINK_OFFSETS_TIMED_OUT',
      `writing sink_offsets took longer than ${RESET_STATEMENT_TIMEOUT_MS} ms (statement_timeout); nothing was written`,
      true,
      QUERY_CANCELED,
      e,
    );
  if (sqlState !== LOCK_NOT_AVAILABLE) return e;
  const holders = await db
    .query<{ pid: number; application_name: string; state: string | null }>(
      `SELECT DISTINCT a.pid, a.application_name, a.state
         FROM ${quoteIdent(at.schema)}.sink_offsets o
         JOIN pg_locks l ON l.locktype = 'transactionid' AND l.transactionid = o.xmax AND l.granted
         JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE o.group_id = $1 AND o.topic = $2 AND o.partition = ANY($3::int[])
        ORDER BY a.pid`,
      [at.groupId, at.topic, [...partitions]],
    )
    .then((r) => r.rows)
    .catch(() => []);
  const who =
    holders.length > 0
      ? holders
          .map(
            (h) =>
              `pid ${h.pid} (application_name ${JSON.stringify(h.application_name)}, ${h.state ?? 'unknown'})`,
          )
          .join(', ')
      : 'a transaction that has ended since';
  return new DatabaseError(
    'SINK_OFFSETS_LOCKED',
    `sink_offsets rows of group ${at.groupId}, topic ${at.topic} stayed locked for ${RESET_LOCK_TIMEOUT_MS} ms ` +
      `(lock_timeout) by ${who}; nothing was written. A running member holds them while it writes a batch: ` +
      'stop every member (or end that session) and run the same command again',
    true,
    LOCK_NOT_AVAILABLE,
    e,
  );
}

/** Partitions whose next_offset is not `next`: "partition 1: 7, reset to 0". */
export async function offsetsDiffering(
  db: pg.Pool,
  at: OffsetTarget,
  writes: readonly Pick<OffsetWrite, 'partition' | 'next'>[],
): Promise<string[]> {
  const r = await db.query<{ partition: number; next_offset: string }>(
    `SELECT partition, next_offset::text AS next_offset FROM ${quoteIdent(at.schema)}.sink_offsets
      WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])`,
    [at.groupId, at.topic, writes.map((w) => w.partition)],
  );
  const now = new Map(r.rows.map((x) => [x.partition, Number(x.next_offset)]));
  return writes
    .filter((w) => now.get(w.partition) !== w.next)
    .map((w) => `partition ${w.partition}: ${now.get(w.partition) ?? 'no row'}, reset to ${w.next}`);
}
