// The components startSink connects, each built from its settings and the few collaborators
// it is given: the database control plane, the dead-letter destinations, the queue and its
// overflow gate, the dispatcher, the Kafka committer, the writer and the worker pool. Nothing
// here starts fetching or holds state beyond the objects it returns.
import pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig, LoadedConfig } from '../config/load-config.js';
import { explainDatabaseConnectError, pgClientConfig } from '../config/database-connection.js';
import { DualDeadLetterSink } from '../dlq/dual-dlq.js';
import { NdjsonDeadLetterSink } from '../dlq/file/writer.js';
import { KafkaTopicDeadLetterSink } from '../dlq/topic/writer.js';
import { Backpressure, type BackpressureDeps } from '../kafka/backpressure.js';
import { checkKafkaSecurity, createKafka } from '../kafka/kafka-client.js';
import { OffsetCommitter, type CommitTarget } from '../kafka/offset-committer.js';
import type { RebalanceHandler } from '../kafka/rebalance.js';
import { SinkConsumer } from '../kafka/sink-consumer.js';
import type { LagTracker } from '../metrics/lag-tracker.js';
import type { SinkInstrumentation } from '../metrics/instrumentation.js';
import { BoundedQueue } from '../pipeline/bounded-queue.js';
import { Dispatcher, laneOf } from '../pipeline/dispatcher.js';
import { OverflowGate } from '../pipeline/overflow-gate.js';
import { buildRoutes } from '../pipeline/routes.js';
import type { SinkRecord } from '../core/sink-record.js';
import { RetryPolicy } from '../resilience/retry-policy.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { BatchWriter } from '../sink/batch-writer.js';
import type { LaneInbox } from '../sink/lane-inbox.js';
import { checkMappedTables, migrate } from '../sink/migrate.js';
import { SinkConnection } from '../sink/sink-connection.js';
import { SinkWorker, type SinkWorkerOptions } from '../sink/sink-worker.js';
import type { OffsetStore } from '../sink/offset-store.js';
import type { TableSql } from '../sink/table-sql.js';
import { WritesInFlight } from '../sink/writes-in-flight.js';
import { unlessAborted } from '../util/bounded-wait.js';
import type { Releasers } from '../util/releasers.js';
import type { Clock } from '../core/clock.js';
import { KAFKA_COMMIT } from './constants.js';
import type { Shutdown } from './shutdown.js';

/** Two connections for migrations, the table check, stored offsets on assignment and readiness. */
export function createControlPool(config: AppConfig): pg.Pool {
  const control = new pg.Pool({
    ...pgClientConfig(config.database, { applicationName: `${config.kafka.clientId}:control` }),
    max: 2,
  });
  control.on('error', () => undefined); // idle client errors surface on the next query
  return control;
}

