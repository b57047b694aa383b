// Wires the pipeline — kafka/ → pipeline/ → sink/, with dlq/, resilience/ and metrics/ —
// and owns its lifecycle: `startSink()` returns a handle whose `stop()` drains (pause
// fetching, write what is queued, commit, leave the group) and whose `done` settles when
// the member has stopped, rejecting if it stopped because of a fatal error or because the
// drain outlived shutdown.timeoutMs. An aborted `deps.signal` abandons the start: what was
// started is closed in reverse and startSink rejects with AbortedError.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { LoadedConfig } from './config/load-config.js';
import { createKafka } from './kafka/kafka-client.js';
import { SinkConsumer } from './kafka/sink-consumer.js';
import { OffsetCommitter } from './kafka/offset-committer.js';
import type { AssignmentChange, TopicPartition } from './kafka/assignment.js';
import { BoundedQueue } from './pipeline/bounded-queue.js';
import { createDecoder } from './pipeline/decode.js';
import { Dispatcher, laneOf } from './pipeline/dispatcher.js';
import { OverflowGate } from './pipeline/overflow-gate.js';
import { tpKey, type PartitionOffset, type SinkRecord } from './core/sink-record.js';
import { CircuitBreaker } from './resilience/circuit-breaker.js';
import { RetryPolicy } from './resilience/retry-policy.js';
import { BatchWriter, type BatchResult } from './sink/batch-writer.js';
import { checkMappedTables, migrate } from './sink/migrate.js';
import { OffsetStore } from './sink/offset-store.js';
import { SinkConnection } from './sink/sink-connection.js';
import { SinkWorker } from './sink/sink-worker.js';
import { LaneInbox } from './sink/lane-inbox.js';
import { buildTableSql, type TableSql } from './sink/table-sql.js';
import { DualDeadLetterSink } from './dlq/dual-dlq.js';
import { KafkaTopicDeadLetterSink } from './dlq/topic-dlq.js';
import { NdjsonDeadLetterSink } from './dlq/ndjson-dlq.js';
import type { DeadLetter } from './core/dead-letter.js';
import { SinkMetrics } from './metrics/sink-metrics.js';
import { MetricsServer } from './metrics/http-server.js';
import { LagTracker } from './metrics/lag-tracker.js';
import { EnvironmentHolds, SinkHealth } from './metrics/health.js';
import { systemClock, type Clock } from './core/clock.js';
import { AbortedError, SinkError, toError } from './core/errors.js';
import { settlesWithin, unlessAborted } from './util/bounded-wait.js';

/** Queue lanes partitions are hashed to (at least one per worker). */
const QUEUE_LANES = 64;
/**
 * Stopping the workers gets this long, and the last Kafka commit at least this long (more
 * if the drain left time): both usually take milliseconds, but a hung database or broker
 * must not hold the exit.
 */
const STOP_STEP_MS = 1000;

export interface SinkDeps {
  readonly log: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly metrics?: SinkMetrics;
  /** Start the HTTP server (default true). */
  readonly http?: boolean;
  /** Aborts the start (a signal during start-up): every start-up wait is given up at once. */
  readonly signal?: AbortSignal;
}

export interface SinkHandle {
  /**
   * Graceful: stop fetching, drain, commit, leave the group. The drain is bounded by
   * shutdown.timeoutMs; past it, open transactions are rolled back, the member leaves, and
   * `done` rejects with SinkError code SHUTDOWN_TIMED_OUT.
   */
  stop(): Promise<void>;
  /** Immediate: abandon queued and in-flight work (it is re-read later), leave. */
  kill(): Promise<void>;
  /** Settles when the member has stopped; rejects when a fatal error stopped it. */
  readonly done: Promise<void>;
  readonly metrics: SinkMetrics;
  readonly metricsPort: number;
  readonly consumer: SinkConsumer;
  readonly queue: BoundedQueue<SinkRecord>;
  readonly health: SinkHealth;
  /** 'pause' / 'resume' (with QueueStats) on every backpressure transition. */
  readonly events: EventEmitter;
  /** drop_oldest: dropped records waiting for their DLQ write. */
  readonly overflowGate: OverflowGate;
}

