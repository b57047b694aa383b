// What a record's produce→commit latency in the steady-rate run is made of. Each committed
// record splits into three stages by the timestamps the pipeline already carries:
//   kafka: record timestamp (set by the producer's client when it encodes the produce
//          request) → enqueuedAt (the consumer handed it, decoded, to the queue): the produce
//          round trip, the broker's fetch wait, the fetch response, KafkaJS and our decoding;
//   queue: enqueuedAt → the start of the transaction that wrote it: waiting for a worker and
//          a lane, and group commit's grow wait (bounded by SINK_FLUSH_INTERVAL_MS);
//   write: the transaction itself (BEGIN … COMMIT of the last attempt).
// Beside the percentiles of each stage, the mean of each stage over the slowest 1 % of
// records says what the p99 is made of; the event loop's delay (the sink runs in this process)
// says how much of it is the loop being busy (GC, decoding a large fetch) rather than waiting.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { SinkRecord } from '../src/core/sink-record.js';

export interface StageSplit {
  readonly p50: number;
  readonly p99: number;
  /** Mean of this stage over the records whose total is at or above the total's p99. */
  readonly tailMean: number;
}

export interface LatencyBreakdown {
  readonly total: StageSplit;
  readonly kafka: StageSplit;
  readonly queue: StageSplit;
  readonly write: StageSplit;
  /** Records per transaction: p50 / p99. */
  readonly batchP50: number;
  readonly batchP99: number;
  /** Event loop delay in ms: p50 / p99 / max. */
  readonly loopDelayP50: number;
  readonly loopDelayP99: number;
  readonly loopDelayMax: number;
  /** Times the consumer stopped fetching (queue over its high watermark), and for how long in all. */
  readonly pauses: number;
  readonly pausedMs: number;
}

export class LatencyRecorder {
  private readonly kafka: number[] = [];
  private readonly queue: number[] = [];
  private readonly write: number[] = [];
  private readonly total: number[] = [];
  private readonly batches: number[] = [];
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });
  private pauses = 0;
  private pausedMs = 0;
  private pausedAt: number | null = null;

  start(): void {
    this.loop.enable();
  }

  get count(): number {
    return this.total.length;
  }

  /** Sorted copy of the produce→commit latencies. */
  totals(): number[] {
    return [...this.total].sort((a, b) => a - b);
  }

  /** Backpressure: records held in the broker meanwhile count in the kafka stage. */
  paused(now: number): void {
    this.pauses++;
    this.pausedAt ??= now;
  }

  resumed(now: number): void {
    if (this.pausedAt !== null) this.pausedMs += now - this.pausedAt;
    this.pausedAt = null;
  }

  committed(batch: readonly SinkRecord[], now: number, writeMs: number): void {
    const began = now - writeMs;
    this.batches.push(batch.length);
    for (const r of batch) {
      this.kafka.push(r.enqueuedAt - r.timestamp);
      this.queue.push(began - r.enqueuedAt);
      this.write.push(writeMs);
      this.total.push(now - r.timestamp);
    }
  }

  breakdown(): LatencyBreakdown {
    this.loop.disable();
    const sortedTotal = this.totals();
    const cut = quantile(sortedTotal, 0.99);
    const tail: number[] = [];
    for (let i = 0; i < this.total.length; i++) if (this.total[i]! >= cut) tail.push(i);
    const split = (xs: readonly number[]): StageSplit => {
      const sorted = [...xs].sort((a, b) => a - b);
      let sum = 0;
      for (const i of tail) sum += xs[i]!;
      return {
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        tailMean: tail.length === 0 ? NaN : round1(sum / tail.length),
      };
    };
    const b = [...this.batches].sort((x, y) => x - y);
    const ns = (q: number): number => round1(this.loop.percentile(q) / 1e6);
    return {
      total: split(this.total),
      kafka: split(this.kafka),
      queue: split(this.queue),
      write: split(this.write),
      batchP50: quantile(b, 0.5),
      batchP99: quantile(b, 0.99),
      loopDelayP50: ns(50),
      loopDelayP99: ns(99),
      loopDelayMax: round1(this.loop.max / 1e6),
      pauses: this.pauses,
      pausedMs: this.pausedMs,
    };
  }
}

export function formatBreakdown(b: LatencyBreakdown): string[] {
  const f = (s: StageSplit): string =>
    `p50 ${String(s.p50).padStart(4)}  p99 ${String(s.p99).padStart(4)}  slowest-1% mean ${String(s.tailMean).padStart(6)}`;
  return [
    `  total (produce→commit)  ${f(b.total)} ms`,
    `  kafka (→ queued)        ${f(b.kafka)} ms`,
    `  queue (→ write starts)  ${f(b.queue)} ms`,
    `  write (transaction)     ${f(b.write)} ms`,
    `  records per write p50 / p99: ${b.batchP50} / ${b.batchP99}; event loop delay p50 / p99 / max: ${b.loopDelayP50} / ${b.loopDelayP99} / ${b.loopDelayMax} ms`,
    `  backpressure: fetching stopped ${b.pauses} times, ${b.pausedMs} ms in all`,
  ];
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
