// Applies one worker batch in ONE transaction: lock the partitions' sink_offsets rows, drop
// records already applied, COPY each table's rows (staging + upsert, or straight COPY),
// dead-letter rejected records, advance the offsets, commit. A data error (SQLSTATE class
// 22/23) makes us redo the batch with SAVEPOINT bisection, so only the poison rows leave:
// k bad rows in n cost O(k log n) round trips, not n.
import { toDeadLetter, type DeadLetter, type DeadLetterSink } from '../dlq/dead-letter.js';
import { tpKey, type SinkRecord } from '../pipeline/sink-record.js';
import type { SinkConnection } from './sink-connection.js';
import type { OffsetStore, PartitionOffset } from './offset-store.js';
import type { TableSql } from './table-sql.js';
import { encodeCopyRows } from './copy-text.js';
import { toError } from '../errors.js';

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

/** Errors caused by the data of a row: the only ones that may send a record to the DLQ. */
export function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && (code.startsWith('22') || code.startsWith('23'));
}

interface Poison {
  readonly record: SinkRecord;
  readonly error: Error;
}

export class BatchWriter {
  constructor(private readonly deps: BatchWriterDeps) {}

  async write(conn: SinkConnection, batch: readonly SinkRecord[], attempts: number): Promise<BatchResult> {
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
          return this.apply(conn, batch, parts, next, attempts, isolate, commitWith);
        },
        // The partitions' sink_offsets rows are locked in BEGIN's round trip.
        this.deps.offsets.lockStatement(parts),
      );
    try {
      return await run(false);
    } catch (e) {
      if (!isDataError(e)) throw e;
      return run(true);
    }
  }

  private async apply(
    conn: SinkConnection,
    batch: readonly SinkRecord[],
    parts: readonly { topic: string; partition: number; max: number }[],
    next: ReadonlyMap<string, number>,
    attempts: number,
    isolate: boolean,
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
      if (r.error !== null || r.values === null) {
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
      const rows = sql.merge === null ? records : dedupe(records);
      collapsed += records.length - rows.length;
      if (isolate) {
        const bad = await this.isolate(conn, sql, rows);
        poison.push(...bad);
        rowsByTable.set(table, rows.length - bad.length);
      } else {
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

  /** Bisects under savepoints until each failing row stands alone. */
  private async isolate(conn: SinkConnection, sql: TableSql, rows: readonly SinkRecord[]): Promise<Poison[]> {
    if (rows.length === 0) return [];
    await conn.query('SAVEPOINT mds_isolate');
    try {
      await writeRowsNow(conn, sql, rows);
      await conn.query('RELEASE SAVEPOINT mds_isolate');
      return [];
    } catch (e) {
      await conn.query('ROLLBACK TO SAVEPOINT mds_isolate');
      await conn.query('RELEASE SAVEPOINT mds_isolate');
      if (!isDataError(e)) throw e;
      if (rows.length === 1) return [{ record: rows[0]!, error: toError(e) }];
      const mid = rows.length >>> 1;
      const left = await this.isolate(conn, sql, rows.slice(0, mid));
      const right = await this.isolate(conn, sql, rows.slice(mid));
      return left.concat(right);
    }
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
    await conn.copyIn(sql.copy, encodeCopyRows(upserts.map((r) => r.values!)));
    if (sql.merge !== null) statements.push(sql.merge);
  }
  if (upserts.length === rows.length) return statements;
  const deletes = rows.filter((r) => r.isDelete === true);
  if (sql.copyDelete === null || sql.delete === null)
    throw new Error(`table ${sql.mapping.table} cannot delete`);
  await conn.copyIn(sql.copyDelete, encodeCopyRows(deletes.map((r) => r.values!)));
  statements.push(sql.delete);
  return statements;
}

/** Stages and applies `rows` now, then empties the staging tables for the next sub-batch. */
async function writeRowsNow(conn: SinkConnection, sql: TableSql, rows: readonly SinkRecord[]): Promise<void> {
  for (const statement of await stageRows(conn, sql, rows)) await conn.query(statement);
  // Within one transaction the staging tables are reused by the next sub-batch.
  if (sql.truncateStaging !== null) await conn.query(sql.truncateStaging);
  if (sql.truncateDeleteStaging !== null && rows.some((r) => r.isDelete === true))
    await conn.query(sql.truncateDeleteStaging);
}

/**
 * Keeps the last record of each conflict key (records arrive in offset order per
 * partition), so one upsert never touches a row twice.
 */
function dedupe(records: readonly SinkRecord[]): SinkRecord[] {
  const last = new Map<string, number>();
  for (let i = 0; i < records.length; i++) last.set(records[i]!.conflictKey, i);
  if (last.size === records.length) return records as SinkRecord[];
  const out: SinkRecord[] = [];
  for (let i = 0; i < records.length; i++) if (last.get(records[i]!.conflictKey) === i) out.push(records[i]!);
  return out;
}
