// The KafkaJS consumer-group member: fetches with auto-commit and auto-resolve off, hands
// each batch to the dispatcher and resolves exactly the offsets it handed over, so KafkaJS
// never skips a record. Pausing is all-or-nothing over the subscribed topics (the queue is
// shared by all partitions): first by holding the batch handler (see hold()), then, if the
// queue stays high, by pausing the client, which keeps heartbeating while paused. Once
// stopFetching() ran (a stop began) nothing fetched is dispatched and nothing resumes.
// A newly assigned partition is paused from the group-join event on, until the
// PartitionPositioner has sought it to the offset stored in PostgreSQL; a partition kept
// through a rebalance is sought to the next offset the dispatcher expects, since KafkaJS
// would restart it at Kafka's committed offset, behind what is queued.
import { KafkaJSNonRetriableError, type Consumer, type EachBatchPayload, type Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config.js';
import type { Dispatcher } from '../pipeline/dispatcher.js';
import { AssignmentTracker, type AssignmentChange, type TopicPartition } from './assignment.js';
import { PartitionPositioner } from './partition-positioner.js';
import { systemClock, type Clock } from '../core/clock.js';
import { toError } from '../core/errors.js';

export interface SinkConsumerHooks {
  /** A new assignment arrived (after every join). Runs before fetching resumes for new partitions. */
  onAssignment(change: AssignmentChange): void;
  /**
   * next_offset per tpKey from PostgreSQL for these newly assigned partitions (those that
   * have one). They are not fetched until it answers; a rejection is retried with backoff.
   */
  readStoredOffsets(partitions: readonly TopicPartition[]): Promise<ReadonlyMap<string, number>>;
  onBatchFetched(
    topic: string,
    partition: number,
    count: number,
    highWatermark: string,
    lastOffset: string,
  ): void;
  /** The consumer crashed; `restart` tells whether KafkaJS will rejoin on its own. */
  onCrash(error: Error, restart: boolean): void;
  /** The dispatcher threw (e.g. queue.overflow=error): the member must stop. */
  onFatal(error: Error): void;
  /** This member joined the group (every generation, after onAssignment); `assigned` partitions. */
  onJoined?(assigned: number): void;
}

export class SinkConsumer {
  readonly consumer: Consumer;
  readonly assignment = new AssignmentTracker();
  private pausedAll = false;
  /** KafkaJS itself has the partitions paused (not just our hold inside onBatch). */
  private kafkaPaused = false;
  /** True while dispatch runs: a pause asked for then is applied by holding onBatch first. */
  private dispatching = false;
  /** End the holds in progress early (resume or stop); more than one with concurrent partitions. */
  private readonly wakers = new Set<() => void>();
  private joined = false;
  private stopped = false;
  /** A stop began: no batch is dispatched and no resume applies from now on. */
  private fetchStopped = false;
  private starting: Promise<void> | null = null;
  private readonly positioner: PartitionPositioner;

  constructor(
    kafka: Kafka,
    private readonly config: AppConfig,
    private readonly topics: readonly string[],
    private readonly dispatcher: Dispatcher,
    private readonly hooks: SinkConsumerHooks,
    private readonly log: Logger,
    clock: Clock = systemClock,
  ) {
    this.positioner = new PartitionPositioner({
      read: (partitions) => hooks.readStoredOffsets(partitions),
      target: {
        owns: (topic, partition) => !this.stopped && this.assignment.owns(topic, partition),
        seek: (topic, partition, offset) => this.seek(topic, partition, offset),
        positioned: (topic, partition, next) => dispatcher.open(topic, partition, next),
        release: (partitions) => this.release(partitions),
      },
      clock,
      log,
    });
    const k = config.kafka;
    this.consumer = kafka.consumer({
      groupId: k.groupId,
      sessionTimeout: k.sessionTimeoutMs,
      heartbeatInterval: k.heartbeatIntervalMs,
      rebalanceTimeout: k.rebalanceTimeoutMs,
      maxBytes: k.maxBytes,
      maxBytesPerPartition: k.maxBytesPerPartition,
      maxWaitTimeInMs: k.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10000 },
    });
    const { GROUP_JOIN, CRASH } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      const change = this.assignment.update(e.payload.memberAssignment);
      this.forget(change.revoked);
      // The event is emitted synchronously before KafkaJS fetches for the new generation,
      // so nothing of the added partitions is fetched before this pause.
      this.positioner.add(change.added);
      this.seekKept(e.payload.memberAssignment);
      // KafkaJS keeps paused state across rebalances but not across a crash-restart, and
      // newly assigned partitions start unpaused: re-apply our pause after every join.
      if (this.pausedAll) this.applyPause();
      else this.pauseWaiting();
      this.log.info(
        {
          assigned: this.assignment.size,
          added: change.added.length,
          revoked: change.revoked.length,
          memberId: e.payload.memberId,
          leader: e.payload.isLeader,
        },
        'joined consumer group',
      );
      hooks.onAssignment(change);
      hooks.onJoined?.(this.assignment.size);
    });
    this.consumer.on(CRASH, (e) => {
      this.joined = false;
      const revoked = this.assignment.clear();
      this.forget(revoked);
      if (revoked.length > 0) hooks.onAssignment({ added: [], revoked });
      hooks.onCrash(toError(e.payload.error), e.payload.restart);
    });
  }

  get isJoined(): boolean {
    return this.joined && !this.stopped;
  }

  get isPaused(): boolean {
    return this.pausedAll;
  }

  /** What KafkaJS itself has paused: whole topics under backpressure, or partitions awaiting their seek. */
  pausedByKafka(): { topic: string; partitions: number[] }[] {
    return this.consumer.paused();
  }

  assigned(): TopicPartition[] {
    return this.assignment.list();
  }

  /** Assigned partitions still paused until they are sought to their stored offset. */
  waitingForPosition(): TopicPartition[] {
    return this.positioner.waiting();
  }

  /** Connects, subscribes and joins the group: resolves once KafkaJS has joined. */
  start(): Promise<void> {
    this.starting ??= this.connectAndRun();
    return this.starting;
  }

  private async connectAndRun(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [...this.topics],
      fromBeginning: this.config.kafka.fromBeginning,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.config.kafka.partitionsConsumedConcurrently,
      eachBatch: (p) => this.onBatch(p),
    });
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    // After a stop began, a fetch already in flight is not queued: it is not resolved either,
    // so whoever owns the partition next reads it again.
    if (this.fetchStopped || messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
    if (!this.assignment.owns(topic, partition)) return;
    this.dispatching = true;
    try {
      // Not positioned yet (fetched around the pause, e.g. through a resumeAll): leave it
      // unresolved, it is fetched again from the offset sought to.
      if (!this.dispatcher.dispatch(topic, partition, messages)) return;
    } catch (e) {
      // Nothing of this batch is resolved: it is re-read by whoever owns the partition next.
      this.hooks.onFatal(toError(e));
      return;
    } finally {
      this.dispatching = false;
    }
    const last = messages[messages.length - 1]!;
    payload.resolveOffset(last.offset);
    this.hooks.onBatchFetched(topic, partition, messages.length, payload.batch.highWatermark, last.offset);
    await payload.heartbeat();
    if (this.pausedAll && !this.kafkaPaused) await this.hold(payload);
    // KafkaJS hands over a fetch's partitions back to back through promises only, so
    // PostgreSQL replies waiting in the writers would sit until the whole fetch is decoded.
    // One turn of the event loop per partition batch lets them run.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  pauseAll(): void {
    this.pausedAll = true;
    if (!this.dispatching || this.config.kafka.pauseHoldMs === 0) this.applyPause();
  }

  resumeAll(): void {
    if (this.fetchStopped) return;
    this.pausedAll = false;
    this.kafkaPaused = false;
    this.wakeHolds();
    this.whenRunning(() => this.consumer.resume(this.topics.map((topic) => ({ topic }))));
    this.pauseWaiting();
  }

  /**
   * Partitions waiting for their position stay paused. Only called while the topics are
   * not paused as a whole: KafkaJS's per-partition pause clears a whole-topic pause.
   */
  private pauseWaiting(): void {
    const waiting = byTopic(this.positioner.waiting());
    if (waiting.length > 0) this.whenRunning(() => this.consumer.pause(waiting));
  }

  /** Positioned partitions may be fetched, unless everything is paused (resumeAll will). */
  private release(partitions: readonly TopicPartition[]): void {
    if (this.kafkaPaused || this.stopped || this.fetchStopped) return;
    this.whenRunning(() => this.consumer.resume(byTopic(partitions)));
  }

  /** Revoked partitions: nothing of them is queued until they are assigned and positioned again. */
  private forget(revoked: readonly TopicPartition[]): void {
    this.positioner.revoke(revoked);
    for (const p of revoked) this.dispatcher.close(p.topic, p.partition);
  }

  /**
   * KafkaJS restarts every partition at Kafka's committed offset after a rebalance; for a
   * kept one that is behind what is already queued here. Seeking to the next expected
   * offset saves fetching those again (the dispatcher would drop them anyway).
   */
  private seekKept(memberAssignment: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(memberAssignment)) {
      for (const partition of partitions) {
        if (this.positioner.isPending(topic, partition)) continue;
        const next = this.dispatcher.nextExpected(topic, partition);
        if (next !== undefined) this.seek(topic, partition, next);
      }
    }
  }

  /** A stop began: pause for good; what is queued drains, nothing more is fetched. */
  stopFetching(): void {
    this.fetchStopped = true;
    this.pausedAll = true;
    this.applyPause();
    this.wakeHolds();
  }

  private applyPause(): void {
    this.kafkaPaused = this.whenRunning(() => this.consumer.pause(this.topics.map((topic) => ({ topic }))));
  }

  /**
   * Between a crash and its restart, and after stop, KafkaJS has no consumer group and its
   * pause/resume throw (seen when a broker came back just before shutdown). Nothing is lost
   * by skipping: a restarted group starts unpaused and the join handler re-applies our
   * pause. Returns whether `op` ran.
   */
  private whenRunning(op: () => void): boolean {
    try {
      op();
      return true;
    } catch (e) {
      if (e instanceof KafkaJSNonRetriableError && e.message.includes('not initialized')) return false;
      throw e;
    }
  }

  /**
   * Stops fetching without pausing the client: KafkaJS fetches again only after onBatch
   * returns. A paused client instead sleeps maxWaitTime between checks, so after a resume
   * the queue would run dry before the next fetch lands. Heartbeats go on; a
   * queue that stays high (a database outage) ends the hold with a real pause, which lets
   * the fetch loop, rebalances and shutdown run as usual.
   */
  private async hold(payload: EachBatchPayload): Promise<void> {
    const deadline = Date.now() + this.config.kafka.pauseHoldMs;
    while (this.pausedAll && !this.kafkaPaused && !this.fetchStopped && payload.isRunning()) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let wake = (): void => undefined;
      // Woken by resume or stop; otherwise every 100 ms to heartbeat (KafkaJS throttles it).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.wakers.add(wake);
      });
      this.wakers.delete(wake);
      await payload.heartbeat();
    }
    if (this.pausedAll && !this.kafkaPaused) this.applyPause();
  }

  private wakeHolds(): void {
    for (const w of this.wakers) w();
    this.wakers.clear();
  }

  private seek(topic: string, partition: number, offset: number): void {
    this.whenRunning(() => this.consumer.seek({ topic, partition, offset: String(offset) }));
  }

  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    await this.consumer.commitOffsets(offsets);
  }

  owns(topic: string, partition: number): boolean {
    return this.assignment.owns(topic, partition);
  }

  /**
   * Stops fetching and leaves the group; idempotent. A stop during start() waits for the
   * join to end first: KafkaJS's stop does nothing before it has joined, and the member
   * would then join anyway and fetch, or stay in the group until its session timed out.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.fetchStopped = true;
    this.wakeHolds();
    await this.starting?.catch(() => undefined);
    this.positioner.close();
    try {
      await this.consumer.stop();
    } finally {
      await this.consumer.disconnect();
    }
  }
}

function byTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const p of partitions) {
    const list = m.get(p.topic);
    if (list === undefined) m.set(p.topic, [p.partition]);
    else list.push(p.partition);
  }
  return [...m].map(([topic, ps]) => ({ topic, partitions: ps }));
}
