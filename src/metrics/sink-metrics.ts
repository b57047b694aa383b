// Every Prometheus metric of the sink, on one registry. The seed coordinator's names are
// kept with their meaning adapted to Kafka (items = Kafka records; "dropped" = sent to the
// DLQ), so existing dashboards carry over. Labels stay low-cardinality: no keys or offsets.
import client from 'prom-client';

export class SinkMetrics {
  readonly registry = new client.Registry();

  // --- seed names -------------------------------------------------------------------
  // The seed's per-sink metrics, sink = table: one write attempt per table in a batch (the
  // seed wrote one table per call), status success when the batch committed, failure when
  // the attempt failed (it is retried). Buckets are the seed's (the Python client's default).
  readonly sinkWrites = counter(this.registry, 'sink_writes_total', ['sink', 'status']);
  readonly sinkWriteLatency = histogram(
    this.registry,
    'sink_write_latency_seconds',
    ['sink'],
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  );
  readonly itemsSubmitted = counter(this.registry, 'mds_coord_items_submitted_total', ['coord_id', 'topic']);
  readonly itemsDropped = counter(this.registry, 'mds_coord_items_dropped_total', ['coord_id', 'reason']);
  readonly queueDepth = gauge(this.registry, 'mds_coord_queue_depth', ['coord_id']);
  readonly queueCapacity = gauge(this.registry, 'mds_coord_queue_capacity', ['coord_id']);
  readonly workersAlive = gauge(this.registry, 'mds_coord_workers_alive', ['coord_id']);
  readonly circuitState = gauge(this.registry, 'mds_coord_circuit_state', ['coord_id']);
  readonly batchesWritten = counter(this.registry, 'mds_worker_batches_written_total', [
    'coord_id',
    'worker_id',
  ]);
  readonly writeErrors = counter(this.registry, 'mds_worker_write_errors_total', [
    'coord_id',
    'worker_id',
    'error_type',
  ]);
  readonly writeLatency = histogram(
    this.registry,
    'mds_worker_write_latency_seconds',
    ['coord_id', 'worker_id'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );

  // --- Kafka sink additions ---------------------------------------------------------
  readonly queueBytes = gauge(this.registry, 'mds_queue_bytes', []);
  readonly consumerLag = gauge(this.registry, 'mds_consumer_lag', ['topic', 'partition']);
  readonly pausedPartitions = gauge(this.registry, 'mds_consumer_paused_partitions', []);
  readonly pauseEvents = counter(this.registry, 'mds_consumer_pause_events_total', ['event']);
  readonly rebalances = counter(this.registry, 'mds_consumer_rebalances_total', []);
  readonly assignedPartitions = gauge(this.registry, 'mds_consumer_assigned_partitions', []);
  readonly batchSize = histogram(
    this.registry,
    'mds_batch_size_records',
    [],
    [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
  );
  readonly rowsWritten = counter(this.registry, 'mds_rows_written_total', ['table']);
  readonly recordsApplied = counter(this.registry, 'mds_records_applied_total', ['outcome']);
  readonly e2eLatency = histogram(
    this.registry,
    'mds_end_to_end_latency_seconds',
    [],
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  readonly dlqRecords = counter(this.registry, 'mds_dlq_records_total', ['destination', 'reason']);
  readonly commitLatency = histogram(
    this.registry,
    'mds_kafka_commit_latency_seconds',
    [],
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  );
  readonly commitFailures = counter(this.registry, 'mds_kafka_commit_failures_total', ['reason']);
  readonly overflowPendingRecords = gauge(this.registry, 'mds_overflow_pending_records', []);
  readonly overflowPendingBytes = gauge(this.registry, 'mds_overflow_pending_bytes', []);
  readonly retryAttempts = counter(this.registry, 'mds_retry_attempts_total', ['kind']);
  readonly environmentError = gauge(this.registry, 'mds_sink_environment_error', ['sqlstate']);
  readonly breakerTransitions = counter(this.registry, 'mds_circuit_transitions_total', ['to']);
  readonly ready = gauge(this.registry, 'mds_ready', []);

  /** Shows exactly these environment holds (see metrics/health.ts EnvironmentHolds). */
  showEnvironmentErrors(holds: readonly { readonly sqlState: string }[]): void {
    this.environmentError.reset();
    for (const h of holds) this.environmentError.set({ sqlstate: h.sqlState }, 1);
  }

  constructor(withDefaults = true) {
    if (withDefaults) client.collectDefaultMetrics({ register: this.registry });
  }
}

/** Each metric's HELP text, by name: a metric cannot be declared without one. */
const HELP = {
  sink_writes_total: 'Sink write attempts per table (sink), by status (success, failure).',
  sink_write_latency_seconds: 'Duration of the committed batch transaction that wrote to this table (sink).',
  mds_coord_items_submitted_total: 'Kafka records handed to the write queue.',
  mds_coord_items_dropped_total:
    'Records set aside to the DLQ instead of the table, by reason (decode, validation, database, overflow, tombstone).',
  mds_coord_queue_depth: 'Records held between the consumer and the writers (queued + being written).',
  mds_coord_queue_capacity: 'Queue capacity in records.',
  mds_coord_workers_alive: 'Sink workers running.',
  mds_coord_circuit_state: 'Database circuit breaker: 0 closed, 1 open, 2 half-open.',
  mds_worker_batches_written_total: 'Batches committed to PostgreSQL.',
  mds_worker_write_errors_total:
    'Failed batch write attempts (each is retried), by error type (SQLSTATE or Node code).',
  mds_worker_write_latency_seconds: 'Duration of one committed batch transaction.',
  mds_queue_bytes: 'Bytes held between the consumer and the writers.',
  mds_consumer_lag:
    'Records behind the partition high watermark (high watermark − next offset committed in PostgreSQL).',
  mds_consumer_paused_partitions: 'Assigned partitions currently paused by backpressure.',
  mds_consumer_pause_events_total:
    'Backpressure transitions: pause (high watermark crossed) and resume (under low watermark).',
  mds_consumer_rebalances_total: 'Group joins completed by this member.',
  mds_consumer_assigned_partitions: 'Partitions assigned to this member.',
  mds_batch_size_records: 'Records per committed batch.',
  mds_rows_written_total: 'Rows written per table (after in-batch dedup).',
  mds_records_applied_total:
    'Records whose offsets were committed in PostgreSQL, by outcome (written, collapsed, dead_lettered, skipped).',
  mds_end_to_end_latency_seconds: 'Commit time minus the record timestamp.',
  mds_dlq_records_total: 'Records written to a DLQ destination (topic, file), by reason.',
  mds_kafka_commit_latency_seconds: 'Duration of the Kafka offset commit that mirrors PostgreSQL.',
  mds_kafka_commit_failures_total:
    'Kafka offset commits that failed and are retried, by reason (broker error or client error name).',
  mds_overflow_pending_records:
    'drop_oldest: dropped records waiting for their DLQ write (fetching pauses at QUEUE_OVERFLOW_PENDING_RECORDS).',
  mds_overflow_pending_bytes: 'drop_oldest: bytes of dropped records waiting for their DLQ write.',
  mds_retry_attempts_total:
    'Failed batch write attempts, by the verdict acted on (transient, record, undecided, environment).',
  mds_sink_environment_error:
    '1 for each SQLSTATE (or error code) holding sink writes because of the environment (missing table, permission denied, read-only database), not of a record; no series when none.',
  mds_circuit_transitions_total: 'Circuit breaker transitions, by target state.',
  mds_ready: '1 when /readyz answers ready (joined, database reachable, breaker not open).',
} as const;
type MetricName = keyof typeof HELP;

// One line per metric above; every metric goes on the sink's registry, never the global one.
const spec = <L extends string>(registry: client.Registry, name: MetricName, labelNames: readonly L[]) => ({
  name,
  help: HELP[name],
  labelNames,
  registers: [registry],
});
const counter = <L extends string>(r: client.Registry, name: MetricName, labels: readonly L[]) =>
  new client.Counter(spec(r, name, labels));
const gauge = <L extends string>(r: client.Registry, name: MetricName, labels: readonly L[]) =>
  new client.Gauge(spec(r, name, labels));
const histogram = <L extends string>(
  r: client.Registry,
  name: MetricName,
  labels: readonly L[],
  buckets: number[],
) => new client.Histogram({ ...spec(r, name, labels), buckets });
