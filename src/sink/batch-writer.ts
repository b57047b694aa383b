// Applies one worker batch in ONE transaction: lock the partitions' sink_offsets rows, drop
// records already applied, COPY each table's rows (staging + upsert, or straight COPY),
// dead-letter rejected records, advance the offsets, commit. A failure the classifier calls
// record-bound (SQLSTATE 22/23) makes us redo the batch at once with SAVEPOINT bisection, so
// only the poison rows leave: k bad rows in n cost O(k log n) round trips, not n. An
// undecided one (a trigger's P0001, a row too large, a missing table) is isolated only when
// the worker says the attempt may decide; three single-record probes first tell whether
// the records' neighbours apply, so the environment is recognised without bisecting.
import { toDeadLetter, type DeadLetter, type DeadLetterSink } from '../core/dead-letter.js';
import { tpKey, type SinkRecord } from '../core/sink-record.js';
import type { SinkConnection } from './sink-connection.js';
import type { OffsetStore } from './offset-store.js';
import type { PartitionOffset } from '../core/sink-record.js';
import type { TableSql } from './table-sql.js';
import { encodeCopyRows } from './copy-text.js';
import { toError } from '../core/errors.js';
import { classifyError, type Classified } from '../resilience/classify-error.js';
import { inOffsetOrder, latestPerKey, probePositions, probesSayEnvironment } from './record-isolation.js';

export interface BatchResult {
  /** Rows sent to each table (after in-batch dedup). */
  readonly rowsByTable: Map<string, number>;
  readonly deadLetters: readonly DeadLetter[];
  /** Records below the stored next_offset: already applied earlier or by another member. */
  readonly skipped: number;
  /** Superseded by a later record of the same key in this batch. */
  readonly collapsed: number;
  readonly offsets: readonly PartitionOffset[];
}

export interface BatchWriterDeps {
  readonly tables: ReadonlyMap<string, TableSql>;
  readonly offsets: OffsetStore;
  readonly dlq: DeadLetterSink;
  readonly workerId: string;
  readonly now: () => number;
  /** Awaited before COMMIT (drop_oldest: dropped records must be in the DLQ first). */
  readonly beforeCommit?: () => Promise<void>;
}

interface Poison {
  readonly record: SinkRecord;
  readonly error: Error;
}

export class BatchWriter {
  constructor(private readonly deps: BatchWriterDeps) {}

  /**
   * `decide`: this attempt may isolate undecided failures and call the environment; before
   * that they are thrown for a plain retry. Whatever isolation cannot pin on records is
   * thrown: the caller then knows it is not bound to records.
   */
  async write(
    conn: SinkConnection,
    batch: readonly SinkRecord[],
    attempts: number,
    decide = false,
  ): Promise<BatchResult> {
    // Highest offset seen per partition: the partition's next offset after this batch.
    const maxOffset = new Map<string, { topic: string; partition: number; max: number }>();
    for (const r of batch) {
      const k = tpKey(r.topic, r.partition);
      const cur = maxOffset.get(k);
      if (cur === undefined) maxOffset.set(k, { topic: r.topic, partition: r.partition, max: r.offset });
      else if (r.offset > cur.max) cur.max = r.offset;
    }
    const parts = [...maxOffset.values()];
    const run = (isolate: boolean): Promise<BatchResult> =>
      conn.transaction(
        async (commitWith, opened) => {
          const next =
            this.deps.offsets.lockedOffsets(opened, parts) ??
            (await this.deps.offsets.lock(conn.client, parts));
          return this.apply(conn, batch, parts, next, attempts, isolate, decide, commitWith);
        },
        // The partitions' sink_offsets rows are locked in BEGIN's round trip.
        this.deps.offsets.lockStatement(parts),
      );
    try {
      return await run(false);
    } catch (e) {
      const kind = classifyError(e).kind;
      if (kind === 'record' || (decide && kind === 'undecided')) return run(true);
      throw e;
    }
  }

