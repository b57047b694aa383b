// Reconcile's comparison of the two DLQ destinations, with in-memory sides: what each lacks
// within the range, by source record, and the repair loop that reads the topic back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeadLetter, DeadLetterSink } from '../../../src/core/dead-letter.js';
import { ReconcileIndex, formatDiff, reconcile } from '../../../src/replay/reconcile.js';
import type { DeadLetterSource } from '../../../src/dlq/source.js';

const T0 = Date.parse('2024-05-01T00:00:00.000Z');

function dl(i: number, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    topic: 'md.bars',
    partition: i % 2,
    offset: i,
    timestamp: T0 + i,
    key: null,
    value: Buffer.from(`{"i":${i}}`),
    headers: {},
    reason: 'database',
    errorCode: '23514',
    errorMessage: 'bad',
    attempts: 1,
    workerId: 'w1',
    failedAt: T0 + i * 1000,
    ...over,
  };
}

const keys = (ds: readonly DeadLetter[]): string[] => ds.map((d) => `${d.topic}/${d.partition}/${d.offset}`);

function filesOf(ds: readonly DeadLetter[]): DeadLetterSource {
  return {
    expectedTotal: () => ds.length,
    async *batches() {
      await Promise.resolve();
      yield {
        entries: ds.map((d) => ({ ok: true as const, where: 'f', deadLetter: d })),
        ack: () => Promise.resolve(),
      };
    },
  };
}

void describe('ReconcileIndex', () => {
  void it('lists what each side lacks, once per source record, within the range', () => {
    const index = new ReconcileIndex({ since: T0 + 2000, until: T0 + 8000 });
    for (const i of [0, 1, 2, 3, 5, 6, 9]) index.addTopic(dl(i));
    index.addTopic(dl(2)); // a duplicate in the topic
    for (const i of [0, 2, 3, 4, 4, 7, 9]) index.addFile(dl(i));
    const d = index.diff();
    assert.deepEqual(keys(d.missingFromTopic), ['md.bars/0/4', 'md.bars/1/7']);
    assert.deepEqual(keys(d.missingFromFiles), ['md.bars/1/5', 'md.bars/0/6']);
    assert.deepEqual(d.topic, { entries: 5, distinct: 4, invalid: 0 });
    assert.deepEqual(d.files, { entries: 5, distinct: 4, invalid: 0 });
    assert.equal(
      formatDiff(d),
      'topic entries=5 distinct=4 invalid=0; files entries=5 distinct=4 invalid=0; missing from topic: 2, missing from files: 2',
    );
  });

  void it('a record is present on a side if any copy is there, even one outside the range', () => {
    const index = new ReconcileIndex({ since: T0 + 5000 });
    // Dead-lettered twice: the topic has the early copy only, the files the late one only.
    index.addTopic(dl(1, { failedAt: T0 }));
    index.addFile(dl(1, { failedAt: T0 + 9000 }));
    const d = index.diff();
    assert.deepEqual([d.missingFromTopic.length, d.missingFromFiles.length], [0, 0]);
    assert.deepEqual([d.topic.entries, d.files.entries], [0, 1]);
  });
});

void describe('reconcile', () => {
  void it('repairs the topic from the files and confirms by reading it back, in bounded rounds', async () => {
    const topic: DeadLetter[] = [dl(0), dl(1)];
    const files = [dl(0), dl(1), dl(2), dl(3), dl(4)];
    let writes = 0;
    const sink: DeadLetterSink = {
      start: () => Promise.resolve(),
      close: () => Promise.resolve(),
      write(entries) {
        writes++;
        // The first write "resolves" but the broker loses one of its records.
        topic.push(...(writes === 1 ? entries.slice(1) : entries));
        return Promise.resolve();
      },
    };
    const deps = {
      readTopic: (add: (d: DeadLetter) => void) => {
        topic.forEach(add);
        return Promise.resolve();
      },
      files: filesOf(files),
      topicSink: sink,
    };
    const result = await reconcile({ filter: {}, repair: true }, deps);
    assert.deepEqual(keys(result.first.missingFromTopic), ['md.bars/0/2', 'md.bars/1/3', 'md.bars/0/4']);
    assert.deepEqual([result.last.missingFromTopic.length, result.repaired, writes], [0, 4, 2]);

    const report = await reconcile(
      { filter: {}, repair: false },
      { ...deps, files: filesOf([...files, dl(5)]) },
    );
    assert.deepEqual(keys(report.last.missingFromTopic), ['md.bars/1/5'], 'without --repair nothing is sent');
    assert.equal(writes, 2);

    const lossy: DeadLetterSink = { ...sink, write: () => Promise.resolve() };
    const stuck = await reconcile(
      { filter: {}, repair: true, maxRepairs: 2 },
      { ...deps, files: filesOf([...files, dl(6)]), topicSink: lossy },
    );
    assert.deepEqual(keys(stuck.last.missingFromTopic), ['md.bars/0/6'], 'still missing after 2 rounds');
    assert.equal(stuck.repaired, 2);
  });
});
