// The worker's batching and retry logic with a fake clock and a fake writer: group commit (an
// idle pool writes at once, a small batch waits for the write in flight, at most the flush
// interval), flush by size, no polling while idle, retries with backoff
// behind the shared breaker, and a stop that leaves the open batch uncommitted.
// Over 350 lines because it mirrors one module: each scenario drives the same worker state
// machine through the same fakes, so splitting would duplicate the setup, not shorten it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, flushMicrotasks } from '../../helpers/fake-clock.js';
import { BoundedQueue } from '../../../src/pipeline/bounded-queue.js';
import type { SinkRecord } from '../../../src/core/sink-record.js';
import { CircuitBreaker } from '../../../src/resilience/circuit-breaker.js';
import { RetryPolicy } from '../../../src/resilience/retry-policy.js';
import { SinkWorker } from '../../../src/sink/sink-worker.js';
import type { BatchResult, BatchWriter } from '../../../src/sink/batch-writer.js';
import type { SinkConnection } from '../../../src/sink/sink-connection.js';
import type { PartitionOffset } from '../../../src/core/sink-record.js';
import { LaneInbox } from '../../../src/sink/lane-inbox.js';
import { WritesInFlight } from '../../../src/sink/writes-in-flight.js';
import { createLogger } from '../../../src/core/logger.js';
import { builtinMappings } from '../../../src/config/builtin-mappings.js';

const mapping = builtinMappings()[0]!;
const rec = (offset: number, at: number, partition = 0): SinkRecord => ({
  topic: 't',
  partition,
  offset,
  timestamp: at,
  key: null,
  value: null,
  headers: undefined,
  bytes: 10,
  enqueuedAt: at,
  mapping,
  row: '',
  conflictKey: String(offset),
  error: null,
});

function setup(
  opts: {
    batchSize?: number;
    maxBatchSize?: number;
    flushIntervalMs?: number;
    failures?: Error[];
    /** Errors thrown by openConnection, one per attempt, before it succeeds. */
    openFailures?: Error[];
    workers?: number;
    lanes?: number;
    /** Writes stay in flight until finish(partition) is called. */
    hold?: boolean;
    /** Throws from the onAttemptFailed hook: a bug that crashes the worker. */
    crashOnFailure?: boolean;
    /** Writes never answer until their connection is closed (a hung statement). */
    hangUntilClosed?: boolean;
  } = {},
) {
  const clock = new FakeClock(0);
  const queue = new BoundedQueue<SinkRecord>({
    capacityRecords: 1000,
    capacityBytes: 1e6,
    highWatermark: 0.8,
    lowWatermark: 0.5,
    lanes: opts.lanes ?? 1,
  });
  const inbox = new LaneInbox();
  const batches: number[][] = [];
  const failures = [...(opts.failures ?? [])];
  const openFailures = [...(opts.openFailures ?? [])];
  const attemptsAt: number[] = [];
  /** The `decide` flag of each write attempt. */
  const decides: boolean[] = [];
  /** onEnvironment reports: "<kind>:<sqlState>" or null when cleared. */
  const environment: (string | null)[] = [];
  /** In-flight writes (hold: true) by partition, and every batch as "p<partition>:<offsets>". */
  const inFlight = new Map<number, () => void>();
  const log: string[] = [];
  const advanced: PartitionOffset[][] = [];
  const done: BatchResult = {
    rowsByTable: new Map(),
    deadLetters: [],
    skipped: 0,
    collapsed: 0,
    offsets: [],
  };
  const onClose: (() => void)[] = [];
  const writer = {
    write: (
      _c: SinkConnection,
      batch: readonly SinkRecord[],
      _a: number,
      decide = false,
    ): Promise<BatchResult> => {
      attemptsAt.push(clock.now());
      decides.push(decide);
      if (opts.hangUntilClosed === true)
        return new Promise<BatchResult>((_resolve, reject) =>
          onClose.push(() => reject(new Error('Connection terminated'))),
        );
      const f = failures.shift();
      if (f) return Promise.reject(f);
      batches.push(batch.map((r) => r.offset));
      const p = batch[0]!.partition;
      log.push(`p${p}:${batch.map((r) => r.offset).join(',')}`);
      if (!opts.hold) return Promise.resolve(done);
      assert.ok(!inFlight.has(p), `two batches of partition ${p} in flight at once`);
      return new Promise<BatchResult>((resolve) => inFlight.set(p, () => resolve(done)));
    },
    advance: (_c: SinkConnection, offsets: readonly PartitionOffset[]) => {
      advanced.push([...offsets]);
      return Promise.resolve(offsets);
    },
  } as unknown as BatchWriter;
  const finish = (partition: number): void => {
    const f = inFlight.get(partition);
    assert.ok(f, `no batch of partition ${partition} in flight`);
    inFlight.delete(partition);
    f();
  };
  let opened = 0;
  const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, clock });
  const writes = new WritesInFlight();
  const workers = Array.from({ length: opts.workers ?? 1 }, (_, id) => makeWorker(id));
  function makeWorker(id: number): SinkWorker {
    return new SinkWorker({
      id,
      queue,
      inbox,
      writer,
      breaker,
      retry: new RetryPolicy({
        maxAttempts: 5,
        initialBackoffMs: 50,
        maxBackoffMs: 200,
        multiplier: 2,
        jitter: false,
      }),
      clock,
      openConnection: () => {
        const f = openFailures.shift();
        if (f) return Promise.reject(f);
        opened++;
        const close = (): Promise<void> => {
          for (const f of onClose.splice(0)) f();
          return Promise.resolve();
        };
        return Promise.resolve({ close } as unknown as SinkConnection);
      },
      batchSize: opts.batchSize ?? 3,
      maxBatchSize: opts.maxBatchSize ?? opts.batchSize ?? 3,
      flushIntervalMs: opts.flushIntervalMs ?? 100,
      writes,
      hooks: {
        onCommitted: () => undefined,
        onAttemptFailed: () => {
          if (opts.crashOnFailure === true) throw new Error('hook bug');
        },
        onOffsetsAdvanced: () => undefined,
        onEnvironment: (e) => environment.push(e === null ? null : `${e.kind}:${e.sqlState ?? e.code}`),
      },
      log: createLogger('silent'),
    });
  }
  const worker = workers[0]!;
  return {
    clock,
    queue,
    inbox,
    worker,
    workers,
    batches,
    log,
    advanced,
    inFlight,
    finish,
    attemptsAt,
    decides,
    environment,
    breaker,
    opened: () => opened,
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await flushMicrotasks();
};

