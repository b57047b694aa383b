// What the operator tools read about a consumer group, from both offset stores and the log:
// per partition the next offset in PostgreSQL (sink_offsets, the truth), Kafka's committed
// offset (the mirror), the log start and end; and the group's live members with what each
// owns. Read-only; the callers decide what to show or change.
import { AssignerProtocol, type Admin } from 'kafkajs';
import type pg from 'pg';
import { DatabaseError, KafkaError } from '../core/errors.js';
import { tpKey, type PartitionOffset } from '../core/sink-record.js';
import { OffsetStore } from '../sink/offset-store.js';
import type { TopicPartition } from '../kafka/assignment.js';
import { topicPartitions } from '../kafka/admin.js';

export interface PartitionOffsets {
  readonly topic: string;
  readonly partition: number;
  /** next_offset in sink_offsets, or null when the group has no row for it. */
  readonly stored: number | null;
  /** Kafka's committed offset for the group, or null when none is committed. */
  readonly committed: number | null;
  /** The first offset still in the log. */
  readonly logStart: number;
  /** The log end (high watermark): the offset the next record will get. */
  readonly logEnd: number;
}

export interface GroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
  readonly partitions: readonly TopicPartition[];
}

export interface GroupMembers {
  /** Kafka's group state (Empty, Stable, PreparingRebalance, Dead…). */
  readonly state: string;
  readonly members: readonly GroupMember[];
}

/**
 * Refuses topics the cluster does not have, before any per-topic request: those could create
 * them on a broker that auto-creates topics, and a typo must not leave a topic behind.
 */
async function requireTopics(admin: Admin, topics: readonly string[]): Promise<void> {
  const { missing } = await topicPartitions(admin, topics);
  if (missing.length > 0)
    throw new KafkaError(
      'TOPIC_NOT_FOUND',
      `no such topic: ${missing.join(', ')} (give the full name, with TOPIC_PREFIX)`,
      false,
    );
}

export async function groupMembers(
  admin: Pick<Admin, 'describeGroups'>,
  groupId: string,
): Promise<GroupMembers> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups.find((x) => x.groupId === groupId);
  if (g === undefined) return { state: 'Dead', members: [] };
  return {
    state: g.state,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      partitions: decodeAssignment(m.memberAssignment),
    })),
  };
}

function decodeAssignment(buffer: Buffer): TopicPartition[] {
  // Empty while the group is rebalancing: the member owns nothing yet.
  if (buffer.length === 0) return [];
  const decoded = AssignerProtocol.MemberAssignment.decode(buffer);
  if (decoded === null) return [];
  return Object.entries(decoded.assignment).flatMap(([topic, ps]) =>
    ps.map((partition) => ({ topic, partition })),
  );
}

/** Both offset stores and the log bounds of these topics' partitions, sorted by topic and partition. */
export async function readPartitionOffsets(
  admin: Admin,
  db: pg.Pool,
  schema: string,
  groupId: string,
  topics: readonly string[],
): Promise<PartitionOffsets[]> {
  await requireTopics(admin, topics);
  const stored = new Map(
    (await readStored(db, schema, groupId, topics)).map((o) => [tpKey(o.topic, o.partition), o.nextOffset]),
  );
  const committed = new Map<string, number>();
  for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] }))
    for (const p of t.partitions) {
      const n = Number(p.offset);
      if (n >= 0) committed.set(tpKey(t.topic, p.partition), n);
    }
  const out: PartitionOffsets[] = [];
  for (const topic of [...topics].sort()) {
    const log = [...(await admin.fetchTopicOffsets(topic))].sort((a, b) => a.partition - b.partition);
    for (const p of log) {
      const k = tpKey(topic, p.partition);
      out.push({
        topic,
        partition: p.partition,
        stored: stored.get(k) ?? null,
        committed: committed.get(k) ?? null,
        logStart: Number(p.low),
        logEnd: Number(p.high),
      });
    }
  }
  return out;
}

async function readStored(
  db: pg.Pool,
  schema: string,
  groupId: string,
  topics: readonly string[],
): Promise<readonly PartitionOffset[]> {
  try {
    return await new OffsetStore(schema, groupId).read(db, topics);
  } catch (e) {
    if ((e as { code?: unknown }).code === UNDEFINED_TABLE)
      throw new DatabaseError(
        'NO_SINK_OFFSETS',
        `DATABASE_SCHEMA ${JSON.stringify(schema)} has no sink_offsets table: check DATABASE_SCHEMA, or run \`market-data-sink migrate\``,
        false,
        UNDEFINED_TABLE,
      );
    throw e;
  }
}

const UNDEFINED_TABLE = '42P01';
