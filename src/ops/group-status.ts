// status (the command): a group's partitions as PostgreSQL and Kafka hold them, read from
// outside, so it works with no member running: next_offset in sink_offsets, Kafka's
// committed offset, the log end, the lag behind it and the member that owns each partition.
// Why a running member is paused is its own to say: GET /status on its metrics port.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { tpKey } from '../core/sink-record.js';
import { groupMembers, readPartitionOffsets } from './group-offsets.js';
import type { GroupMember, PartitionOffsets } from './group-offsets.js';
import { textTable } from './text-table.js';

export interface PartitionStatus extends PartitionOffsets {
  /**
   * Records in the log not yet applied: log end − next_offset (or Kafka's committed offset,
   * or the log start, when the group has stored nothing for the partition).
   */
  readonly lag: number;
  readonly owner: Omit<GroupMember, 'partitions'> | null;
}

export interface GroupStatus {
  readonly groupId: string;
  readonly state: string;
  readonly members: number;
  readonly partitions: readonly PartitionStatus[];
}

export async function groupStatus(
  admin: Admin,
  db: pg.Pool,
  schema: string,
  groupId: string,
  topics: readonly string[],
): Promise<GroupStatus> {
  const offsets = await readPartitionOffsets(admin, db, schema, groupId, topics);
  const group = await groupMembers(admin, groupId);
  const owners = new Map<string, Omit<GroupMember, 'partitions'>>();
  for (const { partitions, ...member } of group.members)
    for (const p of partitions) owners.set(tpKey(p.topic, p.partition), member);
  return {
    groupId,
    state: group.state,
    members: group.members.length,
    partitions: offsets.map((p) => ({
      ...p,
      lag: Math.max(0, p.logEnd - (p.stored ?? p.committed ?? p.logStart)),
      owner: owners.get(tpKey(p.topic, p.partition)) ?? null,
    })),
  };
}

export function formatGroupStatus(s: GroupStatus): string {
  const n = (v: number | null): string => (v === null ? '-' : String(v));
  const rows = s.partitions.map((p) => [
    p.topic,
    String(p.partition),
    n(p.stored),
    n(p.committed),
    String(p.logEnd),
    String(p.lag),
    p.owner === null ? '-' : `${p.owner.clientId}@${p.owner.clientHost} ${p.owner.memberId}`,
  ]);
  const total = s.partitions.reduce((a, p) => a + p.lag, 0);
  return (
    `group ${s.groupId}: ${s.state}, ${s.members} member(s), lag ${total}\n` +
    textTable(['topic', 'partition', 'sink_offsets', 'kafka committed', 'log end', 'lag', 'owner'], rows)
  );
}
