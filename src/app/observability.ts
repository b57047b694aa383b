// The member's outward view, started once the pipeline exists: gauges polled from the
// components, the partitions' log ends for lag, and the HTTP server (/metrics, /healthz,
// /readyz, /status). Each loop and the server go on the releasers, so a stop ends them.
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config.js';
import type { SinkConsumer } from '../kafka/sink-consumer.js';
import type { EnvironmentHolds, SinkHealth } from '../metrics/health.js';
import { MetricsServer } from '../metrics/http-server.js';
import type { LagTracker } from '../metrics/lag-tracker.js';
import { GaugePoller, WatermarkPoller } from '../metrics/pollers.js';
import type { SinkMetrics } from '../metrics/sink-metrics.js';
import { MemberStatus } from '../ops/member-status.js';
import type { BoundedQueue } from '../pipeline/bounded-queue.js';
import type { SinkRecord } from '../core/sink-record.js';
import type { OverflowGate } from '../pipeline/overflow-gate.js';
import type { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { SinkWorker } from '../sink/sink-worker.js';
import { unlessAborted } from '../util/bounded-wait.js';
import type { Releasers } from '../util/releasers.js';
import { WATERMARK_POLL_MS } from './constants.js';

export interface ObservedParts {
  readonly config: AppConfig;
  readonly metrics: SinkMetrics;
  readonly topics: readonly string[];
  readonly admin: Admin;
  readonly queue: BoundedQueue<SinkRecord>;
  readonly gate: OverflowGate;
  readonly workers: readonly SinkWorker[];
  readonly breaker: CircuitBreaker;
  readonly consumer: SinkConsumer;
  readonly lag: LagTracker;
  readonly health: SinkHealth;
  readonly environment: EnvironmentHolds;
  readonly isStopping: () => boolean;
}

/** Starts the pollers and, unless `http` is false, the HTTP server; returns its port (0 without). */
export async function startObservability(
  p: ObservedParts,
  o: {
    readonly http: boolean;
    readonly releasers: Releasers;
    readonly log: Logger;
    readonly signal?: AbortSignal;
  },
): Promise<number> {
  const { config, metrics, consumer } = p;
  const coord = config.kafka.groupId;
  metrics.queueCapacity.set({ coord_id: coord }, config.queue.capacityRecords);
  const gauges = new GaugePoller(metrics, coord, { ...p, readiness: () => p.health.readiness() });
  o.releasers.add(gauges.start(config.metrics.queuePollMs));
  const watermarks = new WatermarkPoller({
    topics: p.topics,
    fetchTopicOffsets: (topic) => p.admin.fetchTopicOffsets(topic),
    owns: (topic, partition) => consumer.owns(topic, partition),
    lag: p.lag,
  });
  o.releasers.add(watermarks.start(WATERMARK_POLL_MS));
  if (!o.http) return 0;
  const status = new MemberStatus({ ...p, groupId: coord, consumer: () => consumer });
  const server = new MetricsServer(
    metrics.registry,
    p.health,
    config.metrics.host,
    config.metrics.port,
    status,
  );
  o.releasers.add(() => server.close());
  const port = await unlessAborted('metrics server start', server.start(), o.signal);
  o.log.info({ host: config.metrics.host, port }, 'metrics server listening');
  return port;
}
