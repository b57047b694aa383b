// State that no hook reports (queue depth, gate backlog, live workers, breaker state,
// assignment, lag, readiness) is sampled into gauges on an interval; partition high
// watermarks are read from the broker on another, so lag stays true while nothing is fetched.
// Both intervals are unref'd and stopped through the returned function.
import type { QueueStats } from '../pipeline/bounded-queue.js';
import type { LagTracker } from './lag-tracker.js';
import type { SinkMetrics } from './sink-metrics.js';

export interface GaugeSources {
  readonly queue: { stats(): QueueStats };
  readonly gate: { stats(): { readonly records: number; readonly bytes: number } };
  readonly workers: readonly { readonly isAlive: boolean }[];
  readonly breaker: { readonly stateCode: number };
  readonly consumer: { readonly assignment: { readonly size: number }; readonly isPaused: boolean };
  readonly lag: LagTracker;
  readonly readiness: () => Promise<{ readonly ok: boolean }>;
}

export class GaugePoller {
  constructor(
    private readonly metrics: SinkMetrics,
    private readonly coord: string,
    private readonly from: GaugeSources,
  ) {}

  /** One sample of every gauge; readiness lands when its check answers. */
  sample(): void {
    const { metrics: m, coord, from } = this;
    const s = from.queue.stats();
    m.queueDepth.set({ coord_id: coord }, s.records);
    m.queueBytes.set(s.bytes);
    const g = from.gate.stats();
    m.overflowPendingRecords.set(g.records);
    m.overflowPendingBytes.set(g.bytes);
    m.workersAlive.set({ coord_id: coord }, from.workers.filter((w) => w.isAlive).length);
    m.circuitState.set({ coord_id: coord }, from.breaker.stateCode);
    const assigned = from.consumer.assignment.size;
    m.assignedPartitions.set(assigned);
    m.pausedPartitions.set(from.consumer.isPaused ? assigned : 0);
    for (const l of from.lag.snapshot())
      m.consumerLag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
    void from.readiness().then((r) => m.ready.set(r.ok ? 1 : 0));
  }

  start(intervalMs: number): () => void {
    const timer = setInterval(() => this.sample(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

export interface WatermarkSources {
  readonly topics: readonly string[];
  readonly fetchTopicOffsets: (topic: string) => Promise<readonly { partition: number; high: string }[]>;
  readonly owns: (topic: string, partition: number) => boolean;
  readonly lag: LagTracker;
}

export class WatermarkPoller {
  constructor(private readonly from: WatermarkSources) {}

  /** One round over every topic; a topic the broker does not answer for waits for the next round. */
  async poll(): Promise<void> {
    const { topics, fetchTopicOffsets, owns, lag } = this.from;
    for (const topic of topics) {
      try {
        for (const p of await fetchTopicOffsets(topic)) {
          if (owns(topic, p.partition)) lag.highWatermark(topic, p.partition, Number(p.high));
        }
      } catch {
        // broker away: the next round will tell
      }
    }
  }

  start(intervalMs: number): () => void {
    const timer = setInterval(() => void this.poll(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
