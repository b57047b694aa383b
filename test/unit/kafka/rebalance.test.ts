// A rebalance downstream of the consumer: revoked partitions' queued records are discarded
// and they leave the committer, the lag tracker and the lag gauge; newly assigned partitions
// get PostgreSQL's stored offsets, which also go to the lag tracker and to Kafka.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/core/logger.js';
import { RebalanceHandler, type RebalanceDeps } from '../../../src/kafka/rebalance.js';
import { tpKey, type PartitionOffset, type SinkRecord } from '../../../src/core/sink-record.js';

function setup(stored: PartitionOffset[] | Error = []) {
  const calls: string[] = [];
  let queued = [
    { topic: 'a', partition: 0 },
    { topic: 'a', partition: 1 },
    { topic: 'b', partition: 0 },
    { topic: 'a', partition: 1 },
  ] as SinkRecord[];
  const readTopics: (readonly string[])[] = [];
  const deps: RebalanceDeps = {
    queue: {
      removeWhere: (pred) => {
        const gone = queued.filter(pred);
        queued = queued.filter((r) => !pred(r));
        return gone;
      },
    },
    committer: {
      forget: (parts) =>
        calls.push(`committer.forget ${parts.map((p) => `${p.topic}/${p.partition}`).join(',')}`),
      add: (offsets) =>
        calls.push(
          `committer.add ${offsets.map((o) => `${o.topic}/${o.partition}@${o.nextOffset}`).join(',')}`,
        ),
    },
    lag: {
      forget: (t, p) => calls.push(`lag.forget ${t}/${p}`),
      committed: (t, p, n) => calls.push(`lag.committed ${t}/${p}@${n}`),
    },
    readOffsets: (topics) => {
      readTopics.push(topics);
      return stored instanceof Error ? Promise.reject(stored) : Promise.resolve(stored);
    },
    instrumentation: {
      rebalanced: () => calls.push('rebalanced'),
      partitionRevoked: (t, p) => calls.push(`gauge.remove ${t}/${p}`),
    },
    log: createLogger('silent'),
  };
  return { h: new RebalanceHandler(deps), calls, queued: () => queued, readTopics };
}

test('onAssignment: revoked partitions leave the queue, the committer, the lag tracker and gauge', () => {
  const { h, calls, queued } = setup();
  h.onAssignment({ added: [], revoked: [{ topic: 'a', partition: 1 }] });
  assert.deepEqual(
    queued().map((r) => `${r.topic}/${r.partition}`),
    ['a/0', 'b/0'],
  );
  assert.deepEqual(calls, ['rebalanced', 'committer.forget a/1', 'lag.forget a/1', 'gauge.remove a/1']);
});

test('onAssignment: nothing revoked only counts the rebalance', () => {
  const { h, calls, queued } = setup();
  h.onAssignment({ added: [{ topic: 'c', partition: 0 }], revoked: [] });
  assert.equal(queued().length, 4);
  assert.deepEqual(calls, ['rebalanced']);
});

test('readStoredOffsets: the added partitions that have an offset, each also sent to lag and Kafka', async () => {
  const { h, calls, readTopics } = setup([
    { topic: 'a', partition: 0, nextOffset: 10 },
    { topic: 'a', partition: 1, nextOffset: 20 }, // not added: still owned, or another member's
    { topic: 'b', partition: 2, nextOffset: 30 },
  ]);
  const out = await h.readStoredOffsets([
    { topic: 'a', partition: 0 },
    { topic: 'b', partition: 2 },
    { topic: 'b', partition: 3 }, // nothing stored yet
    { topic: 'a', partition: 4 },
  ]);
  assert.deepEqual(readTopics, [['a', 'b']]);
  assert.deepEqual(
    [...out],
    [
      [tpKey('a', 0), 10],
      [tpKey('b', 2), 30],
    ],
  );
  assert.deepEqual(calls, [
    'lag.committed a/0@10',
    'committer.add a/0@10',
    'lag.committed b/2@30',
    'committer.add b/2@30',
  ]);
});

test('readStoredOffsets: a failed read rejects (the positioner retries it)', async () => {
  const { h: failing } = setup(new Error('connection refused'));
  await assert.rejects(failing.readStoredOffsets([{ topic: 'a', partition: 0 }]), /connection refused/);
});
