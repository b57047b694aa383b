// The walking skeleton end to end: records produced to a real broker become exactly the
// expected rows in PostgreSQL, and offsets are committed (PostgreSQL and Kafka) only for
// what was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kind } from '../../src/sample/sample-data.js';
import * as harness from '../helpers/sink-harness.js';

const KINDS: Kind[] = ['bars', 'options', 'fundamentals', 'news'];
const COUNTS: Record<Kind, number> = { bars: 4000, options: 3000, fundamentals: 2000, news: 2000 };

test('records of all four topics arrive as exactly the expected rows, offsets committed', async (t) => {
  const ctx = await harness.testContext(t, 'e2e', KINDS, 3);
  const produced = new Map<Kind, Record<string, unknown>[]>();
  for (const kind of KINDS) {
    const msgs = harness.sampleBatch(kind, COUNTS[kind], 150);
    produced.set(
      kind,
      msgs.map((m) => m.value),
    );
    await ctx.produce(ctx.topic(kind), harness.toKafka(msgs));
    // Re-delivered news (same producer ids) must update, not add rows: the seed's random ids
    // duplicated news on every retry.
    if (kind === 'news') await ctx.produce(ctx.topic(kind), harness.toKafka(msgs));
  }
  const sink = await harness.startSink(ctx.config(), {
    log: harness.createLogger(ctx.env.LOG_LEVEL ?? 'warn'),
  });
  t.after(() => sink.kill());
  const topics = KINDS.map((k) => ctx.topic(k));
  await harness.waitFor(
    () => harness.caughtUp(ctx, topics),
    'sink did not catch up with the produced records',
    90_000,
  );
  await sink.stop();
  await sink.done;

  for (const mapping of harness.builtinMappings()) {
    const kind = mapping.topicSuffix as Kind;
    const expected = harness.expectedRows(mapping, produced.get(kind)!);
    const actual = await harness.actualRows(ctx.db, ctx.schema, mapping);
    assert.equal(actual.length, expected.length, `${mapping.table}: row count`);
    assert.deepEqual(actual, expected, `${mapping.table}: exact rows`);
  }

  // Offsets: PostgreSQL and Kafka both say "everything up to the high watermark".
  const hw = await harness.highWatermarks(ctx.admin, topics);
  const stored = await harness.storedOffsets(ctx.db, ctx.schema, ctx.groupId);
  for (const [tp, high] of hw) assert.equal(stored.get(tp) ?? 0, high, `sink_offsets for ${tp}`);
  const committed = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics });
  for (const tpo of committed) {
    for (const p of tpo.partitions) {
      assert.equal(
        Number(p.offset),
        hw.get(`${tpo.topic}/${p.partition}`),
        `Kafka committed offset ${tpo.topic}/${p.partition}`,
      );
    }
  }
  // Nothing was dead-lettered.
  assert.equal(
    (await ctx.admin.fetchTopicOffsets(ctx.dlqTopic)).reduce((n, p) => n + Number(p.high), 0),
    0,
  );
});
