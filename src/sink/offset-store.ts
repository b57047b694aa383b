// sink_offsets: the next offset to apply per (group, topic, partition), moved in the same
// transaction as the rows. Locking the batch's rows (in a fixed order, so two members never
// deadlock) serialises a zombie member behind the partition's new owner; records below
// next_offset were already applied and are dropped, so nothing is applied twice.
import type { ClientBase, Pool } from 'pg';
import { quoteIdent } from '../pipeline/topic-mapping.js';

export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
}

export class OffsetStore {
  private readonly ensureSql: string;
  private readonly lockSql: string;
  private readonly advanceSql: string;
  private readonly readSql: string;

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
    this.advanceSql = `UPDATE ${t} o SET next_offset = u.n, updated_at = now()
      FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, n)
      WHERE o.group_id = $1 AND o.topic = u.t AND o.partition = u.p AND o.next_offset < u.n`;
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
    const topics = sorted.map((p) => p.topic);
    const partitions = sorted.map((p) => p.partition);
    await client.query(this.ensureSql, [this.groupId, topics, partitions]);
    const r = await client.query<{ topic: string; partition: number; next_offset: string }>(this.lockSql, [
      this.groupId,
      topics,
      partitions,
    ]);
    const out = new Map<string, number>();
    for (const row of r.rows) out.set(`${row.topic}\u0000${row.partition}`, Number(row.next_offset));
    return out;
  }

  async advance(client: ClientBase, offsets: readonly PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await client.query(this.advanceSql, [
      this.groupId,
      offsets.map((o) => o.topic),
      offsets.map((o) => o.partition),
      offsets.map((o) => String(o.nextOffset)),
    ]);
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
