// Fetching pauses when the queue passes its high watermark (overflow=block) or the overflow
// gate is full (drop_oldest: the DLQ is slower than the input), and resumes when they have
// room. A stopping member never resumes, whatever the queue's level: it fetches nothing more.
// Each transition is logged at debug; people get one summary line per interval (pauses,
// resumes, time paused), at warn when the overflow gate paused, since that means lost input
// would otherwise pile up behind a slow DLQ.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { QueueStats } from '../pipeline/bounded-queue.js';
import { PauseSummary, type PauseCause, type PauseReport } from './pause-summary.js';

export interface BackpressureDeps {
  /** The consumer, or null before it exists. */
  readonly consumer: () => { pauseAll(): void; resumeAll(): void } | null;
  /** Whether the queue's watermarks pause fetching (overflow=block). */
  readonly pauseOnHighWatermark: boolean;
  readonly isStopping: () => boolean;
  /** Every transition, for metrics and listeners. */
  readonly onTransition: (event: 'pause' | 'resume', stats: QueueStats) => void;
  readonly clock: Clock;
  /** One summary line per this many ms (LOG_BACKPRESSURE_SUMMARY_MS). */
  readonly summaryIntervalMs: number;
  readonly log: Logger;
}

export class Backpressure {
  private readonly summary: PauseSummary;

  constructor(private readonly d: BackpressureDeps) {
    this.summary = new PauseSummary(d.clock);
  }

  queueHigh(s: QueueStats): void {
    if (!this.d.pauseOnHighWatermark) return;
    this.pause('watermark', s, { queued: s.records, bytes: s.bytes });
  }

  queueLow(s: QueueStats): void {
    if (!this.d.pauseOnHighWatermark) return;
    this.resume('watermark', s, { queued: s.records, bytes: s.bytes });
  }

  gateFull(queue: QueueStats, gate: object): void {
    this.pause('gate', queue, gate);
  }

  gateRoom(queue: QueueStats, gate: object): void {
    this.resume('gate', queue, gate);
  }

  /**
   * Logs a summary every summaryIntervalMs until the returned function is called, which
   * logs the last (partial) interval's and ends the loop.
   */
  startSummaries(): () => void {
    const stop = new AbortController();
    const loop = async (): Promise<void> => {
      while (!stop.signal.aborted) {
        await this.d.clock.sleep(this.d.summaryIntervalMs, stop.signal);
        this.report(this.summary.take());
      }
    };
    void loop();
    return () => stop.abort();
  }

  // The queue may still pause a stopping member (it must not take more records); the gate
  // only reacts while running, as its backlog drains into the DLQ during the stop anyway.
  private pause(cause: PauseCause, s: QueueStats, fields: object): void {
    const c = this.d.consumer();
    if (c === null || (cause === 'gate' && this.d.isStopping())) return;
    c.pauseAll();
    this.d.onTransition('pause', s);
    this.summary.paused(cause);
    this.d.log.debug({ ...fields, cause }, 'backpressure: partitions paused');
  }

  private resume(cause: PauseCause, s: QueueStats, fields: object): void {
    const c = this.d.consumer();
    if (c === null || this.d.isStopping()) return;
    c.resumeAll();
    this.d.onTransition('resume', s);
    this.summary.resumed();
    this.d.log.debug({ ...fields, cause }, 'backpressure: partitions resumed');
  }

  private report(r: PauseReport | null): void {
    if (r === null) return;
    const seconds = (ms: number): string => (ms / 1000).toFixed(1);
    const share = r.intervalMs > 0 ? Math.round((100 * r.pausedMs) / r.intervalMs) : 0;
    const gate =
      r.gatePauses > 0 ? `; ${r.gatePauses} by the overflow gate (the DLQ is slower than the input)` : '';
    const msg =
      `backpressure in the last ${seconds(r.intervalMs)} s: ${r.pauses} pause(s), ${r.resumes} resume(s), ` +
      `paused ${seconds(r.pausedMs)} s (${share}%)${r.pausedNow ? ', paused now' : ''}${gate}`;
    const fields = { backpressure: r };
    if (r.gatePauses > 0) this.d.log.warn(fields, msg);
    else this.d.log.info(fields, msg);
  }
}
