// What startSink takes and what it returns: its dependencies, the lifecycle handle, and the
// events a running sink emits, declared once so listeners are type-checked against them.
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SinkConsumer } from '../kafka/sink-consumer.js';
import type { SinkHealth } from '../metrics/health.js';
import type { SinkMetrics } from '../metrics/sink-metrics.js';
import type { BoundedQueue, QueueStats } from '../pipeline/bounded-queue.js';
import type { OverflowGate } from '../pipeline/overflow-gate.js';
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
  /** A batch is durable in PostgreSQL at `now` (clock ms); emitted only while someone listens. */
  committed: [batch: readonly SinkRecord[], now: number];
}

export type SinkEvents = EventEmitter<SinkEventMap>;

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
  readonly metrics: SinkMetrics;
  readonly metricsPort: number;
  readonly consumer: SinkConsumer;
  readonly queue: BoundedQueue<SinkRecord>;
  readonly health: SinkHealth;
  /** Backpressure transitions and committed batches (see SinkEventMap). */
  readonly events: SinkEvents;
  /** drop_oldest: dropped records waiting for their DLQ write. */
  readonly overflowGate: OverflowGate;
}
