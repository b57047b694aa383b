// sink_offsets: the next offset to apply per (group, topic, partition), moved in the same
// transaction as the rows. Locking the batch's rows (in a fixed order, so two members never
// deadlock) serialises a zombie member behind the partition's new owner; records below
// next_offset were already applied and are dropped, so nothing is applied twice.
import { escapeLiteral, type ClientBase, type Pool, type QueryResult } from 'pg';
import { quoteIdent } from '../core/sql-identifier.js';
import { tpKey, type PartitionOffset } from '../core/sink-record.js';
import { lastResult } from './sink-connection.js';

export class OffsetStore {
  private readonly table: string;
  private readonly group: string;
  private readonly advanceHead: string;
  private readonly advanceTail: string;
  private readonly readSql: string;
  /** Partitions whose row is known to exist: their lock skips the INSERT. */
  private readonly known = new Set<string>();

  constructor(
    schema: string,
    private readonly groupId: string,
  ) {
    const t = `${quoteIdent(schema)}.sink_offsets`;
    this.table = t;
    // Literal text, not parameters, for every statement of a batch: the lock goes out with
    // BEGIN and the advance with the last statements and COMMIT, each as one simple query
    // (SinkConnection.transaction), which cannot carry parameters.
    this.group = escapeLiteral(groupId);
    this.advanceHead = `UPDATE ${t} o SET next_offset = u.n, updated_at = now() FROM (VALUES `;
    this.advanceTail = `) AS u(t, p, n)
      WHERE o.group_id = ${this.group} AND o.topic = u.t AND o.partition = u.p AND o.next_offset < u.n`;
    this.readSql = `SELECT topic, partition, next_offset::text AS next_offset FROM ${t}
      WHERE group_id = $1 AND topic = ANY($2::text[])`;
  }

  /**
   * The statements that lock these partitions' rows (in a fixed order, so two members never
   * deadlock), first creating the rows of partitions not seen before. Read the result with
   * lockedOffsets().
   */
  lockStatement(parts: readonly { topic: string; partition: number }[], ensureAll = false): string {
    const sorted = [...parts].sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
    );
    const pairs = sorted.map((p) => `(${escapeLiteral(p.topic)}, ${Math.trunc(p.partition)})`).join(', ');
    const lock = `SELECT topic, partition, next_offset::text AS next_offset FROM ${this.table}
      WHERE group_id = ${this.group} AND (topic, partition) IN (VALUES ${pairs})
      ORDER BY topic, partition FOR UPDATE`;
    if (!ensureAll && sorted.every((p) => this.known.has(tpKey(p.topic, p.partition)))) return lock;
    const rows = sorted
      .map((p) => `(${this.group}, ${escapeLiteral(p.topic)}, ${Math.trunc(p.partition)}, 0)`)
      .join(', ');
    return `INSERT INTO ${this.table} (group_id, topic, partition, next_offset) VALUES ${rows}
      ON CONFLICT DO NOTHING;
      ${lock}`;
  }

  /**
   * The next offsets lockStatement's result holds, or undefined when a partition's row is
   * missing (removed by hand to reset it, after we had seen it): then call lock().
   */
  lockedOffsets(
    result: QueryResult | undefined,
    parts: readonly { topic: string; partition: number }[],
  ): Map<string, number> | undefined {
    const rows = (result?.rows ?? []) as { topic: string; partition: number; next_offset: string }[];
    if (rows.length < parts.length) return undefined;
    const out = new Map<string, number>();
    for (const row of rows) {
      const k = tpKey(row.topic, row.partition);
      this.known.add(k);
      out.set(k, Number(row.next_offset));
    }
    return out;
  }

  /** Inside a transaction: lock the partitions' rows (creating any missing) and return their next offsets. */
  async lock(
    client: ClientBase,
    parts: readonly { topic: string; partition: number }[],
  ): Promise<Map<string, number>> {
    const next = this.lockedOffsets(lastResult(await client.query(this.lockStatement(parts, true))), parts);
    if (next === undefined) throw new Error('sink_offsets: a locked partition row vanished');
    return next;
  }

  /** The UPDATE that moves these partitions' next offsets forward (never back); '' for none. */
  advanceStatement(offsets: readonly PartitionOffset[]): string {
    if (offsets.length === 0) return '';
    const rows = offsets.map(
      (o) => `(${escapeLiteral(o.topic)}, ${Math.trunc(o.partition)}, ${Math.trunc(o.nextOffset)}::bigint)`,
    );
    return `${this.advanceHead}${rows.join(', ')}${this.advanceTail}`;
  }

  async advance(client: ClientBase, offsets: readonly PartitionOffset[]): Promise<void> {
    const sql = this.advanceStatement(offsets);
    if (sql !== '') await client.query(sql);
  }

  /** Outside a transaction: the stored next offsets of these topics (for seeking on assignment). */
  async read(client: Pool, topics: readonly string[]): Promise<PartitionOffset[]> {
    const r = await client.query<{ topic: string; partition: number; next_offset: string }>(this.readSql, [
      this.groupId,
      topics,
    ]);
    return r.rows.map((x) => ({ topic: x.topic, partition: x.partition, nextOffset: Number(x.next_offset) }));
  }
}
