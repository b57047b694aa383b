// Counts backpressure pauses and resumes and the time spent paused, so the log can say once
// per interval what the member did instead of one line per transition (under sustained
// backpressure that was a line every few hundred milliseconds). Pure logic on an injected clock.
import type { Clock } from '../core/clock.js';

/** Why fetching paused: the queue's high watermark, or the overflow gate (the DLQ is slow). */
export type PauseCause = 'watermark' | 'gate';

export interface PauseReport {
  /** Length of the interval reported on, ms. */
  readonly intervalMs: number;
  readonly pauses: number;
  readonly gatePauses: number;
  readonly resumes: number;
  /** Time spent paused within the interval, ms. */
  readonly pausedMs: number;
  /** Whether fetching is paused at the end of the interval. */
  readonly pausedNow: boolean;
}

export class PauseSummary {
  private since: number;
  private pausedSince: number | null = null;
  private pauses = 0;
  private gatePauses = 0;
  private resumes = 0;
  private pausedMs = 0;

  constructor(private readonly clock: Clock) {
    this.since = clock.now();
  }

  paused(cause: PauseCause): void {
    this.pauses++;
    if (cause === 'gate') this.gatePauses++;
    this.pausedSince ??= this.clock.now();
  }

  resumed(): void {
    this.resumes++;
    if (this.pausedSince === null) return;
    this.pausedMs += this.clock.now() - this.pausedSince;
    this.pausedSince = null;
  }

  /**
   * The interval since the last take(), and a new one started; null when fetching neither
   * paused nor resumed nor stayed paused in it (nothing worth a log line).
   */
  take(): PauseReport | null {
    const now = this.clock.now();
    const pausedNow = this.pausedSince !== null;
    const report: PauseReport = {
      intervalMs: now - this.since,
      pauses: this.pauses,
      gatePauses: this.gatePauses,
      resumes: this.resumes,
      pausedMs: this.pausedMs + (this.pausedSince === null ? 0 : now - this.pausedSince),
      pausedNow,
    };
    this.since = now;
    if (pausedNow) this.pausedSince = now;
    this.pauses = 0;
    this.gatePauses = 0;
    this.resumes = 0;
    this.pausedMs = 0;
    return report.pauses === 0 && report.resumes === 0 && !pausedNow ? null : report;
  }
}
