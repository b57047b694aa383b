// Each hook report lands in its metrics with the expected labels and amounts: dead letters
// per reason and destination, a committed batch's rows, outcomes and latencies, failed
// attempts by code and kind, breaker transitions, backpressure, fetches, commits, rebalances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/core/logger.js';
import { SinkInstrumentation } from '../../../src/metrics/instrumentation.js';
import { SinkMetrics } from '../../../src/metrics/sink-metrics.js';
import type { DeadLetter } from '../../../src/core/dead-letter.js';
import type { SinkRecord } from '../../../src/core/sink-record.js';
import type { BatchResult } from '../../../src/sink/batch-writer.js';

function setup(): { m: SinkMetrics; i: SinkInstrumentation; logged: string[] } {
  const logged: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(chunk.toString());
      done();
    },
  });
  const m = new SinkMetrics();
  return { m, i: new SinkInstrumentation(m, 'g1', createLogger('warn', sink)), logged };
}

/** A metric's value for exactly these labels (0 when absent). */
async function value(
  metric: { get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }> },
  labels: Record<string, string>,
  metricName?: string,
): Promise<number> {
  const { values } = await metric.get();
  const hit = values.find(
    (v) =>
      (metricName === undefined || v.metricName === metricName) &&
      JSON.stringify(Object.entries(v.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
  );
  return hit?.value ?? 0;
}

const letter = (reason: DeadLetter['reason'], offset: number): DeadLetter => ({
  topic: 't',
  partition: 0,
  offset,
  timestamp: 0,
  key: null,
  value: null,
  headers: undefined,
  reason,
  errorCode: 'E1',
  errorMessage: 'bad record',
  attempts: 0,
  workerId: 'w',
  failedAt: 0,
});

test('deadLettered: per reason into dropped and both DLQ destinations; one warning per call', async () => {
  const { m, i, logged } = setup();
  i.deadLettered([letter('validation', 1), letter('validation', 2), letter('decode', 3)]);
  i.deadLettered([]);
  assert.equal(await value(m.itemsDropped, { coord_id: 'g1', reason: 'validation' }), 2);
  assert.equal(await value(m.itemsDropped, { coord_id: 'g1', reason: 'decode' }), 1);
  for (const destination of ['topic', 'file']) {
    assert.equal(await value(m.dlqRecords, { destination, reason: 'validation' }), 2);
    assert.equal(await value(m.dlqRecords, { destination, reason: 'decode' }), 1);
  }
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /dead-lettered 3 record\(s\): bad record/);
});

test('batchCommitted: batches, rows per table, outcomes, sizes and end-to-end latency', async () => {
  const { m, i } = setup();
  const result: BatchResult = {
    rowsByTable: new Map([
      ['bars', 3],
      ['news', 1],
    ]),
    deadLetters: [letter('database', 9)],
    skipped: 2,
    collapsed: 1,
    offsets: [],
  };
  const batch = [
    { timestamp: 1000, mapping: { table: 'bars' } },
    { timestamp: 4000, mapping: { table: 'news' } },
  ] as unknown as SinkRecord[];
  i.batchCommitted(result, batch, 250, 3, 2000);
  // The seed's per-sink metrics: one successful write per table in the batch.
  assert.equal(await value(m.sinkWrites, { sink: 'bars', status: 'success' }), 1);
  assert.equal(await value(m.sinkWrites, { sink: 'news', status: 'success' }), 1);
  assert.equal(await value(m.sinkWriteLatency, { sink: 'bars' }, 'sink_write_latency_seconds_sum'), 0.25);
  assert.equal(await value(m.sinkWriteLatency, { sink: 'news' }, 'sink_write_latency_seconds_count'), 1);
  assert.equal(await value(m.batchesWritten, { coord_id: 'g1', worker_id: '3' }), 1);
  assert.equal(await value(m.rowsWritten, { table: 'bars' }), 3);
  assert.equal(await value(m.rowsWritten, { table: 'news' }), 1);
  assert.equal(await value(m.recordsApplied, { outcome: 'written' }), 4);
  assert.equal(await value(m.recordsApplied, { outcome: 'collapsed' }), 1);
  assert.equal(await value(m.recordsApplied, { outcome: 'dead_lettered' }), 1);
  assert.equal(await value(m.recordsApplied, { outcome: 'skipped' }), 2);
  assert.equal(await value(m.itemsDropped, { coord_id: 'g1', reason: 'database' }), 1);
  assert.equal(
    await value(m.writeLatency, { coord_id: 'g1', worker_id: '3' }, 'mds_worker_write_latency_seconds_sum'),
    0.25,
  );
  assert.equal(await value(m.batchSize, {}, 'mds_batch_size_records_sum'), 2);
  // A record stamped after the commit (clock skew) counts as 0, not negative.
  assert.equal(await value(m.e2eLatency, {}, 'mds_end_to_end_latency_seconds_sum'), 1);
  assert.equal(await value(m.e2eLatency, {}, 'mds_end_to_end_latency_seconds_count'), 2);
});

test('attempts, breaker, backpressure, fetches, Kafka commits and rebalances', async () => {
  const { m, i, logged } = setup();
  const failed = [
    { mapping: { table: 'bars' } },
    { mapping: { table: 'bars' } },
    { mapping: { table: 'news' } },
  ] as unknown as SinkRecord[];
  i.attemptFailed({ kind: 'transient', code: 'ECONNRESET', message: 'x' }, 1, failed);
  i.attemptFailed({ kind: 'transient', code: 'ECONNRESET', message: 'x' }, 1, []);
  i.breakerTransition('closed', 'open');
  i.fetching('pause');
  i.fetching('resume');
  i.fetching('pause');
  i.batchFetched('t', 5);
  i.kafkaCommitted(20);
  i.kafkaCommitFailed('timeout');
  i.rebalanced();
  assert.equal(await value(m.writeErrors, { coord_id: 'g1', worker_id: '1', error_type: 'ECONNRESET' }), 2);
  assert.equal(await value(m.retryAttempts, { kind: 'transient' }), 2);
  // One failed write per table of the batch; an attempt without records is no table's.
  assert.equal(await value(m.sinkWrites, { sink: 'bars', status: 'failure' }), 1);
  assert.equal(await value(m.sinkWrites, { sink: 'news', status: 'failure' }), 1);
  assert.equal((await m.sinkWrites.get()).values.length, 2);
  assert.equal(await value(m.breakerTransitions, { to: 'open' }), 1);
  assert.match(logged.join(''), /circuit breaker closed → open/);
  assert.equal(await value(m.pauseEvents, { event: 'pause' }), 2);
  assert.equal(await value(m.pauseEvents, { event: 'resume' }), 1);
  assert.equal(await value(m.itemsSubmitted, { coord_id: 'g1', topic: 't' }), 5);
  assert.equal(await value(m.commitLatency, {}, 'mds_kafka_commit_latency_seconds_sum'), 0.02);
  assert.equal(await value(m.commitFailures, { reason: 'timeout' }), 1);
  assert.equal((await m.rebalances.get()).values[0]?.value, 1);
});

test('partitionRevoked: the partition leaves the lag gauge, the others stay', async () => {
  const { m, i } = setup();
  m.consumerLag.set({ topic: 't', partition: '0' }, 5);
  m.consumerLag.set({ topic: 't', partition: '1' }, 7);
  i.partitionRevoked('t', 0);
  const { values } = await m.consumerLag.get();
  assert.deepEqual(
    values.map((v) => [v.labels.partition, v.value]),
    [['1', 7]],
  );
});
