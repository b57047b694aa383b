// Fetching pauses when the queue passes its high watermark (overflow=block) or the overflow
// gate is full (drop_oldest: the DLQ is slower than the input), and resumes when they have
// room. A stopping member never resumes, whatever the queue's level: it fetches nothing more.
import type { Logger } from 'pino';
import type { QueueStats } from '../pipeline/bounded-queue.js';

export interface BackpressureDeps {
  /** The consumer, or null before it exists. */
  readonly consumer: () => { pauseAll(): void; resumeAll(): void } | null;
  /** Whether the queue's watermarks pause fetching (overflow=block). */
  readonly pauseOnHighWatermark: boolean;
  readonly isStopping: () => boolean;
  /** Every transition, for metrics and listeners. */
  readonly onTransition: (event: 'pause' | 'resume', stats: QueueStats) => void;
  readonly log: Logger;
}

export class Backpressure {
  constructor(private readonly d: BackpressureDeps) {}

  queueHigh(s: QueueStats): void {
    const c = this.d.consumer();
    if (!this.d.pauseOnHighWatermark || c === null) return;
    c.pauseAll();
    this.d.onTransition('pause', s);
    this.d.log.info({ queued: s.records, bytes: s.bytes }, 'queue above high watermark: partitions paused');
  }

  queueLow(s: QueueStats): void {
    const c = this.d.consumer();
    if (!this.d.pauseOnHighWatermark || c === null || this.d.isStopping()) return;
    c.resumeAll();
    this.d.onTransition('resume', s);
    this.d.log.info({ queued: s.records, bytes: s.bytes }, 'queue under low watermark: partitions resumed');
  }

  gateFull(queue: QueueStats, gate: object): void {
    const c = this.d.consumer();
    if (c === null || this.d.isStopping()) return;
    c.pauseAll();
    this.d.onTransition('pause', queue);
    this.d.log.warn(gate, 'overflow gate full (the DLQ is slower than the input): partitions paused');
  }

  gateRoom(queue: QueueStats, gate: object): void {
    const c = this.d.consumer();
    if (c === null || this.d.isStopping()) return;
    c.resumeAll();
    this.d.onTransition('resume', queue);
    this.d.log.info(gate, 'overflow gate has room again: partitions resumed');
  }
}
