// The sink's components report through hooks; this turns those reports into metrics (and
// the few warnings that go with them), so the wiring only connects a hook to a method here.
// Label sets stay low-cardinality: coordinator (group) id, worker id, topic, table, reason.
import type { Logger } from 'pino';
import type { DeadLetter } from '../core/dead-letter.js';
import type { SinkRecord } from '../core/sink-record.js';
import type { CircuitState } from '../resilience/circuit-breaker.js';
import type { Classified } from '../resilience/classify-error.js';
import type { BatchResult } from '../sink/batch-writer.js';
import type { SinkMetrics } from './sink-metrics.js';

export class SinkInstrumentation {
  constructor(
    private readonly metrics: SinkMetrics,
    /** The coord_id label: the consumer group id. */
    private readonly coord: string,
    private readonly log: Logger,
  ) {}

  /** Records are durable in both DLQ destinations (topic and file). */
  deadLettered(entries: readonly DeadLetter[]): void {
    const m = this.metrics;
    for (const d of entries) {
      m.itemsDropped.inc({ coord_id: this.coord, reason: d.reason });
      m.dlqRecords.inc({ destination: 'topic', reason: d.reason });
      m.dlqRecords.inc({ destination: 'file', reason: d.reason });
    }
    const first = entries[0];
    if (first === undefined) return;
    this.log.warn(
      {
        records: entries.length,
        reason: first.reason,
        code: first.errorCode,
        topic: first.topic,
        partition: first.partition,
        offset: first.offset,
      },
      `dead-lettered ${entries.length} record(s): ${first.errorMessage}`,
    );
  }

  /** A worker committed `batch` at `now` (clock ms) after `writeMs` of writing. */
  batchCommitted(
    result: BatchResult,
    batch: readonly SinkRecord[],
    writeMs: number,
    workerId: number,
    now: number,
  ): void {
    const m = this.metrics;
    const labels = { coord_id: this.coord, worker_id: String(workerId) };
    m.batchesWritten.inc(labels);
    m.writeLatency.observe(labels, writeMs / 1000);
    for (const sink of tablesOf(batch)) {
      m.sinkWrites.inc({ sink, status: 'success' });
      m.sinkWriteLatency.observe({ sink }, writeMs / 1000);
    }
    m.batchSize.observe(batch.length);
    let rows = 0;
    for (const [table, n] of result.rowsByTable) {
      m.rowsWritten.inc({ table }, n);
      rows += n;
    }
    m.recordsApplied.inc({ outcome: 'written' }, rows);
    m.recordsApplied.inc({ outcome: 'collapsed' }, result.collapsed);
    m.recordsApplied.inc({ outcome: 'dead_lettered' }, result.deadLetters.length);
    m.recordsApplied.inc({ outcome: 'skipped' }, result.skipped);
    this.deadLettered(result.deadLetters);
    for (const r of batch) m.e2eLatency.observe(Math.max(0, now - r.timestamp) / 1000);
  }

  /** A write attempt of `batch` failed and is retried (or held behind the breaker). */
  attemptFailed(e: Classified, workerId: number, batch: readonly SinkRecord[]): void {
    this.metrics.writeErrors.inc({ coord_id: this.coord, worker_id: String(workerId), error_type: e.code });
    this.metrics.retryAttempts.inc({ kind: e.kind });
    for (const sink of tablesOf(batch)) this.metrics.sinkWrites.inc({ sink, status: 'failure' });
  }

  breakerTransition(from: CircuitState, to: CircuitState): void {
    this.metrics.breakerTransitions.inc({ to });
    this.log.warn({ from, to }, `circuit breaker ${from} → ${to}`);
  }

  /** Fetching paused or resumed for backpressure. */
  fetching(event: 'pause' | 'resume'): void {
    this.metrics.pauseEvents.inc({ event });
  }

  batchFetched(topic: string, records: number): void {
    this.metrics.itemsSubmitted.inc({ coord_id: this.coord, topic }, records);
  }

  kafkaCommitted(ms: number): void {
    this.metrics.commitLatency.observe(ms / 1000);
  }

  kafkaCommitFailed(reason: string): void {
    this.metrics.commitFailures.inc({ reason });
  }

  rebalanced(): void {
    this.metrics.rebalances.inc();
  }

  partitionRevoked(topic: string, partition: number): void {
    this.metrics.consumerLag.remove({ topic, partition: String(partition) });
  }
}

/** The tables a batch writes to: the seed's "sink" label (it wrote one table per call). */
function tablesOf(batch: readonly SinkRecord[]): Set<string> {
  const tables = new Set<string>();
  for (const r of batch) tables.add(r.mapping.table);
  return tables;
}
