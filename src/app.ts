// Wires the pipeline — kafka/ → pipeline/ → sink/, with dlq/, resilience/ and metrics/ —
// and owns its lifecycle: `startSink()` returns a handle whose `stop()` drains (pause
// fetching, write what is queued, commit, leave the group) and whose `done` settles when
// the member has stopped, rejecting if it stopped because of a fatal error or because the
// drain outlived shutdown.timeoutMs. An aborted `deps.signal` abandons the start: what was
// started is released in reverse and startSink rejects with AbortedError.
// Components are created in dependency order; the one cycle (the queue and the gate pause
// the consumer that feeds them) goes through the explicit LateBound `consumerRef`.
import { EventEmitter } from 'node:events';
import type { LoadedConfig } from './config/load-config.js';
import {
  createCommitter,
  connectKafka,
  createBackpressure,
  createConsumer,
  createControlPool,
  createDispatcher,
  createOverflowGate,
  createQueue,
  createResilience,
  createWorkers,
  createWriter,
  prepareDatabase,
} from './app/components.js';
import { QUEUE_LANES, STOP_STEP_MS } from './app/constants.js';
import type { SinkDeps, SinkEventMap, SinkEvents, SinkHandle } from './app/types.js';
import { createSinkHandle } from './app/handle.js';
import { startObservability } from './app/observability.js';
import { Shutdown } from './app/shutdown.js';
import { RebalanceHandler } from './kafka/rebalance.js';
import { SinkConsumer } from './kafka/sink-consumer.js';
import { LaneInbox } from './sink/lane-inbox.js';
import { OffsetStore } from './sink/offset-store.js';
import type { PartitionOffset } from './core/sink-record.js';
import { buildTableSql } from './sink/table-sql.js';
import { EnvironmentHolds, SinkHealth } from './metrics/health.js';
import { SinkInstrumentation } from './metrics/instrumentation.js';
import { LagTracker } from './metrics/lag-tracker.js';
import { SinkMetrics } from './metrics/sink-metrics.js';
import { AbortedError, toError } from './core/errors.js';
import { unlessAborted } from './util/bounded-wait.js';
import { systemClock } from './core/clock.js';
import { redactUrl } from './core/logger.js';
import { LateBound } from './util/late-bound.js';
import { Releasers } from './util/releasers.js';
import { fastRecordDecoder } from './kafka/fast-record-decoder.js';

export type { SinkDeps, SinkHandle } from './app/types.js';