  private async apply(
    conn: SinkConnection,
    batch: readonly SinkRecord[],
    parts: readonly { topic: string; partition: number; max: number }[],
    next: ReadonlyMap<string, number>,
    attempts: number,
    isolate: boolean,
    decide: boolean,
    commitWith: (sql: string) => Promise<void>,
  ): Promise<BatchResult> {
    let skipped = 0;
    const rejected: DeadLetter[] = [];
    const byTable = new Map<string, SinkRecord[]>();
    for (const r of batch) {
      if (r.offset < (next.get(tpKey(r.topic, r.partition)) ?? 0)) {
        skipped++;
        continue;
      }
      if (r.error !== null || r.row === null) {
        const err = r.error;
        rejected.push(
          this.deadLetter(r, err?.reason ?? 'decode', err?.code ?? 'REJECTED', err?.message ?? 'rejected', 0),
        );
        continue;
      }
      let list = byTable.get(r.mapping.table);
      if (list === undefined) byTable.set(r.mapping.table, (list = []));
      list.push(r);
    }

    const rowsByTable = new Map<string, number>();
    const poison: Poison[] = [];
    let collapsed = 0;
    // Statements that move staged rows into the tables. When nothing has to happen between
    // them and COMMIT (no dead letters, no hook), they go out with the offsets and COMMIT
    // as one query; otherwise they run now, so a failing row is known before the DLQ write.
    const pending: string[] = [];
    const direct = isolate || rejected.length > 0 || this.deps.beforeCommit !== undefined;
    for (const [table, records] of byTable) {
      const sql = this.deps.tables.get(table);
      if (sql === undefined) throw new Error(`no SQL prepared for table ${table}`);
      if (isolate) {
        // Isolation before dedupe: a key's good record is written even when a later record
        // of that key in this batch is poison.
        const ordered = sql.merge === null ? records : inOffsetOrder(records);
        const bad = await this.isolate(conn, sql, ordered, decide, attempts);
        poison.push(...bad);
        const badSet = new Set(bad.map((p) => p.record));
        const good = ordered.filter((r) => !badSet.has(r));
        const kept = sql.merge === null ? good.length : latestPerKey(good).length;
        collapsed += good.length - kept;
        rowsByTable.set(table, kept);
      } else {
        const rows = sql.merge === null ? records : latestPerKey(records);
        collapsed += records.length - rows.length;
        pending.push(...(await stageRows(conn, sql, rows)));
        rowsByTable.set(table, rows.length);
      }
    }
    if (direct) for (const statement of pending.splice(0)) await conn.query(statement);

    const deadLetters = rejected.concat(
      poison.map((p) => {
        const code = (p.error as { code?: unknown }).code;
        return this.deadLetter(
          p.record,
          'database',
          typeof code === 'string' ? code : 'DB_ERROR',
          p.error.message,
          attempts,
        );
      }),
    );
    // Both DLQ destinations must hold the records before their offsets move past them;
    // if this throws, the transaction rolls back and the batch is retried.
    if (deadLetters.length > 0) await this.deps.dlq.write(deadLetters);

    const offsets: PartitionOffset[] = [];
    for (const { topic, partition, max } of parts) {
      const stored = next.get(tpKey(topic, partition)) ?? 0;
      offsets.push({ topic, partition, nextOffset: Math.max(stored, max + 1) });
    }
    if (this.deps.beforeCommit) {
      await this.deps.offsets.advance(conn.client, offsets);
      await this.deps.beforeCommit();
    } else {
      pending.push(this.deps.offsets.advanceStatement(offsets));
      await commitWith(pending.filter((x) => x !== '').join(';\n'));
    }
    return { rowsByTable, deadLetters, skipped, collapsed, offsets };
  }

  /**
   * Moves partitions' next offsets forward (never back) for records handled outside a batch
   * (drop_oldest: already durable in the DLQ). Returns the offsets now stored.
   */
  async advance(conn: SinkConnection, offsets: readonly PartitionOffset[]): Promise<PartitionOffset[]> {
    return conn.transaction(async () => {
      const next = await this.deps.offsets.lock(conn.client, offsets);
      const moved = offsets.map((o) => ({
        ...o,
        nextOffset: Math.max(next.get(tpKey(o.topic, o.partition)) ?? 0, o.nextOffset),
      }));
      await this.deps.offsets.advance(conn.client, moved);
      return moved;
    });
  }

  /**
   * Finds the records of `rows` that fail on their own. An undecided failure is probed
   * first: if the statements fail with no row at all, or each probe record fails alone the
   * same way, the environment is at fault and the error is thrown. Then bisection under
   * savepoints until each failing record stands alone; every sub-batch written keeps its
   * rows, in offset order, so a key ends at its newest good record.
   */
  private async isolate(
    conn: SinkConnection,
    sql: TableSql,
    rows: readonly SinkRecord[],
    decide: boolean,
    attempt: number,
  ): Promise<Poison[]> {
    if (rows.length === 0) return [];
    const failed = await tryRows(conn, sql, rows);
    if (failed === null) return [];
    throwUnlessIsolatable(failed, decide);
    if (classifyError(failed).kind === 'undecided') await probeEnvironment(conn, sql, rows, failed, attempt);
    return this.bisect(conn, sql, rows, failed, decide);
  }

  /** `rows` failed with `error` as a whole: split until each failing record stands alone. */
  private async bisect(
    conn: SinkConnection,
    sql: TableSql,
    rows: readonly SinkRecord[],
    error: unknown,
    decide: boolean,
  ): Promise<Poison[]> {
    if (rows.length === 1) return [{ record: rows[0]!, error: toError(error) }];
    const mid = rows.length >>> 1;
    const out: Poison[] = [];
    for (const half of [rows.slice(0, mid), rows.slice(mid)]) {
      const failed = await tryRows(conn, sql, half);
      if (failed === null) continue;
      throwUnlessIsolatable(failed, decide);
      out.push(...(await this.bisect(conn, sql, half, failed, decide)));
    }
    return out;
  }

