// A broker dies mid-stream on a three-broker cluster (started by scripts/services.sh, its
// own ports and data): the one leading the DLQ topic. Leadership moves, KafkaJS retries,
// and the table content and both DLQ destinations are still exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import * as harness from '../helpers/sink-harness.js';
import { readDlqTopic, readNdjson } from '../helpers/dlq-readers.js';

const SERVICES = path.resolve(__dirname, '../../scripts/services.sh');
const services = (...args: string[]): string =>
  execFileSync('bash', [SERVICES, ...args], { encoding: 'utf8', timeout: 300_000 });

test('one of three brokers (the DLQ leader) stops mid-stream: exact content, DLQ complete', async (t) => {
  services('up', '--brokers', '3');
  t.after(() => void services('down', '--brokers', '3'));
  const brokers = /KAFKA_BROKERS=([^\s]+)/.exec(services('env', '--brokers', '3'))![1]!.replace(/['"]/g, '');
  const ctx = await harness.createTestContext('broker', brokers.split(','));
  t.after(() => ctx.cleanup());
  await ctx.admin.createTopics({
    topics: [
      {
        topic: ctx.topic('bars'),
        numPartitions: 3,
        replicationFactor: 3,
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      },
      {
        topic: ctx.dlqTopic,
        numPartitions: 1,
        replicationFactor: 3,
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      },
    ],
    waitForLeaders: true,
  });
  const msgs = harness.sampleBatch('bars', 30_000, 300);
  const wire = msgs.map((m, i) => ({
    key: m.key,
    value: i % 500 === 3 ? `{"broken": ${i}` : JSON.stringify(m.value),
  }));
  await ctx.produce(ctx.topic('bars'), wire.slice(0, 10_000));
  const sink = await harness.startSink(ctx.config({ KAFKA_TOPICS: 'bars' }), {
    log: harness.createLogger('error'),
  });
  t.after(() => sink.kill());
  await harness.waitFor(
    async () =>
      (await ctx.db.query(`SELECT 1 FROM ${ctx.schema}.bars LIMIT 1`).catch(() => ({ rows: [] }))).rows
        .length > 0,
    'no rows before the outage',
    60_000,
  );

  const meta = await ctx.admin.fetchTopicMetadata({ topics: [ctx.dlqTopic] });
  const leader = meta.topics[0]!.partitions[0]!.leader;
  services('stop-broker', String(leader), '--kill');
  // Produce the rest while the broker is down (a separate client that knows the survivors).
  const survivors = brokers.split(',').filter((_, i) => i + 1 !== leader);
  const kafka2 = new Kafka({ clientId: `${ctx.groupId}-p2`, brokers: survivors, logLevel: logLevel.NOTHING });
  const p2 = kafka2.producer({ idempotent: true, maxInFlightRequests: 1 });
  // The idempotent producer's init may first hit the dead broker (not fenced yet): retry.
  await harness.waitFor(
    async () => {
      await p2.connect();
      return true;
    },
    'producer could not connect with a broker down',
    60_000,
    500,
  );
  // A send can fail while leadership moves; it is retried (a duplicate in the topic is
  // harmless here: rows compare as sets, dead letters by their distinct values).
  for (let i = 10_000; i < wire.length; i += 2000) {
    const messages = wire.slice(i, i + 2000);
    await harness.waitFor(
      async () => {
        await p2.send({ topic: ctx.topic('bars'), acks: -1, messages });
        return true;
      },
      'could not produce with a broker down',
      90_000,
      500,
    );
  }
  await p2.disconnect();

  await harness.waitFor(
    () => harness.caughtUp(ctx, [ctx.topic('bars')]),
    'did not catch up with a broker down',
    180_000,
    250,
  );
  services('start-broker', String(leader));
  await sink.stop();

  const bars = harness.builtinMappings().find((m) => m.table === 'bars')!;
  const good = msgs.filter((_, i) => i % 500 !== 3).map((m) => m.value);
  assert.deepEqual(await harness.actualRows(ctx.db, ctx.schema, bars), harness.expectedRows(bars, good));
  const bad = msgs.length / 500;
  const coords = (ds: { value: Buffer | null }[]): number =>
    new Set(ds.map((d) => d.value?.toString('utf8'))).size;
  assert.equal(coords(readNdjson(ctx.dlqDir)), bad, 'NDJSON DLQ complete');
  assert.equal(coords(await readDlqTopic(ctx, bad, 120_000)), bad, 'DLQ topic complete');
});
