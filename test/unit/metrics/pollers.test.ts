// One sample sets every gauge from its source; one watermark round feeds the lag tracker
// the high watermarks of owned partitions only, and a topic the broker does not answer for
// is skipped without failing the round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GaugePoller, WatermarkPoller } from '../../../src/metrics/pollers.js';
import { LagTracker } from '../../../src/metrics/lag-tracker.js';
import { SinkMetrics } from '../../../src/metrics/sink-metrics.js';
import type { QueueStats } from '../../../src/pipeline/bounded-queue.js';
import { flushMicrotasks } from '../../helpers/fake-clock.js';

async function gauge(metric: {
  get(): Promise<{ values: { value: number }[] }>;
}): Promise<number | undefined> {
  return (await metric.get()).values[0]?.value;
}

test('GaugePoller.sample: queue, gate, workers, breaker, assignment, lag and readiness', async () => {
  const m = new SinkMetrics();
  const lag = new LagTracker();
  lag.highWatermark('t', 0, 50);
  lag.committed('t', 0, 20);
  new GaugePoller(m, 'g1', {
    queue: { stats: () => ({ records: 7, bytes: 700 }) as QueueStats },
    gate: { stats: () => ({ records: 2, bytes: 20 }) },
    workers: [{ isAlive: true }, { isAlive: false }, { isAlive: true }],
    breaker: { stateCode: 1 },
    consumer: { assignment: { size: 4 }, isPaused: true },
    lag,
    readiness: () => Promise.resolve({ ok: true }),
  }).sample();
  await flushMicrotasks();
  assert.equal(await gauge(m.queueDepth), 7);
  assert.equal(await gauge(m.queueBytes), 700);
  assert.equal(await gauge(m.overflowPendingRecords), 2);
  assert.equal(await gauge(m.overflowPendingBytes), 20);
  assert.equal(await gauge(m.workersAlive), 2);
  assert.equal(await gauge(m.circuitState), 1);
  assert.equal(await gauge(m.assignedPartitions), 4);
  assert.equal(await gauge(m.pausedPartitions), 4);
  assert.equal(await gauge(m.consumerLag), 30);
  assert.equal(await gauge(m.ready), 1);
});

test('WatermarkPoller.poll: owned partitions only; a failing topic does not stop the round', async () => {
  const lag = new LagTracker();
  for (const p of [0, 1]) lag.committed('b', p, 0);
  const asked: string[] = [];
  await new WatermarkPoller({
    topics: ['a', 'b'],
    fetchTopicOffsets: (topic) => {
      asked.push(topic);
      if (topic === 'a') return Promise.reject(new Error('broker away'));
      return Promise.resolve([
        { partition: 0, high: '12' },
        { partition: 1, high: '99' },
      ]);
    },
    owns: (_topic, partition) => partition === 0,
    lag,
  }).poll();
  assert.deepEqual(asked, ['a', 'b']);
  assert.deepEqual(lag.snapshot(), [{ topic: 'b', partition: 0, lag: 12 }]);
});
