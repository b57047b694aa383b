// Which partitions this member owns. KafkaJS has no revoke callback; every GROUP_JOIN event
// carries the full new assignment, and the difference with the previous one is what was
// added and what was revoked.
import { tpKey } from '../core/sink-record.js';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface AssignmentChange {
  readonly added: TopicPartition[];
  readonly revoked: TopicPartition[];
}

export class AssignmentTracker {
  private owned = new Map<string, TopicPartition>();

  update(memberAssignment: Record<string, number[]>): AssignmentChange {
    const next = new Map<string, TopicPartition>();
    for (const [topic, partitions] of Object.entries(memberAssignment)) {
      for (const partition of partitions) next.set(tpKey(topic, partition), { topic, partition });
    }
    const added = [...next].filter(([k]) => !this.owned.has(k)).map(([, v]) => v);
    const revoked = [...this.owned].filter(([k]) => !next.has(k)).map(([, v]) => v);
    this.owned = next;
    return { added, revoked };
  }

  /** Forget everything (the consumer stopped or crashed): nothing is owned until the next join. */
  clear(): TopicPartition[] {
    const all = [...this.owned.values()];
    this.owned = new Map();
    return all;
  }

  list(): TopicPartition[] {
    return [...this.owned.values()];
  }

  owns(topic: string, partition: number): boolean {
    return this.owned.has(tpKey(topic, partition));
  }

  get size(): number {
    return this.owned.size;
  }
}
