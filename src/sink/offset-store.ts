// sink_offsets: the next offset to apply per (group, topic, partition), moved in the same
// transaction as the rows. Locking the batch's rows (in a fixed order, so two members never
// deadlock) serialises a zombie member behind the partition's new owner; records below
// next_offset were already applied and are dropped, so nothing is applied twice.
import { escapeLiteral, type ClientBase, type Pool } from 'pg';
import { quoteIdent } from '../pipeline/topic-mapping.js';
import { tpKey } from '../pipeline/sink-record.js';

export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
}

export class OffsetStore {
  private readonly ensureSql: string;
  private readonly lockSql: string;
  private readonly advanceHead: string;
  private readonly advanceTail: string;
  private readonly readSql: string;
  /** Partitions whose row is known to exist: their batches skip the INSERT (one round trip). */
  private readonly known = new Set<string>();

  constructor(
    schema: string,
    private readonly groupId: string,
  ) {
    const t = `${quoteIdent(schema)}.sink_offsets`;
    this.ensureSql = `INSERT INTO ${t} (group_id, topic, partition, next_offset)
      SELECT $1, u.t, u.p, 0 FROM unnest($2::text[], $3::int[]) AS u(t, p) ORDER BY 2, 3
      ON CONFLICT DO NOTHING`;
    this.lockSql = `SELECT topic, partition, next_offset::text AS next_offset FROM ${t}
      WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
      ORDER BY topic, partition FOR UPDATE`;
    // Literal text, not parameters: the statement is sent together with the batch's last
    // statements and COMMIT in one simple query (BatchWriter), which cannot carry parameters.
    this.advanceHead = `UPDATE ${t} o SET next_offset = u.n, updated_at = now() FROM (VALUES `;
    this.advanceTail = `) AS u(t, p, n)
      WHERE o.group_id = ${escapeLiteral(groupId)} AND o.topic = u.t AND o.partition = u.p AND o.next_offset < u.n`;
    this.readSql = `SELECT topic, partition, next_offset::text AS next_offset FROM ${t}
      WHERE group_id = $1 AND topic = ANY($2::text[])`;
  }

  /** Inside a transaction: lock the partitions' rows and return their next offsets. */
  async lock(
    client: ClientBase,
    parts: readonly { topic: string; partition: number }[],
  ): Promise<Map<string, number>> {
    const sorted = [...parts].sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
    );
    const params = [this.groupId, sorted.map((p) => p.topic), sorted.map((p) => p.partition)];
    let ensured = false;
    if (sorted.some((p) => !this.known.has(tpKey(p.topic, p.partition)))) {
      await client.query(this.ensureSql, params);
      ensured = true;
    }
    type Row = { topic: string; partition: number; next_offset: string };
    let r = await client.query<Row>(this.lockSql, params);
    if (r.rows.length < sorted.length && !ensured) {
      // A row we knew of is gone (removed by hand to reset a partition): recreate, relock.
      await client.query(this.ensureSql, params);
      r = await client.query<Row>(this.lockSql, params);
    }
    const out = new Map<string, number>();
    for (const row of r.rows) {
      const k = tpKey(row.topic, row.partition);
      this.known.add(k);
      out.set(k, Number(row.next_offset));
    }
    return out;
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