test('group commit: an idle pool writes at once; a small batch waits for the write in flight, at most the flush interval', async () => {
  // Two workers and two lanes: one writes (held open by the fake writer) while the other collects.
  const pool = { workers: 2, lanes: 2, batchSize: 3, flushIntervalMs: 100, hold: true };
  const { clock, queue, workers, log, finish } = setup(pool);
  for (const w of workers) w.start();
  queue.push(0, rec(0, 0, 0), 10);
  await settle();
  assert.deepEqual(log, ['p0:0'], 'nothing in flight: one record goes at once, no linger');
  queue.push(1, rec(0, 0, 1), 10);
  queue.push(1, rec(1, 0, 1), 10);
  await settle();
  assert.deepEqual(log, ['p0:0'], 'a write is in flight: the next batch waits and grows');
  finish(0);
  await settle();
  assert.deepEqual(log, ['p0:0', 'p1:0,1'], 'the write in flight ended: the waiting batch goes');
  queue.push(0, rec(1, 0, 0), 10);
  await clock.advance(99);
  await settle();
  assert.equal(log.length, 2, 'still under batchSize with a write in flight');
  await clock.advance(1);
  await settle();
  assert.deepEqual(log[2], 'p0:1', 'flushIntervalMs after its first record it goes anyway');
  queue.push(1, rec(2, 100, 1), 10);
  queue.push(1, rec(3, 100, 1), 10);
  queue.push(1, rec(4, 100, 1), 10);
  finish(1);
  await settle();
  assert.deepEqual(log[3], 'p1:2,3,4', 'a full batch goes although another write is in flight');
  finish(0);
  finish(1);
  await settle();
  assert.equal(queue.stats().records, 0, 'written records are released');
  for (const w of workers) await w.stop();
});

test('a backlog is taken up to maxBatchSize at once; the rest goes at once to an idle pool', async () => {
  const { queue, worker, batches } = setup({ batchSize: 3, maxBatchSize: 5, flushIntervalMs: 100 });
  for (const o of [0, 1, 2, 3, 4, 5, 6]) queue.push(0, rec(o, 0), 10);
  worker.start();
  await settle();
  assert.deepEqual(
    batches,
    [
      [0, 1, 2, 3, 4],
      [5, 6],
    ],
    'five queued records go as one batch, not 3 + 3; the two left follow without waiting',
  );
  for (const o of [7, 8, 9, 10]) queue.push(0, rec(o, 100), 10);
  await settle();
  assert.deepEqual(batches[2], [7, 8, 9, 10], 'four queued: more than batchSize, all taken');
  await worker.stop();
});

test('an idle worker waits without timers or polling', async () => {
  const { clock, worker } = setup();
  worker.start();
  await settle();
  assert.equal(clock.pendingSleepers(), 0, 'no sleeper while the lane is empty');
  await clock.advance(10_000);
  await settle();
  assert.equal(clock.pendingSleepers(), 0);
  await worker.stop();
  assert.equal(worker.isAlive, false);
});

