// Sample producer for the demo and manual tests: realistic bars, option snapshots,
// fundamentals and news for a universe of symbols, at a given rate, with progress.
//   npm run produce-sample -- --count 20000 --rate 2000 --symbols 300
import { Command, InvalidArgumentError } from 'commander';
import { CompressionTypes } from 'kafkajs';
import pino from 'pino';
import { loadConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/core/logger.js';
import { ensureTopic, withAdmin } from '../src/kafka/admin.js';
import { createKafka } from '../src/kafka/kafka-client.js';
import { ProducerSlot } from '../src/kafka/producer.js';
import { sampleMessage, symbols, type Kind } from '../src/sample/sample-data.js';
import { progress } from '../src/util/progress.js';

const KINDS: Kind[] = ['bars', 'options', 'fundamentals', 'news'];

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name}: expected an integer >= 0, got ${JSON.stringify(v)}`);
    return n;
  };
}

const program = new Command()
  .name('produce-sample')
  .description('Produce realistic market data to the md.* topics')
  .option('--brokers <list>', 'bootstrap brokers', process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
  .option('--prefix <p>', 'topic prefix', process.env.TOPIC_PREFIX ?? 'md.')
  .option('--kinds <list>', 'comma-separated kinds', KINDS.join(','))
  .option('--count <n>', 'messages per kind (0 = run until Ctrl-C)', int('--count'), 10000)
  .option('--rate <n>', 'messages per second over all kinds (0 = as fast as possible)', int('--rate'), 0)
  .option('--symbols <n>', 'size of the symbol universe', int('--symbols'), 300)
  .option('--partitions <n>', 'partitions when creating missing topics', int('--partitions'), 6)
  .option('--seed <n>', 'data seed', int('--seed'), 1)
  .option('--start <n>', 'index of the first message per kind', int('--start'), 0);

async function main(): Promise<void> {
  const o = program.parse().opts<{
    brokers: string;
    prefix: string;
    kinds: string;
    count: number;
    rate: number;
    symbols: number;
    partitions: number;
    seed: number;
    start: number;
  }>();
  const kinds = o.kinds.split(',').map((k) => k.trim()) as Kind[];
  for (const k of kinds)
    if (!KINDS.includes(k))
      program.error(`--kinds: expected some of ${KINDS.join(',')}, got ${k}`, { exitCode: 2 });
  const universe = symbols(o.symbols);
  // The worker's client factory and settings, so TLS/SASL from the environment apply here too.
  const { config } = loadConfig({ args: ['--kafka-brokers', o.brokers, '--log-level', 'error'] });
  const kafka = createKafka(config, createLogger(config.log.level, pino.destination(2)), '-produce-sample');
  await withAdmin(kafka, async (admin) => {
    for (const k of kinds) await ensureTopic(admin, { topic: o.prefix + k, numPartitions: o.partitions });
  });
  const slot = new ProducerSlot(kafka, { retries: 8, maxRetryTime: 5000 });
  const producer = await slot.current();
  let stop = false;
  process.on('SIGINT', () => (stop = true));
  process.on('SIGTERM', () => (stop = true));
  const total = o.count * kinds.length;
  const bar = progress('produced', total === 0 ? Number.MAX_SAFE_INTEGER : total);
  const chunk = 500;
  const started = Date.now();
  let sent = 0;
  for (let i = o.start; !stop && (o.count === 0 || i < o.start + o.count); i += chunk) {
    const end = o.count === 0 ? i + chunk : Math.min(i + chunk, o.start + o.count);
    await producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: kinds.map((k) => ({
        topic: o.prefix + k,
        messages: Array.from({ length: end - i }, (_, j) => {
          const m = sampleMessage(k, i + j, universe, o.seed);
          return { key: m.key, value: JSON.stringify(m.value) };
        }),
      })),
    });
    sent += (end - i) * kinds.length;
    bar.update(sent);
    if (o.rate > 0) {
      const ahead = (sent / o.rate) * 1000 - (Date.now() - started);
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
  }
  bar.stop();
  await slot.close();
  process.stderr.write(`produced ${sent} messages in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`produce-sample: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