  private deadLetter(
    r: SinkRecord,
    reason: DeadLetter['reason'],
    errorCode: string,
    errorMessage: string,
    attempts: number,
  ): DeadLetter {
    return toDeadLetter(r, {
      reason,
      errorCode,
      errorMessage,
      attempts,
      workerId: this.deps.workerId,
      failedAt: this.deps.now(),
    });
  }
}

/**
 * COPYs `rows` into the staging tables (or the target, in copy mode) and returns the
 * statements that apply them: the upsert and, for tombstones, the delete. After dedup each
 * key appears once, so the two never touch the same row and their order does not matter.
 */
async function stageRows(
  conn: SinkConnection,
  sql: TableSql,
  rows: readonly SinkRecord[],
): Promise<string[]> {
  const statements: string[] = [];
  const upserts = rows.some((r) => r.isDelete === true) ? rows.filter((r) => r.isDelete !== true) : rows;
  if (upserts.length > 0) {
    await conn.copyIn(sql.copy, encodeCopyRows(upserts.map((r) => r.row!)));
    if (sql.merge !== null) statements.push(sql.merge);
  }
  if (upserts.length === rows.length) return statements;
  const deletes = rows.filter((r) => r.isDelete === true);
  if (sql.copyDelete === null || sql.delete === null)
    throw new Error(`table ${sql.mapping.table} cannot delete`);
  await conn.copyIn(sql.copyDelete, encodeCopyRows(deletes.map((r) => r.row!)));
  statements.push(sql.delete);
  return statements;
}

/**
 * Throws `e` unless isolation may handle it: transient and environment errors never are
 * (no record is at fault), undecided ones only on an attempt that may decide.
 */
function throwUnlessIsolatable(e: unknown, decide: boolean): void {
  const kind = classifyError(e).kind;
  if (kind === 'record' || (kind === 'undecided' && decide)) return;
  throw e;
}

/**
 * Throws `failed` (the batch's error) when the environment causes it: the table's
 * statements fail with no row at all (a missing table, a revoked grant, a read-only
 * database), or every probe record fails alone the same way (a broken row trigger).
 * A transient failure meanwhile is thrown as it is. Returns when records are at fault.
 */
async function probeEnvironment(
  conn: SinkConnection,
  sql: TableSql,
  rows: readonly SinkRecord[],
  failed: unknown,
  attempt: number,
): Promise<void> {
  const outcome = (e: unknown): Classified | null => {
    const c = e === null ? null : classifyError(e);
    if (c?.kind === 'transient') throw e;
    return c;
  };
  if (outcome(await underSavepoint(conn, () => applyNoRows(conn, sql))) !== null) throw failed;
  const probes: (Classified | null)[] = [];
  for (const i of probePositions(rows.length, attempt))
    probes.push(outcome(await tryRows(conn, sql, [rows[i]!])));
  if (probesSayEnvironment(probes)) throw failed;
}

/** The table's write statements with no row: what fails here fails for every record. */
async function applyNoRows(conn: SinkConnection, sql: TableSql): Promise<void> {
  if (sql.merge === null) await conn.copyIn(sql.copy, []);
  else await conn.query(sql.merge);
}

/** Writes `rows` under a savepoint: null when they applied, else the error (rolled back). */
function tryRows(conn: SinkConnection, sql: TableSql, rows: readonly SinkRecord[]): Promise<unknown> {
  return underSavepoint(conn, () => writeRowsNow(conn, sql, sql.merge === null ? rows : latestPerKey(rows)));
}

async function underSavepoint(conn: SinkConnection, work: () => Promise<void>): Promise<unknown> {
  await conn.query('SAVEPOINT mds_isolate');
  try {
    await work();
    await conn.query('RELEASE SAVEPOINT mds_isolate');
    return null;
  } catch (e) {
    await conn.query('ROLLBACK TO SAVEPOINT mds_isolate');
    await conn.query('RELEASE SAVEPOINT mds_isolate');
    return e;
  }
}

/** Stages and applies `rows` now, then empties the staging tables for the next sub-batch. */
async function writeRowsNow(conn: SinkConnection, sql: TableSql, rows: readonly SinkRecord[]): Promise<void> {
  for (const statement of await stageRows(conn, sql, rows)) await conn.query(statement);
  // Within one transaction the staging tables are reused by the next sub-batch.
  if (sql.truncateStaging !== null) await conn.query(sql.truncateStaging);
  if (sql.truncateDeleteStaging !== null && rows.some((r) => r.isDelete === true))
    await conn.query(sql.truncateDeleteStaging);
}