test('transient failures are retried with exponential backoff on a fresh connection', async () => {
  const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const { clock, queue, worker, batches, attemptsAt, opened } = setup({ failures: [down, down] });
  worker.start();
  for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
  await settle();
  await clock.advance(50); // first backoff: 50 ms
  await settle();
  await clock.advance(100); // second: 100 ms
  await settle();
  assert.deepEqual(attemptsAt, [0, 50, 150]);
  assert.deepEqual(batches, [[0, 1, 2]]);
  assert.equal(opened(), 3, 'each retry reconnects');
  await worker.stop();
});

test('the open breaker stops attempts until its probe time; nothing is lost meanwhile', async () => {
  const down = Object.assign(new Error('terminating connection due to administrator command'), {
    code: '57P01',
  });
  const { clock, queue, worker, batches, attemptsAt, breaker } = setup({
    failures: [down, down, down, down],
  });
  worker.start();
  for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
  await settle();
  await clock.advance(50);
  await settle();
  await clock.advance(100);
  await settle();
  assert.equal(breaker.state, 'open', 'three consecutive failures open it');
  assert.deepEqual(attemptsAt, [0, 50, 150]);
  await clock.advance(900); // still open: no attempt
  await settle();
  assert.equal(attemptsAt.length, 3);
  await clock.advance(100); // probe time (1000 ms after opening at 150): one probe, fails
  await settle();
  assert.deepEqual(attemptsAt, [0, 50, 150, 1150]);
  await clock.advance(1200);
  await settle();
  assert.deepEqual(batches, [[0, 1, 2]], 'the next probe succeeds with the same batch');
  assert.equal(breaker.state, 'closed');
  await worker.stop();
});

const pgError = (sqlState: string): Error =>
  Object.assign(new Error(`pg says ${sqlState}`), { code: sqlState });

test('an undecided failure (P0001) is retried without tripping the breaker; the last quick attempt may isolate', async () => {
  const trigger = pgError('P0001');
  const { clock, queue, worker, batches, decides, breaker, environment } = setup({
    failures: [trigger, trigger, trigger, trigger],
  });
  worker.start();
  for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
  await settle();
  for (const ms of [50, 100, 200, 200]) {
    assert.equal(breaker.state, 'closed', 'one record may be at fault: the breaker stays closed');
    await clock.advance(ms);
    await settle();
  }
  assert.deepEqual(decides, [false, false, false, false, true], 'attempt 5 of 5 may decide');
  assert.deepEqual(batches, [[0, 1, 2]], 'the deciding attempt (the writer isolated) committed');
  assert.deepEqual(environment, [], 'never held by the environment');
  await worker.stop();
});

test('a failure isolation cannot pin on records is the environment: breaker, report, cleared by the next success', async () => {
  const missing = pgError('42P01');
  const { clock, queue, worker, batches, decides, breaker, environment, attemptsAt } = setup({
    failures: [missing, missing, missing, missing, missing, missing, missing],
  });
  worker.start();
  for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
  await settle();
  for (const ms of [50, 100, 200, 200]) {
    await clock.advance(ms);
    await settle();
  }
  assert.deepEqual(environment, ['environment:42P01'], 'reported once decided');
  await clock.advance(200);
  await settle();
  await clock.advance(200);
  await settle();
  assert.equal(breaker.state, 'open', 'three environment verdicts open the breaker');
  assert.equal(attemptsAt.length, 7);
  await clock.advance(1000); // the probe: it may decide, and succeeds
  await settle();
  assert.deepEqual(decides, [false, false, false, false, true, true, true, true]);
  assert.deepEqual(batches, [[0, 1, 2]]);
  assert.equal(breaker.state, 'closed');
  assert.deepEqual(environment, ['environment:42P01', 'environment:42P01', 'environment:42P01', null]);
  await worker.stop();
});

test('a non-transient failure opening the connection is the environment at once', async () => {
  const { clock, queue, worker, batches, environment } = setup({ openFailures: [pgError('42P01')] });
  worker.start();
  for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
  await settle();
  assert.deepEqual(environment, ['environment:42P01']);
  await clock.advance(50);
  await settle();
  assert.deepEqual(batches, [[0, 1, 2]]);
  assert.deepEqual(environment, ['environment:42P01', null]);
  await worker.stop();
});

test('stop() abandons a batch under retry: not committed, capacity released', async () => {
  const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const { clock, queue, worker, batches } = setup({ failures: [down, down, down] });
  worker.start();
  for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
  await settle();
  await worker.stop();
  await clock.advance(10_000);
  await settle();
  assert.deepEqual(batches, []);
  assert.equal(queue.stats().records, 0);
});

