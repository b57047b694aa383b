// Poison isolation and the dual DLQ on the real broker and database: bad records (broken
// JSON, schema violations, oversized, non-UTF-8, values the database rejects) leave the
// stream; every good record of their batches is written; both DLQ destinations hold
// exactly the bad ones, with their original coordinates and bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as harness from '../helpers/sink-harness.js';
import { readDlqTopic, readNdjson } from '../helpers/dlq-readers.js';

const coord = (d: { topic: string; partition: number; offset: number }): string =>
  `${d.topic}/${d.partition}/${d.offset}`;

test('0.5% poison across partitions: table holds exactly the good, both DLQs exactly the bad', async (t) => {
  const ctx = await harness.testContext(t, 'poison', ['bars'], 4);
  await ctx.migrate();
  // A database-level rule the schema validation does not know: close_price below 1e12.
  await ctx.db.query(`ALTER TABLE ${ctx.schema}.bars ADD CONSTRAINT sane_close CHECK (close_price < 1e12)`);
  const N = 100_000;
  const good = harness.sampleBatch('bars', N, 500);
  const kinds = ['json', 'schema', 'db', 'utf8', 'huge'] as const;
  const messages: { key: string; value: Buffer | string }[] = [];
  const goodValues: Record<string, unknown>[] = [];
  const badIndex = new Set<number>();
  for (let i = 0; i < N; i++) {
    const m = good[i]!;
    if (i % 200 === 7) {
      badIndex.add(i);
      const kind = kinds[((i / 200) % kinds.length) | 0]!;
      const v = { ...m.value };
      if (kind === 'json') messages.push({ key: m.key, value: '{"symbol": "AAPL", broken' });
      else if (kind === 'schema') messages.push({ key: m.key, value: JSON.stringify({ ...v, volume: -5 }) });
      else if (kind === 'db')
        messages.push({ key: m.key, value: JSON.stringify({ ...v, close_price: '5000000000000' }) });
      else if (kind === 'utf8') messages.push({ key: m.key, value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) });
      else messages.push({ key: m.key, value: JSON.stringify({ ...v, title: 'x'.repeat(20_000) }) });
    } else {
      messages.push({ key: m.key, value: JSON.stringify(m.value) });
      goodValues.push(m.value);
    }
  }
  await ctx.produce(ctx.topic('bars'), messages);
  const sink = await harness.startSink(
    ctx.config({ KAFKA_TOPICS: 'bars', MAX_MESSAGE_BYTES: '10000', SINK_BATCH_SIZE: '2000' }),
    {
      log: harness.createLogger('error'),
    },
  );
  t.after(() => sink.kill());
  await harness.waitFor(() => harness.caughtUp(ctx, [ctx.topic('bars')]), 'sink did not catch up', 180_000);
  await sink.stop();

  const mapping = harness.builtinMappings().find((m) => m.table === 'bars')!;
  assert.deepEqual(
    await harness.actualRows(ctx.db, ctx.schema, mapping),
    harness.expectedRows(mapping, goodValues),
  );

  // The bad records' coordinates, from the topic itself (offsets assigned by the broker).
  const expectedBad = new Set<string>();
  const reader = ctx.kafka.consumer({ groupId: `${ctx.groupId}-truth` });
  await reader.connect();
  await reader.subscribe({ topic: ctx.topic('bars'), fromBeginning: true });
  let seen = 0;
  const badKeys = new Set<string>();
  await reader.run({
    eachMessage: ({ topic, partition, message }) => {
      seen++;
      const text = message.value!.toString('utf8');
      const isBad =
        !text.startsWith('{"tenant_id"') ||
        text.includes('"volume":-5') ||
        text.includes('5000000000000') ||
        text.length > 10_000;
      if (isBad) {
        expectedBad.add(`${topic}/${partition}/${message.offset}`);
        badKeys.add(text.slice(0, 40));
      }
      return Promise.resolve();
    },
  });
  await harness.waitFor(() => seen >= N, `read ${seen} of ${N} source records`, 60_000);
  await reader.disconnect();
  assert.equal(expectedBad.size, badIndex.size, 'test data: every injected record identified');

  const fileDlq = readNdjson(ctx.dlqDir);
  const topicDlq = await readDlqTopic(ctx, badIndex.size);
  assert.deepEqual(new Set(fileDlq.map(coord)), expectedBad, 'NDJSON DLQ holds exactly the bad records');
  assert.deepEqual(new Set(topicDlq.map(coord)), expectedBad, 'DLQ topic holds exactly the bad records');
  const reasons = new Map<string, number>();
  for (const d of fileDlq) reasons.set(d.reason, (reasons.get(d.reason) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(reasons), {
    decode: 3 * (badIndex.size / 5),
    validation: badIndex.size / 5,
    database: badIndex.size / 5,
  });
  const db = fileDlq.find((d) => d.reason === 'database')!;
  assert.equal(db.errorCode, '23514');
  const schema = fileDlq.find((d) => d.reason === 'validation')!;
  assert.ok(schema.errorMessage.includes('volume'), schema.errorMessage);
  const utf8 = fileDlq.find((d) => d.errorCode === 'INVALID_UTF8')!;
  assert.deepEqual(utf8.value, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'original bytes kept');
});
