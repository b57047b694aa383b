// What startSink takes and what it returns: its dependencies, the lifecycle handle, and the
// events a running sink emits, declared once so listeners are type-checked against them.
// The handle is the sink's public surface: lifecycle, typed events and read-only snapshots;
// the components behind it stay private so they can change without breaking callers.
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SinkMetrics } from '../metrics/sink-metrics.js';
import type { QueueStats } from '../pipeline/bounded-queue.js';
import type { OverflowGateStats } from '../pipeline/overflow-gate.js';
import type { SinkRecord } from '../core/sink-record.js';
import type { Clock } from '../core/clock.js';

export interface SinkDeps {
  readonly log: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly metrics?: SinkMetrics;
  /** Start the HTTP server (default true). */
  readonly http?: boolean;
  /** Aborts the start (a signal during start-up): every start-up wait is given up at once. */
  readonly signal?: AbortSignal;
}

export interface SinkEventMap {
  /** Fetching paused (queue above its high watermark, or the overflow gate full). */
  pause: [stats: QueueStats];
  /** Fetching resumed. */
  resume: [stats: QueueStats];
  /** A batch is durable in PostgreSQL at `now` (clock ms) after a transaction of `writeMs`; emitted only while someone listens. */
  committed: [batch: readonly SinkRecord[], now: number, writeMs: number];
  /** The member joined the consumer group (every generation) and owns `assigned` partitions. */
  joined: [assigned: number];
}

export type SinkEvents = EventEmitter<SinkEventMap>;

/** The consumer-group member as seen from outside. */
export interface ConsumerSnapshot {
  /** In the group and not stopped. */
  readonly joined: boolean;
  /** Fetching is paused by backpressure (all subscribed topics). */
  readonly paused: boolean;
  /** Partitions this member owns. */
  readonly assigned: number;
  /** What KafkaJS itself has paused: whole topics, or new partitions waiting for their seek. */
  readonly kafkaPaused: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
}

/** A point-in-time copy of the running sink's state; taking one changes nothing. */
export interface SinkSnapshot {
  readonly queue: QueueStats;
  /** drop_oldest: dropped records waiting for their DLQ write. */
  readonly overflowGate: OverflowGateStats;
  readonly consumer: ConsumerSnapshot;
}

export interface SinkHandle {
  /**
   * Graceful: stop fetching, drain, commit, leave the group. The drain is bounded by
   * shutdown.timeoutMs; past it, open transactions are rolled back, the member leaves, and
   * `done` rejects with SinkError code SHUTDOWN_TIMED_OUT.
   */
  stop(): Promise<void>;
  /** Immediate: abandon queued and in-flight work (it is re-read later), leave. */
  kill(): Promise<void>;
  /** Settles when the member has stopped; rejects when a fatal error stopped it. */
  readonly done: Promise<void>;
  /** The Prometheus metrics the member exports (also served on metricsPort). */
  readonly metrics: SinkMetrics;
  /** The /metrics, /healthz, /readyz port; 0 when started with `http: false`. */
  readonly metricsPort: number;
  /** Subscribes to one event (see SinkEventMap); returns the unsubscribe function. */
  on<E extends keyof SinkEventMap>(event: E, listener: (...args: SinkEventMap[E]) => void): () => void;
  snapshot(): SinkSnapshot;
}
