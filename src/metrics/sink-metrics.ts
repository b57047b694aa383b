// Every Prometheus metric of the sink, on one registry. The seed coordinator's names are
// kept with their meaning adapted to Kafka (items = Kafka records; "dropped" = sent to the
// DLQ), so existing dashboards carry over. Labels stay low-cardinality: no keys or offsets.
import client from 'prom-client';

export class SinkMetrics {
  readonly registry = new client.Registry();

  // --- seed names -------------------------------------------------------------------
  readonly itemsSubmitted = new client.Counter({
    name: 'mds_coord_items_submitted_total',
    help: 'Kafka records handed to the write queue.',
    labelNames: ['coord_id', 'topic'],
    registers: [this.registry],
  });
  readonly itemsDropped = new client.Counter({
    name: 'mds_coord_items_dropped_total',
    help: 'Records set aside to the DLQ instead of the table, by reason (decode, validation, database, overflow, tombstone).',
    labelNames: ['coord_id', 'reason'],
    registers: [this.registry],
  });
  readonly queueDepth = new client.Gauge({
    name: 'mds_coord_queue_depth',
    help: 'Records held between the consumer and the writers (queued + being written).',
    labelNames: ['coord_id'],
    registers: [this.registry],
  });
  readonly queueCapacity = new client.Gauge({
    name: 'mds_coord_queue_capacity',
    help: 'Queue capacity in records.',
    labelNames: ['coord_id'],
    registers: [this.registry],
  });
  readonly workersAlive = new client.Gauge({
    name: 'mds_coord_workers_alive',
    help: 'Sink workers running.',
    labelNames: ['coord_id'],
    registers: [this.registry],
  });
  readonly circuitState = new client.Gauge({
    name: 'mds_coord_circuit_state',
    help: 'Database circuit breaker: 0 closed, 1 open, 2 half-open.',
    labelNames: ['coord_id'],
    registers: [this.registry],
  });
  readonly batchesWritten = new client.Counter({
    name: 'mds_worker_batches_written_total',
    help: 'Batches committed to PostgreSQL.',
    labelNames: ['coord_id', 'worker_id'],
    registers: [this.registry],
  });
  readonly writeErrors = new client.Counter({
    name: 'mds_worker_write_errors_total',
    help: 'Failed batch write attempts (each is retried), by error type (SQLSTATE or Node code).',
    labelNames: ['coord_id', 'worker_id', 'error_type'],
    registers: [this.registry],
  });
  readonly writeLatency = new client.Histogram({
    name: 'mds_worker_write_latency_seconds',
    help: 'Duration of one committed batch transaction.',
    labelNames: ['coord_id', 'worker_id'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  // --- Kafka sink additions ---------------------------------------------------------
  readonly queueBytes = new client.Gauge({
    name: 'mds_queue_bytes',
    help: 'Bytes held between the consumer and the writers.',
    registers: [this.registry],
  });
  readonly consumerLag = new client.Gauge({
    name: 'mds_consumer_lag',
    help: 'Records behind the partition high watermark (high watermark − next offset committed in PostgreSQL).',
    labelNames: ['topic', 'partition'],
    registers: [this.registry],
  });
  readonly pausedPartitions = new client.Gauge({
    name: 'mds_consumer_paused_partitions',
    help: 'Assigned partitions currently paused by backpressure.',
    registers: [this.registry],
  });
  readonly pauseEvents = new client.Counter({
    name: 'mds_consumer_pause_events_total',
    help: 'Backpressure transitions: pause (high watermark crossed) and resume (under low watermark).',
    labelNames: ['event'],
    registers: [this.registry],
  });
  readonly rebalances = new client.Counter({
    name: 'mds_consumer_rebalances_total',
    help: 'Group joins completed by this member.',
    registers: [this.registry],
  });
  readonly assignedPartitions = new client.Gauge({
    name: 'mds_consumer_assigned_partitions',
    help: 'Partitions assigned to this member.',
    registers: [this.registry],
  });
  readonly batchSize = new client.Histogram({
    name: 'mds_batch_size_records',
    help: 'Records per committed batch.',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers: [this.registry],
  });
  readonly rowsWritten = new client.Counter({
    name: 'mds_rows_written_total',
    help: 'Rows written per table (after in-batch dedup).',
    labelNames: ['table'],
    registers: [this.registry],
  });
  readonly recordsApplied = new client.Counter({
    name: 'mds_records_applied_total',
    help: 'Records whose offsets were committed in PostgreSQL, by outcome (written, collapsed, dead_lettered, skipped).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly e2eLatency = new client.Histogram({
    name: 'mds_end_to_end_latency_seconds',
    help: 'Commit time minus the record timestamp.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly dlqRecords = new client.Counter({
    name: 'mds_dlq_records_total',
    help: 'Records written to a DLQ destination (topic, file), by reason.',
    labelNames: ['destination', 'reason'],
    registers: [this.registry],
  });
  readonly commitLatency = new client.Histogram({
    name: 'mds_kafka_commit_latency_seconds',
    help: 'Duration of the Kafka offset commit that mirrors PostgreSQL.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly commitFailures = new client.Counter({
    name: 'mds_kafka_commit_failures_total',
    help: 'Kafka offset commits that failed and are retried, by reason (broker error or client error name).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly overflowPendingRecords = new client.Gauge({
    name: 'mds_overflow_pending_records',
    help: 'drop_oldest: dropped records waiting for their DLQ write (fetching pauses at QUEUE_OVERFLOW_PENDING_RECORDS).',
    registers: [this.registry],
  });
  readonly overflowPendingBytes = new client.Gauge({
    name: 'mds_overflow_pending_bytes',
    help: 'drop_oldest: bytes of dropped records waiting for their DLQ write.',
    registers: [this.registry],
  });
  readonly retryAttempts = new client.Counter({
    name: 'mds_retry_attempts_total',
    help: 'Failed batch write attempts, by the verdict acted on (transient, record, undecided, environment).',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly environmentError = new client.Gauge({
    name: 'mds_sink_environment_error',
    help: '1 for each SQLSTATE (or error code) holding sink writes because of the environment (missing table, permission denied, read-only database), not of a record; no series when none.',
    labelNames: ['sqlstate'],
    registers: [this.registry],
  });
  readonly breakerTransitions = new client.Counter({
    name: 'mds_circuit_transitions_total',
    help: 'Circuit breaker transitions, by target state.',
    labelNames: ['to'],
    registers: [this.registry],
  });
  readonly ready = new client.Gauge({
    name: 'mds_ready',
    help: '1 when /readyz answers ready (joined, database reachable, breaker not open).',
    registers: [this.registry],
  });

  /** Shows exactly these environment holds (see metrics/health.ts EnvironmentHolds). */
  showEnvironmentErrors(holds: readonly { readonly sqlState: string }[]): void {
    this.environmentError.reset();
    for (const h of holds) this.environmentError.set({ sqlstate: h.sqlState }, 1);
  }

  constructor(withDefaults = true) {
    if (withDefaults) client.collectDefaultMetrics({ register: this.registry });
  }
}