test('stop() ends a statement in flight by closing its connection, without waiting for it', async () => {
  const { queue, worker, batches, attemptsAt } = setup({ hangUntilClosed: true });
  worker.start();
  for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
  await settle();
  assert.equal(attemptsAt.length, 1, 'the write is in flight');
  let stopped = false;
  void worker.stop().then(() => (stopped = true));
  await settle();
  assert.equal(stopped, true, 'stop() returned while the statement hung');
  assert.deepEqual(batches, [], 'nothing committed');
  assert.equal(attemptsAt.length, 1, 'no retry after the stop');
  assert.equal(queue.stats().records, 0, 'capacity released');
});

test('any idle worker takes any lane, but a lane is written by one worker at a time, in order', async () => {
  const { queue, workers, log, inFlight, finish } = setup({
    workers: 2,
    lanes: 3,
    batchSize: 2,
    maxBatchSize: 2,
    hold: true,
  });
  for (const o of [0, 1, 2, 3, 4, 5]) queue.push(0, rec(o, 0, 0), 10);
  for (const o of [0, 1]) queue.push(1, rec(o, 0, 1), 10);
  for (const o of [0, 1]) queue.push(2, rec(o, 0, 2), 10);
  for (const w of workers) w.start();
  await settle();
  assert.deepEqual([...inFlight.keys()].sort(), [0, 1], 'both workers busy: lane 0, then lane 1');
  finish(1);
  await settle();
  assert.deepEqual(
    [...inFlight.keys()].sort(),
    [0, 2],
    'the worker done with lane 1 takes lane 2, not the rest of lane 0 (held by the other)',
  );
  finish(0);
  await settle();
  finish(2);
  await settle();
  finish(0);
  await settle();
  finish(0);
  await settle();
  assert.equal(inFlight.size, 0);
  assert.deepEqual(log, ['p0:0,1', 'p1:0,1', 'p2:0,1', 'p0:2,3', 'p0:4,5']);
  assert.equal(queue.stats().records, 0);
  for (const w of workers) await w.stop();
});

test("dropped records' offsets are committed only while no batch of their lane is in flight", async () => {
  const { queue, inbox, workers, advanced, finish } = setup({
    workers: 2,
    lanes: 2,
    batchSize: 2,
    hold: true,
  });
  for (const o of [0, 1]) queue.push(0, rec(o, 0, 0), 10);
  for (const w of workers) w.start();
  await settle();
  inbox.add(0, [{ topic: 't', partition: 0, nextOffset: 10 }]);
  queue.notify();
  await settle();
  assert.deepEqual(advanced, [], 'lane 0 has a batch in flight: the idle worker must not advance past it');
  finish(0);
  await settle();
  assert.deepEqual(advanced, [[{ topic: 't', partition: 0, nextOffset: 10 }]]);
  assert.deepEqual(inbox.lanes(), []);
  for (const w of workers) await w.stop();
});

for (const how of ['stopped', 'crashed'] as const) {
  test(`a worker ${how} with an uncommitted batch keeps its lane: no peer writes the partition past it`, async () => {
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const { clock, queue, inbox, workers, batches, advanced } = setup({
      workers: 2,
      lanes: 2,
      failures: [down],
      crashOnFailure: how === 'crashed',
    });
    for (const o of [0, 1, 2]) queue.push(0, rec(o, 0), 10);
    workers[0]!.start();
    workers[0]!.done.catch(() => undefined);
    await settle(); // worker 0 holds lane 0; its write failed
    if (how === 'stopped') await workers[0]!.stop();
    assert.equal(workers[0]!.isAlive, false);
    workers[1]!.start();
    for (const o of [3, 4, 5]) queue.push(0, rec(o, 0), 10);
    inbox.add(0, [{ topic: 't', partition: 0, nextOffset: 10 }]);
    queue.notify();
    await settle();
    await clock.advance(1000);
    await settle();
    assert.deepEqual(batches, [], 'offsets 3-5 must not be committed while 0-2 are not');
    assert.deepEqual(advanced, [], 'nor may next_offset move past them');
    await workers[1]!.stop();
  });
}

test('partitions that keep up share a transaction, as when one worker owned their lane', async () => {
  const { queue, workers, log, finish } = setup({ workers: 2, lanes: 3, batchSize: 3, hold: true });
  for (const w of workers) w.start();
  queue.push(0, rec(0, 0, 0), 10);
  await settle();
  queue.push(1, rec(0, 0, 1), 10);
  queue.push(2, rec(0, 0, 2), 10);
  await settle();
  assert.deepEqual(log, ['p0:0'], 'lanes 1 and 2 wait behind the write in flight');
  finish(0);
  await settle();
  assert.deepEqual(log, ['p0:0', 'p1:0,0'], 'then go as one transaction');
  finish(1);
  await settle();
  for (const w of workers) await w.stop();
});