export async function startSink(loaded: LoadedConfig, deps: SinkDeps): Promise<SinkHandle> {
  const { config, mappings } = loaded;
  const log = deps.log;
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? new SinkMetrics();
  const coord = config.kafka.groupId;
  const schema = config.database.schema;
  const topics = [...mappings.keys()];
  const signal = deps.signal;
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        log.warn({ err: toError(e) }, 'error while closing');
      }
    }
  };

  try {
    // --- database control plane: migrations, table check, offsets on assignment, readiness
    const control = new pg.Pool({
      connectionString: config.database.url,
      max: 2,
      connectionTimeoutMillis: config.database.connectTimeoutMs,
      application_name: `${config.kafka.clientId}:control`,
    });
    control.on('error', () => undefined); // idle client errors surface on the next query
    closers.push(() => control.end());
    // A client checked out after the abort is destroyed, or control.end() would wait for it.
    const c = await unlessAborted('PostgreSQL connect', control.connect(), signal, (late) =>
      late.release(true),
    );
    try {
      await unlessAborted(
        'migrations',
        (async () => {
          if (config.database.migrateOnStart) await migrate(c, schema, log.child({ component: 'migrate' }));
          await checkMappedTables(c, schema, mappings.values());
        })(),
        signal,
      );
    } finally {
      // Aborted mid-migration: the connection goes (its transaction rolls back), not back to the pool.
      c.release(signal?.aborted === true);
    }

    // --- Kafka client, DLQ destinations
    const kafka: Kafka = createKafka(config, log);
    const admin: Admin = kafka.admin();
    closers.push(() => admin.disconnect());
    await unlessAborted('Kafka admin connect', admin.connect(), signal);
    const topicDlq = new KafkaTopicDeadLetterSink({
      kafka,
      topic: config.dlq.topic,
      logger: log.child({ component: 'dlq-topic' }),
    });
    const fileDlq = new NdjsonDeadLetterSink({ dir: config.dlq.dir, maxFileBytes: config.dlq.maxFileBytes });
    const dlq = new DualDeadLetterSink({ topic: topicDlq, file: fileDlq });
    closers.push(() => dlq.close());
    await unlessAborted('DLQ start', dlq.start(), signal);

    const countDeadLetters = (entries: readonly DeadLetter[]): void => {
      for (const d of entries) {
        metrics.itemsDropped.inc({ coord_id: coord, reason: d.reason });
        metrics.dlqRecords.inc({ destination: 'topic', reason: d.reason });
        metrics.dlqRecords.inc({ destination: 'file', reason: d.reason });
      }
      if (entries.length > 0) {
        const first = entries[0]!;
        log.warn(
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
    };
    // Partitions hash to lanes and any idle worker claims any lane (BoundedQueue.claimNext),
    // so lanes only need to outnumber the partitions one member usually owns.
    const lanes = Math.max(QUEUE_LANES, config.sink.workers);
    // Dropped records' offsets are committed, once they are durable in the DLQ, by a worker
    // holding their lane (see LaneInbox).
    const workers: SinkWorker[] = [];
    const inbox = new LaneInbox();
    const gate = new OverflowGate({
      dlq,
      clock,
      log: log.child({ component: 'overflow' }),
      maxRecords: config.queue.overflowPendingRecords,
      maxBytes: config.queue.overflowPendingBytes,
      backoffMs: (attempt) => retry.backoffMs(attempt),
      onDropped: (entries) => {
        countDeadLetters(entries);
        for (const d of entries) {
          inbox.add(laneOf(d.topic, d.partition, lanes), [
            { topic: d.topic, partition: d.partition, nextOffset: d.offset + 1 },
          ]);
        }
        queue.notify();
      },
      // The gate full (a DLQ slower than the input) pauses fetching, as the queue does under block.
      onFull: () => {
        if (consumer === null || stopping) return;
        consumer.pauseAll();
        metrics.pauseEvents.inc({ event: 'pause' });
        events.emit('pause', queue.stats());
        log.warn(gate.stats(), 'overflow gate full (the DLQ is slower than the input): partitions paused');
      },
      onRoom: () => {
        if (consumer === null || stopping) return;
        consumer.resumeAll();
        metrics.pauseEvents.inc({ event: 'resume' });
        events.emit('resume', queue.stats());
        log.info(gate.stats(), 'overflow gate has room again: partitions resumed');
      },
    });

    // --- queue, dispatcher, consumer
    let consumer: SinkConsumer | null = null;
    let stopping = false;
    const events = new EventEmitter();
    const pausing = config.queue.overflow === 'block';
    const queue = new BoundedQueue<SinkRecord>({
      capacityRecords: config.queue.capacityRecords,
      capacityBytes: config.queue.capacityBytes,
      highWatermark: config.queue.highWatermark,
      lowWatermark: config.queue.lowWatermark,
      lanes,
      onHigh: (s) => {
        if (!pausing || consumer === null) return;
        consumer.pauseAll();
        metrics.pauseEvents.inc({ event: 'pause' });
        events.emit('pause', s);
        log.info({ queued: s.records, bytes: s.bytes }, 'queue above high watermark: partitions paused');
      },
      onLow: (s) => {
        // A draining member fetches nothing more, whatever the queue's level.
        if (!pausing || consumer === null || stopping) return;
        consumer.resumeAll();
        metrics.pauseEvents.inc({ event: 'resume' });
        events.emit('resume', s);
        log.info({ queued: s.records, bytes: s.bytes }, 'queue under low watermark: partitions resumed');
      },
    });
    const decoderOptions = {
      defaultTenantId: config.defaultTenantId === '' ? undefined : config.defaultTenantId,
      maxMessageBytes: config.maxMessageBytes,
    };
    const routes = new Map(
      [...mappings].map(([topic, mapping]) => {
        const decoder = createDecoder(mapping, decoderOptions);
        if (config.tombstones !== 'delete' || mapping.mode === 'copy')
          return [topic, { mapping, decoder }] as const;
        // Tombstone keys carry only the conflict-key columns.
        const keyColumns = mapping.key.map((k) => ({
          ...mapping.columns.find((c) => c.name === k)!,
          required: true,
        }));
        const keyDecoder = createDecoder({ ...mapping, columns: keyColumns }, decoderOptions);
        return [topic, { mapping, decoder, keyDecoder }] as const;
      }),
    );
    const dispatcher = new Dispatcher({
      queue,
      lanes,
      routes,
      tombstones: config.tombstones,
      overflow: config.queue.overflow,
      now: () => clock.now(),
      overflowAdmits: (bytes) => gate.admits(bytes),
      onOverflowDrop: (dropped) => gate.drop(dropped),
    });

    // --- writers
    const tables = new Map<string, TableSql>();
    for (const m of mappings.values()) tables.set(m.table, buildTableSql(schema, m));
    const offsetStore = new OffsetStore(schema, config.kafka.groupId);
    const breaker = new CircuitBreaker({
      failureThreshold: config.breaker.failureThreshold,
      openMs: config.breaker.openMs,
      clock,
      onTransition: (from, to) => {
        metrics.breakerTransitions.inc({ to });
        log.warn({ from, to }, `circuit breaker ${from} → ${to}`);
      },
    });
    const retry = new RetryPolicy(config.retry, deps.random ?? Math.random);
    const lag = new LagTracker();
    let fatal: Error | null = null;
    let resolveDone!: () => void;
    let rejectDone!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    done.catch(() => undefined); // observed by the caller; avoid an unhandled rejection here

    const committer = new OffsetCommitter({
      target: {
        commitOffsets: (o) => consumer!.commitOffsets(o),
        owns: (t, p) => consumer?.owns(t, p) ?? false,
      },
      clock,
      log: log.child({ component: 'committer' }),
      intervalMs: 200,
      maxBackoffMs: 5000,
      attemptTimeoutMs: 10_000,
      closeTimeoutMs: Math.min(5000, config.shutdown.timeoutMs),
      warnEveryMs: 30_000,
      onCommitted: (_o, ms) => metrics.commitLatency.observe(ms / 1000),
      onFailed: (reason) => metrics.commitFailures.inc({ reason }),
    });
    closers.push(() => Promise.resolve(committer.abandon()));
    /** Offsets now in sink_offsets: lag, the dispatcher's floor, then the Kafka mirror. */
    const offsetsCommitted = (offsets: readonly PartitionOffset[]): void => {
      for (const o of offsets) {
        lag.committed(o.topic, o.partition, o.nextOffset);
        dispatcher.setFloor(o.topic, o.partition, o.nextOffset);
      }
      committer.add(offsets);
    };
    const onCommitted = (
      result: BatchResult,
      batch: readonly SinkRecord[],
      writeMs: number,
      workerId: number,
    ): void => {
      const w = String(workerId);
      metrics.batchesWritten.inc({ coord_id: coord, worker_id: w });
      metrics.writeLatency.observe({ coord_id: coord, worker_id: w }, writeMs / 1000);
      metrics.batchSize.observe(batch.length);
      let rows = 0;
      for (const [table, n] of result.rowsByTable) {
        metrics.rowsWritten.inc({ table }, n);
        rows += n;
      }
      metrics.recordsApplied.inc({ outcome: 'written' }, rows);
      metrics.recordsApplied.inc({ outcome: 'collapsed' }, result.collapsed);
      metrics.recordsApplied.inc({ outcome: 'dead_lettered' }, result.deadLetters.length);
      metrics.recordsApplied.inc({ outcome: 'skipped' }, result.skipped);
      countDeadLetters(result.deadLetters);
      const now = clock.now();
      // For the benchmark's exact latency percentiles; free when nobody listens.
      if (events.listenerCount('committed') > 0) events.emit('committed', batch, now);
      for (const r of batch) metrics.e2eLatency.observe(Math.max(0, now - r.timestamp) / 1000);
      offsetsCommitted(result.offsets);
    };
    const writer = new BatchWriter({
      tables,
      offsets: offsetStore,
      dlq,
      workerId: `${config.kafka.clientId}:${process.pid}`,
      now: () => clock.now(),
      ...(config.queue.overflow === 'drop_oldest' ? { beforeCommit: () => gate.settled() } : {}),
    });
    const environment = new EnvironmentHolds((holds) => metrics.showEnvironmentErrors(holds));
    for (let id = 0; id < config.sink.workers; id++) {
      workers.push(
        new SinkWorker({
          id,
          queue,
          inbox,
          writer,
          breaker,
          retry,
          clock,
          openConnection: () =>
            SinkConnection.open(
              {
                url: config.database.url,
                statementTimeoutMs: config.database.statementTimeoutMs,
                connectTimeoutMs: config.database.connectTimeoutMs,
                applicationName: `${config.kafka.clientId}:worker-${id}`,
              },
              [...tables.values()],
            ),
          batchSize: config.sink.batchSize,
          maxBatchSize: config.sink.maxBatchSize,
          flushIntervalMs: config.sink.flushIntervalMs,
          hooks: {
            onCommitted,
            onOffsetsAdvanced: offsetsCommitted,
            onAttemptFailed: (e, _attempt, workerId) => {
              metrics.writeErrors.inc({ coord_id: coord, worker_id: String(workerId), error_type: e.code });
              metrics.retryAttempts.inc({ kind: e.kind });
            },
            onEnvironment: (e, workerId) => environment.set(workerId, e),
          },
          log: log.child({ component: 'worker', worker: id }),
        }),
      );
    }

    const onAssignment = (change: AssignmentChange): void => {
      metrics.rebalances.inc();
      if (change.revoked.length > 0) {
        const gone = new Set(change.revoked.map((p) => tpKey(p.topic, p.partition)));
        // Queued records of partitions we lost are the new owner's to read; drop them here.
        const removed = queue.removeWhere((r) => gone.has(tpKey(r.topic, r.partition)));
        committer.forget(change.revoked);
        for (const p of change.revoked) {
          lag.forget(p.topic, p.partition);
          metrics.consumerLag.remove({ topic: p.topic, partition: String(p.partition) });
        }
        log.info({ revoked: change.revoked.length, discarded: removed.length }, 'partitions revoked');
      }
    };

    // Newly assigned partitions stay paused until this answers; the consumer then seeks
    // them to these offsets, ahead of or behind Kafka's committed ones (PostgreSQL is the
    // truth), and a rejection is retried with backoff (see PartitionPositioner).
    const readStoredOffsets = async (
      added: readonly TopicPartition[],
    ): Promise<ReadonlyMap<string, number>> => {
      const want = new Set(added.map((p) => tpKey(p.topic, p.partition)));
      const out = new Map<string, number>();
      for (const s of await offsetStore.read(control, [...new Set(added.map((p) => p.topic))])) {
        const k = tpKey(s.topic, s.partition);
        if (!want.has(k)) continue;
        out.set(k, s.nextOffset);
        lag.committed(s.topic, s.partition, s.nextOffset);
        // Kafka's mirror may be behind (its last commits failed before a crash or a move):
        // PostgreSQL's offset goes to Kafka too, which is idempotent when it is not.
        committer.add([s]);
      }
      return out;
    };

    const health = new SinkHealth({
      workers,
      queue,
      breaker,
      consumer: () => consumer,
      control,
      isStopping: () => stopping,
      fatal: () => fatal,
      environment,
    });

    consumer = new SinkConsumer(
      kafka,
      config,
      topics,
      dispatcher,
      {
        onAssignment,
        readStoredOffsets,
        onBatchFetched: (topic, partition, n, hw) => {
          lag.highWatermark(topic, partition, Number(hw));
          metrics.itemsSubmitted.inc({ coord_id: coord, topic }, n);
        },
        onCrash: (e, restart) => {
          log.error(
            { err: e, restart },
            restart ? 'consumer crashed; KafkaJS restarts it' : 'consumer crashed for good',
          );
          if (!restart) fail(e);
        },
        onFatal: (e) => fail(e),
      },
      log.child({ component: 'consumer' }),
    );
    const theConsumer = consumer;

    for (const w of workers) {
      w.start();
      w.done.catch((e: unknown) => fail(toError(e)));
    }
    closers.push(async () => {
      await Promise.all(workers.map((w) => w.stop()));
    });

    // --- metrics
    metrics.queueCapacity.set({ coord_id: coord }, config.queue.capacityRecords);
    const poll = setInterval(() => {
      const s = queue.stats();
      metrics.queueDepth.set({ coord_id: coord }, s.records);
      metrics.queueBytes.set(s.bytes);
      const g = gate.stats();
      metrics.overflowPendingRecords.set(g.records);
      metrics.overflowPendingBytes.set(g.bytes);
      metrics.workersAlive.set({ coord_id: coord }, workers.filter((w) => w.isAlive).length);
      metrics.circuitState.set({ coord_id: coord }, breaker.stateCode);
      metrics.assignedPartitions.set(theConsumer.assignment.size);
      metrics.pausedPartitions.set(theConsumer.isPaused ? theConsumer.assignment.size : 0);
      for (const l of lag.snapshot())
        metrics.consumerLag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
      void health.readiness().then((r) => metrics.ready.set(r.ok ? 1 : 0));
    }, config.metrics.queuePollMs);
    poll.unref();
    closers.push(() => Promise.resolve(clearInterval(poll)));
    const watermarks = setInterval(() => {
      void (async () => {
        for (const topic of topics) {
          try {
            for (const p of await admin.fetchTopicOffsets(topic)) {
              if (theConsumer.owns(topic, p.partition)) lag.highWatermark(topic, p.partition, Number(p.high));
            }
          } catch {
            // broker away: the next round will tell
          }
        }
      })();
    }, 5000);
    watermarks.unref();
    closers.push(() => Promise.resolve(clearInterval(watermarks)));

    let server: MetricsServer | null = null;
    let metricsPort = 0;
    if (deps.http !== false) {
      server = new MetricsServer(metrics.registry, health, config.metrics.host, config.metrics.port);
      const s = server;
      closers.push(() => s.close());
      metricsPort = await unlessAborted('metrics server start', s.start(), signal);
    }

    // Consumer last: only fetch once everything downstream is ready. Aborted during the
    // join, its stop waits for the join to end and then leaves the group.
    closers.push(() => theConsumer.stop());
    await unlessAborted('consumer group join', theConsumer.start(), signal);
    if (signal?.aborted === true) throw new AbortedError('start');
    log.info({ topics, workers: config.sink.workers, metricsPort, schema }, 'market-data-sink started');

    let stopPromise: Promise<void> | null = null;
    const shutdown = (drain: boolean, reason: Error | null): Promise<void> => {
      stopPromise ??= (async () => {
        stopping = true;
        theConsumer.stopFetching();
        const started = clock.now();
        let timedOut = false;
        if (drain) {
          // The whole drain is bounded, retries, backoff and breaker waits included: a
          // database that is down keeps the workers retrying until they are stopped.
          const drained = Promise.all(workers.map((w) => w.drain()));
          timedOut = !(await settlesWithin(drained, config.shutdown.timeoutMs, clock));
          if (timedOut)
            log.warn(
              { timeoutMs: config.shutdown.timeoutMs },
              'drain did not finish in time: open transactions are rolled back, the rest is re-read later',
            );
        }
        // After the drain, which may still need the gate's DLQ writes; before the workers stop,
        // so none is left waiting on a write that will not be retried.
        gate.close();
        // Ends retries and waits, and closes the connections: an open transaction is rolled back.
        if (!(await settlesWithin(Promise.all(workers.map((w) => w.stop())), STOP_STEP_MS, clock)))
          log.warn('workers did not stop in time; leaving the group regardless');
        // Offsets PostgreSQL holds go to Kafka last, with what is left of the deadline (at
        // least STOP_STEP_MS); nothing else is committed anywhere.
        if (drain) {
          const left = started + config.shutdown.timeoutMs - clock.now();
          await settlesWithin(committer.close(), Math.max(STOP_STEP_MS, left), clock);
        }
        await closeAll();
        const s = queue.stats();
        log.info(
          {
            drained: drain && !timedOut,
            ms: clock.now() - started,
            leftInQueue: s.records,
            submitted: dispatcher.stats.submitted,
          },
          'market-data-sink stopped',
        );
        if (reason !== null) rejectDone(reason);
        else if (timedOut)
          rejectDone(
            new SinkError(
              'SHUTDOWN_TIMED_OUT',
              `the drain did not finish within SHUTDOWN_TIMEOUT_MS (${config.shutdown.timeoutMs} ms); uncommitted records are re-read on restart`,
            ),
          );
        else resolveDone();
      })();
      return stopPromise;
    };
    const fail = (e: Error): void => {
      if (fatal !== null) return;
      fatal = e;
      log.error({ err: e }, `stopping: ${e.message}`);
      void shutdown(false, e);
    };

    return {
      stop: () => shutdown(true, null),
      kill: () => shutdown(false, null),
      done,
      metrics,
      metricsPort,
      consumer: theConsumer,
      queue,
      health,
      events,
      overflowGate: gate,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