export async function startSink(loaded: LoadedConfig, deps: SinkDeps): Promise<SinkHandle> {
  const { config, mappings } = loaded;
  const { log, signal } = deps;
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? new SinkMetrics();
  const coord = config.kafka.groupId;
  const schema = config.database.schema;
  const topics = [...mappings.keys()];
  const releasers = new Releasers((err) => log.warn({ err }, 'error while closing'));
  const { timeoutMs } = config.shutdown;
  const shutdown = new Shutdown({ clock, log, timeoutMs, stopStepMs: STOP_STEP_MS });
  const consumerRef = new LateBound<SinkConsumer>('consumer');
  const events: SinkEvents = new EventEmitter<SinkEventMap>();
  const instrument = new SinkInstrumentation(metrics, coord, log);

  try {
    // --- database control plane: migrations, table check, offsets on assignment, readiness
    const control = createControlPool(config);
    releasers.add(() => control.end());
    await prepareDatabase(control, loaded, log, signal);
    log.info({ database: redactUrl(config.database.url), schema }, 'database ready');

    // --- Kafka client, DLQ destinations
    const { kafka, admin, dlq } = await connectKafka(config, log, releasers, signal);

    // --- retry, breaker, lag
    const { retry, breaker } = createResilience(config, {
      random: deps.random ?? Math.random,
      clock,
      instrument,
    });
    const lag = new LagTracker();

    // --- queue, overflow gate, dispatcher. Partitions hash to lanes and any idle worker claims
    // any lane (BoundedQueue.claimNext), so lanes only need to outnumber one member's partitions.
    const lanes = Math.max(QUEUE_LANES, config.sink.workers);
    const backpressure = createBackpressure(config, {
      consumer: () => consumerRef.current,
      isStopping: () => shutdown.isStopping,
      onTransition: (event, stats) => events.emit(event, stats),
      instrument,
      clock,
      log,
    });
    releasers.add(backpressure.startSummaries());
    const queue = createQueue(config, lanes, backpressure);
    const inbox = new LaneInbox();
    const gate = createOverflowGate(config, {
      dlq,
      queue,
      lanes,
      inbox,
      retry,
      backpressure,
      instrument,
      clock,
      log,
    });
    const dispatcher = createDispatcher(loaded, { queue, gate, lanes, clock });

    // --- Kafka commits, rebalances
    const committer = createCommitter(config, {
      target: {
        commitOffsets: (o) => consumerRef.get().commitOffsets(o),
        owns: (t, p) => consumerRef.current?.owns(t, p) ?? false,
      },
      instrument,
      clock,
      log,
    });
    releasers.add(() => committer.abandon());
    const offsetStore = new OffsetStore(schema, config.kafka.groupId);
    const rebalance = new RebalanceHandler({
      queue,
      committer,
      lag,
      readOffsets: (topicsOf) => offsetStore.read(control, topicsOf),
      instrumentation: instrument,
      log,
    });

    // --- writers
    const tables = new Map([...mappings.values()].map((m) => [m.table, buildTableSql(schema, m)] as const));
    /** Offsets now in sink_offsets: lag, the dispatcher's floor, then the Kafka mirror. */
    const offsetsCommitted = (offsets: readonly PartitionOffset[]): void => {
      for (const o of offsets) {
        lag.committed(o.topic, o.partition, o.nextOffset);
        dispatcher.setFloor(o.topic, o.partition, o.nextOffset);
      }
      committer.add(offsets);
    };
    const writer = createWriter(config, { tables, offsets: offsetStore, dlq, gate, clock });
    const environment = new EnvironmentHolds((holds) => metrics.showEnvironmentErrors(holds));
    const workers = createWorkers(config, {
      queue,
      inbox,
      writer,
      breaker,
      retry,
      clock,
      tables: [...tables.values()],
      hooks: {
        onCommitted: (result, batch, writeMs, workerId) => {
          const now = clock.now();
          instrument.batchCommitted(result, batch, writeMs, workerId, now);
          // For the benchmark's exact latency percentiles; free when nobody listens.
          if (events.listenerCount('committed') > 0) events.emit('committed', batch, now, writeMs);
          offsetsCommitted(result.offsets);
        },
        onOffsetsAdvanced: offsetsCommitted,
        onAttemptFailed: (e, _attempt, workerId, batch) => instrument.attemptFailed(e, workerId, batch),
        onEnvironment: (e, workerId) => environment.set(workerId, e),
      },
      log,
    });

    // --- consumer, health, shutdown
    const consumer = consumerRef.bind(
      createConsumer(kafka, config, topics, dispatcher, {
        rebalance,
        lag,
        instrument,
        shutdown,
        onJoined: (assigned) => events.emit('joined', assigned),
        log,
      }),
    );
    const health = new SinkHealth({
      workers,
      queue,
      breaker,
      consumer: () => consumer,
      control,
      isStopping: () => shutdown.isStopping,
      fatal: () => shutdown.fatal,
      environment,
    });
    shutdown.attach({
      stopFetching: () => consumer.stopFetching(),
      drain: () => Promise.all(workers.map((w) => w.drain())),
      closeGate: () => gate.close(),
      stopWorkers: () => Promise.all(workers.map((w) => w.stop())),
      closeCommitter: () => committer.close(),
      releaseAll: () => releasers.releaseAll(),
      summary: () => ({ leftInQueue: queue.stats().records, submitted: dispatcher.stats.submitted }),
    });

    // --- start, downstream first
    for (const w of workers) {
      w.start();
      w.done.catch((e: unknown) => shutdown.fail(toError(e)));
    }
    releasers.add(async () => {
      await Promise.all(workers.map((w) => w.stop()));
    });
    const metricsPort = await startObservability(
      {
        config,
        metrics,
        topics,
        admin,
        queue,
        gate,
        workers,
        breaker,
        consumer,
        lag,
        health,
        environment,
        isStopping: () => shutdown.isStopping,
      },
      { http: deps.http !== false, releasers, log, ...(signal ? { signal } : {}) },
    );
    // Consumer last: only fetch once everything downstream is ready. Aborted during the
    // join, its stop waits for the join to end and then leaves the group.
    releasers.add(() => consumer.stop());
    await unlessAborted('consumer group join', consumer.start(), signal);
    if (signal?.aborted === true) throw new AbortedError('start');
    log.info(
      {
        topics,
        workers: config.sink.workers,
        metricsPort,
        schema,
        fastRecordDecoder: fastRecordDecoder.installed || fastRecordDecoder.reason,
      },
      'market-data-sink started',
    );

    return createSinkHandle({
      stop: () => shutdown.stop(true),
      kill: () => shutdown.stop(false),
      done: shutdown.done,
      metrics,
      metricsPort,
      events,
      consumer,
      queue,
      gate,
    });
  } catch (e) {
    await releasers.releaseAll();
    throw e;
  }
}