/** Migrations (when migrateOnStart) and the mapped tables' check; an abort gives both up. */
export async function prepareDatabase(
  control: pg.Pool,
  { config, mappings }: LoadedConfig,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<void> {
  const schema = config.database.schema;
  // A client checked out after the abort is destroyed, or control.end() would wait for it.
  const connect = control.connect().catch((e: unknown) => {
    throw explainDatabaseConnectError(e, config.database);
  });
  const c = await unlessAborted('PostgreSQL connect', connect, signal, (late) => late.release(true));
  try {
    const steps = async (): Promise<void> => {
      if (config.database.migrateOnStart) await migrate(c, schema, log.child({ component: 'migrate' }));
      await checkMappedTables(c, schema, mappings.values());
    };
    await unlessAborted('migrations', steps(), signal);
  } finally {
    // Aborted mid-migration: the connection goes (its transaction rolls back), not back to the pool.
    c.release(signal?.aborted === true);
  }
}

/**
 * The Kafka side of the start: the security probe (one line for a TLS or SASL mistake), the
 * client, its admin connection and the dead-letter destinations, each released on stop.
 */
export async function connectKafka(
  config: AppConfig,
  log: Logger,
  releasers: Releasers,
  signal: AbortSignal | undefined,
): Promise<{ kafka: Kafka; admin: Admin; dlq: DualDeadLetterSink }> {
  await unlessAborted('Kafka security check', checkKafkaSecurity(config, log), signal);
  const kafka = createKafka(config, log);
  const admin = kafka.admin();
  releasers.add(() => admin.disconnect());
  await unlessAborted('Kafka admin connect', admin.connect(), signal);
  log.info({ brokers: config.kafka.brokers }, 'Kafka connected');
  const dlq = createDeadLetterSink(kafka, config, log);
  releasers.add(() => dlq.close());
  await unlessAborted('DLQ start', dlq.start(), signal);
  log.info({ topic: config.dlq.topic, dir: config.dlq.dir }, 'DLQ ready');
  return { kafka, admin, dlq };
}

/** Every dead letter goes to the DLQ topic and to the NDJSON file. */
function createDeadLetterSink(kafka: Kafka, config: AppConfig, log: Logger): DualDeadLetterSink {
  return new DualDeadLetterSink({
    topic: new KafkaTopicDeadLetterSink({
      kafka,
      topic: config.dlq.topic,
      logger: log.child({ component: 'dlq-topic' }),
    }),
    file: new NdjsonDeadLetterSink({ dir: config.dlq.dir, maxFileBytes: config.dlq.maxFileBytes }),
  });
}

export type WorkerPoolDeps = Pick<
  SinkWorkerOptions,
  'queue' | 'inbox' | 'writer' | 'breaker' | 'retry' | 'clock' | 'hooks' | 'log'
> & { readonly tables: readonly TableSql[] };

/** sink.workers workers, each with its own connection, sharing the queue, breaker and writer. */
export function createWorkers(config: AppConfig, d: WorkerPoolDeps): SinkWorker[] {
  const writes = new WritesInFlight();
  return Array.from(
    { length: config.sink.workers },
    (_, id) =>
      new SinkWorker({
        id,
        queue: d.queue,
        inbox: d.inbox,
        writer: d.writer,
        breaker: d.breaker,
        retry: d.retry,
        clock: d.clock,
        openConnection: () =>
          SinkConnection.open(
            pgClientConfig(config.database, {
              applicationName: `${config.kafka.clientId}:worker-${id}`,
              statementTimeout: true,
            }),
            d.tables,
          ),
        batchSize: config.sink.batchSize,
        maxBatchSize: config.sink.maxBatchSize,
        flushIntervalMs: config.sink.flushIntervalMs,
        writes,
        hooks: d.hooks,
        log: d.log.child({ component: 'worker', worker: id }),
      }),
  );
}

/** Retries with backoff and the circuit breaker the workers share; breaker changes are instrumented. */
export function createResilience(
  config: AppConfig,
  d: { readonly random: () => number; readonly clock: Clock; readonly instrument: SinkInstrumentation },
): { retry: RetryPolicy; breaker: CircuitBreaker } {
  const retry = new RetryPolicy(config.retry, d.random);
  const breaker = new CircuitBreaker({
    failureThreshold: config.breaker.failureThreshold,
    openMs: config.breaker.openMs,
    clock: d.clock,
    onTransition: (from, to) => d.instrument.breakerTransition(from, to),
  });
  return { retry, breaker };
}

/**
 * Pauses and resumes fetching from the queue's watermarks (block) or only from the overflow
 * gate (drop_oldest), instrumented, with its periodic info summary.
 */
export function createBackpressure(
  config: AppConfig,
  d: Pick<BackpressureDeps, 'consumer' | 'isStopping' | 'clock' | 'log' | 'onTransition'> & {
    readonly instrument: SinkInstrumentation;
  },
): Backpressure {
  return new Backpressure({
    consumer: d.consumer,
    pauseOnHighWatermark: config.queue.overflow === 'block',
    isStopping: d.isStopping,
    onTransition: (event, stats) => {
      d.instrument.fetching(event);
      d.onTransition(event, stats);
    },
    clock: d.clock,
    summaryIntervalMs: config.log.backpressureSummaryMs,
    log: d.log,
  });
}

/** The queue between the consumer and the workers; its watermarks drive backpressure. */
export function createQueue(
  config: AppConfig,
  lanes: number,
  backpressure: Backpressure,
): BoundedQueue<SinkRecord> {
  return new BoundedQueue<SinkRecord>({
    capacityRecords: config.queue.capacityRecords,
    capacityBytes: config.queue.capacityBytes,
    highWatermark: config.queue.highWatermark,
    lowWatermark: config.queue.lowWatermark,
    lanes,
    onHigh: (s) => backpressure.queueHigh(s),
    onLow: (s) => backpressure.queueLow(s),
  });
}

export interface OverflowGateDeps {
  readonly dlq: DualDeadLetterSink;
  readonly queue: BoundedQueue<SinkRecord>;
  readonly lanes: number;
  readonly inbox: LaneInbox;
  readonly retry: RetryPolicy;
  readonly backpressure: Backpressure;
  readonly instrument: SinkInstrumentation;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * drop_oldest: the records dropped from the queue wait here for their DLQ write. Once they
 * are durable, their offsets are committed by a worker holding their lane (see LaneInbox).
 */
export function createOverflowGate(config: AppConfig, d: OverflowGateDeps): OverflowGate {
  const gate: OverflowGate = new OverflowGate({
    dlq: d.dlq,
    clock: d.clock,
    log: d.log.child({ component: 'overflow' }),
    maxRecords: config.queue.overflowPendingRecords,
    maxBytes: config.queue.overflowPendingBytes,
    backoffMs: (attempt) => d.retry.backoffMs(attempt),
    onDropped: (entries) => {
      d.instrument.deadLettered(entries);
      for (const e of entries)
        d.inbox.add(laneOf(e.topic, e.partition, d.lanes), [
          { topic: e.topic, partition: e.partition, nextOffset: e.offset + 1 },
        ]);
      d.queue.notify();
    },
    onFull: () => d.backpressure.gateFull(d.queue.stats(), gate.stats()),
    onRoom: () => d.backpressure.gateRoom(d.queue.stats(), gate.stats()),
  });
  return gate;
}

export function createDispatcher(
  { config, mappings }: LoadedConfig,
  d: { queue: BoundedQueue<SinkRecord>; gate: OverflowGate; lanes: number; clock: Clock },
): Dispatcher {
  return new Dispatcher({
    queue: d.queue,
    lanes: d.lanes,
    routes: buildRoutes(mappings, {
      tombstones: config.tombstones,
      defaultTenantId: config.defaultTenantId === '' ? undefined : config.defaultTenantId,
      maxMessageBytes: config.maxMessageBytes,
    }),
    tombstones: config.tombstones,
    overflow: config.queue.overflow,
    now: () => d.clock.now(),
    overflowAdmits: (bytes) => d.gate.admits(bytes),
    onOverflowDrop: (dropped) => d.gate.drop(dropped),
  });
}

/** Mirrors PostgreSQL's offsets to Kafka; its close is bounded by shutdown.timeoutMs too. */
export function createCommitter(
  config: AppConfig,
  d: { target: CommitTarget; instrument: SinkInstrumentation; clock: Clock; log: Logger },
): OffsetCommitter {
  return new OffsetCommitter({
    target: d.target,
    clock: d.clock,
    log: d.log.child({ component: 'committer' }),
    ...KAFKA_COMMIT,
    closeTimeoutMs: Math.min(KAFKA_COMMIT.closeTimeoutMs, config.shutdown.timeoutMs),
    onCommitted: (_o, ms) => d.instrument.kafkaCommitted(ms),
    onFailed: (reason) => d.instrument.kafkaCommitFailed(reason),
  });
}

/** Under drop_oldest a batch commits only once the gate's pending DLQ writes are settled. */
export function createWriter(
  config: AppConfig,
  d: {
    tables: ReadonlyMap<string, TableSql>;
    offsets: OffsetStore;
    dlq: DualDeadLetterSink;
    gate: OverflowGate;
    clock: Clock;
  },
): BatchWriter {
  return new BatchWriter({
    tables: d.tables,
    offsets: d.offsets,
    dlq: d.dlq,
    workerId: `${config.kafka.clientId}:${process.pid}`,
    now: () => d.clock.now(),
    ...(config.queue.overflow === 'drop_oldest' ? { beforeCommit: () => d.gate.settled() } : {}),
  });
}

/**
 * The group member: rebalances go to the handler, fetched high watermarks to the lag
 * tracker, and a crash KafkaJS does not recover from stops the sink.
 */
export function createConsumer(
  kafka: Kafka,
  config: AppConfig,
  topics: readonly string[],
  dispatcher: Dispatcher,
  d: {
    rebalance: RebalanceHandler;
    lag: LagTracker;
    instrument: SinkInstrumentation;
    shutdown: Shutdown;
    onJoined: (assigned: number) => void;
    log: Logger;
  },
): SinkConsumer {
  const { rebalance, lag, instrument, shutdown, onJoined, log } = d;
  return new SinkConsumer(
    kafka,
    config,
    topics,
    dispatcher,
    {
      onAssignment: (change) => rebalance.onAssignment(change),
      readStoredOffsets: (added) => rebalance.readStoredOffsets(added),
      onBatchFetched: (topic, partition, n, hw) => {
        lag.highWatermark(topic, partition, Number(hw));
        instrument.batchFetched(topic, n);
      },
      onCrash: (e, restart) => {
        log.error(
          { err: e, restart },
          restart ? 'consumer crashed; KafkaJS restarts it' : 'consumer crashed for good',
        );
        if (!restart) shutdown.fail(e);
      },
      onFatal: (e) => shutdown.fail(e),
      onJoined,
    },
    log.child({ component: 'consumer' }),
  );
}
