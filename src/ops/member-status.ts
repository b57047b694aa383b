// GET /status of a running member: the partitions it owns, whether each is fetched or paused
// and why, the breaker, the environment errors that hold writes, and how full the queue is.
// A read-only snapshot through narrow views of the components (nothing here changes them),
// so the route cannot disturb the pipeline it reports on.
import type { QueueStats } from '../pipeline/bounded-queue.js';
import type { OverflowGateStats } from '../pipeline/overflow-gate.js';
import type { CircuitState } from '../resilience/circuit-breaker.js';
import type { TopicPartition } from '../kafka/assignment.js';
import type { EnvironmentHold } from '../metrics/health.js';
import type { StatusSource } from '../metrics/http-server.js';
import { tpKey } from '../core/sink-record.js';

export interface MemberStatusDeps {
  readonly groupId: string;
  readonly consumer: () => {
    readonly isJoined: boolean;
    /** Fetching of every partition is paused (backpressure or a stop). */
    readonly isPaused: boolean;
    assigned(): readonly TopicPartition[];
    /** Assigned, paused until sought to the offset stored in PostgreSQL. */
    waitingForPosition(): readonly TopicPartition[];
  } | null;
  readonly queue: { stats(): QueueStats };
  readonly gate: { stats(): OverflowGateStats };
  readonly breaker: { readonly state: CircuitState };
  readonly environment: { list(): EnvironmentHold[] };
  readonly lag: {
    partitions(): readonly { topic: string; partition: number; highWatermark: number; committed: number }[];
  };
  readonly isStopping: () => boolean;
}

/** Why fetching is paused, most direct cause first. */
export type PauseReason =
  | 'stopping'
  | 'watermark'
  | 'overflow gate full'
  | 'breaker open'
  | 'breaker half_open'
  | `environment SQLSTATE ${string}`
  | 'positioning';

export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly paused: boolean;
  readonly reasons: readonly PauseReason[];
  /** next_offset as this member last committed or read it from PostgreSQL; null before that. */
  readonly nextOffset: number | null;
  /** The log end last seen (fetches, or the periodic admin query while paused); null before that. */
  readonly logEnd: number | null;
  readonly lag: number | null;
}

export class MemberStatus implements StatusSource {
  constructor(private readonly d: MemberStatusDeps) {}

  status(): Record<string, unknown> {
    const { d } = this;
    const c = d.consumer();
    const q = d.queue.stats();
    const gate = d.gate.stats();
    const holds = d.environment.list();
    // Held writes (breaker, environment) fill the queue, which pauses fetching: name both.
    const writesHeldBy: PauseReason[] = [
      ...(d.breaker.state === 'closed' ? [] : [`breaker ${d.breaker.state}` as const]),
      ...holds.map((h) => `environment SQLSTATE ${h.sqlState}` as const),
    ];
    const paused = c?.isPaused ?? false;
    const memberReasons: PauseReason[] = !paused
      ? []
      : [
          ...(d.isStopping() ? ['stopping' as const] : []),
          ...(q.high ? ['watermark' as const] : []),
          ...(gate.full ? ['overflow gate full' as const] : []),
          ...writesHeldBy,
        ];
    const waiting = new Set((c?.waitingForPosition() ?? []).map((p) => tpKey(p.topic, p.partition)));
    const known = new Map(d.lag.partitions().map((p) => [tpKey(p.topic, p.partition), p]));
    const partitions = [...(c?.assigned() ?? [])]
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
      .map((p): PartitionState => {
        const k = tpKey(p.topic, p.partition);
        const reasons: PauseReason[] = [
          ...memberReasons,
          ...(waiting.has(k) ? ['positioning' as const] : []),
        ];
        const l = known.get(k);
        const nextOffset = l !== undefined && l.committed >= 0 ? l.committed : null;
        const logEnd = l !== undefined && l.highWatermark >= 0 ? l.highWatermark : null;
        return {
          topic: p.topic,
          partition: p.partition,
          paused: paused || waiting.has(k),
          reasons,
          nextOffset,
          logEnd,
          lag: logEnd === null ? null : Math.max(0, logEnd - (nextOffset ?? 0)),
        };
      });
    return {
      group: d.groupId,
      joined: c?.isJoined ?? false,
      stopping: d.isStopping(),
      fetching: paused ? 'paused' : 'running',
      pauseReasons: memberReasons,
      writesHeldBy,
      breaker: { state: d.breaker.state },
      environmentErrors: holds,
      queue: {
        records: q.records,
        bytes: q.bytes,
        capacityRecords: q.capacityRecords,
        capacityBytes: q.capacityBytes,
        fill: q.capacityRecords > 0 ? q.records / q.capacityRecords : 0,
        aboveHighWatermark: q.high,
      },
      overflowGate: { records: gate.records, bytes: gate.bytes, full: gate.full },
      partitions,
    };
  }
}
