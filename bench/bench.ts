// The benchmark: on one pre-filled topic it measures, in one run, the database limit
// (L_db: our COPY + upsert path straight from memory), the consume limit (L_kafka: KafkaJS
// consuming and decoding, no database) and the worker end to end (E2E, a real worker
// process; with --compare-copy a second one in copy mode), then latency under a steady produce
// rate and, with --overload, memory under a slow database. Figures are printed beside their
// targets (targets.ts) and written to bench/results/<run>.json, with <run>.svg beside it:
// rows/s over time per phase and the latency distribution (plot.ts). Longer than our modules
// usually are because every phase is a function of the run's shared names, options and
// cleanup; what does not need them (CPU split, targets, plot, profile) lives beside it.
//   npm run bench -- [--records 1000000] [--mode upsert|copy] [--overload] [--peer-rows-per-sec N] …
// First, as in src/main.ts: the in-process phases decode with the same record decoder as the worker.
import { fastRecordDecoder } from '../src/kafka/fast-record-decoder.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { Command } from 'commander';
import pg from 'pg';
import { Partitioners, type Admin, type Kafka } from 'kafkajs';
import { loadConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/core/logger.js';
import { createKafka } from '../src/kafka/kafka-client.js';
import { startSink } from '../src/app.js';
import { migrate } from '../src/sink/migrate.js';
import { createDecoder } from '../src/pipeline/decode.js';
import { BatchWriter } from '../src/sink/batch-writer.js';
import { OffsetStore } from '../src/sink/offset-store.js';
import { SinkConnection } from '../src/sink/sink-connection.js';
import { buildTableSql } from '../src/sink/table-sql.js';
import type { SinkRecord } from '../src/core/sink-record.js';
import type { DeadLetterSink } from '../src/core/dead-letter.js';
import { sampleMessage, symbols } from '../src/sample/sample-data.js';
import { progress } from '../src/util/progress.js';
import { cpuBound, cpuReport, cpuSnapshot, formatCpu, postgresPids, type CpuReport } from './cpu-usage.js';
import { judgeTargets, formatTargets } from './targets.js';
import { hottest } from './profile.js';
import { LatencyRecorder, formatBreakdown, quantile, type LatencyBreakdown } from './latency-breakdown.js';
import { latencyHistogram, ratesOverTime, renderSvg, type Histogram, type Progress } from './plot.js';

const ROOT = path.resolve(__dirname, '..');
const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

const opts = new Command()
  .name('bench')
  .option('--records <n>', 'records pre-filled', int, 1_000_000)
  .option('--symbols <n>', 'symbol universe', int, 500)
  .option('--partitions <n>', 'partitions of the bench topic', int, 6)
  .option('--batch-size <n>', 'SINK_BATCH_SIZE (default: the config default)', int)
  .option('--workers <n>', 'SINK_WORKERS (default: the config default)', int)
  .option('--mode <m>', 'write mode: upsert | insert | copy', 'upsert')
  .option('--steady-rate <n>', 'records/s for the latency run', int, 20_000)
  .option('--steady-seconds <n>', 'duration of the latency run', int, 60)
  .option('--skip <phases>', 'comma-separated phases to skip: ldb,lkafka,e2e,latency', '')
  .option('--overload', 'run the overload phase (slow database, produce far above capacity)')
  .option('--cpu-prof', 'profile the E2E worker (node --cpu-prof) and print its hottest functions')
  .option('--overload-seconds <n>', 'duration of the overload produce', int, 60)
  .option('--overload-rate <n>', 'records/s produced in the overload phase', int, 40_000)
  .option('--compare-copy', 'after E2E, run it again in copy mode (target: copy >= 1.3 × upsert)')
  .option(
    '--peer-rows-per-sec <n>',
    'rows/s of the Debezium JDBC sink measured on this box (target: E2E upsert >= 4 × it)',
    int,
  )
  .parse()
  .opts<{
    records: number;
    symbols: number;
    partitions: number;
    batchSize?: number;
    workers?: number;
    mode: string;
    steadyRate: number;
    steadySeconds: number;
    skip: string;
    overload?: boolean;
    overloadSeconds: number;
    overloadRate: number;
    cpuProf?: boolean;
    compareCopy?: boolean;
    peerRowsPerSec?: number;
  }>();

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUN = `bench_${Date.now().toString(36)}`;
// The brokers this run talks to: CPU is counted for them, not for other clusters on the box.
const BROKER_PORTS = BROKERS.split(',').map((b) => Number(b.slice(b.lastIndexOf(':') + 1)));
const skip = new Set(opts.skip.split(',').filter(Boolean));
const log = (s: string): void => void process.stderr.write(`${s}\n`);
// CPU spent per part of the machine in each measured phase (see cpu-usage.ts).
const cpu: Record<string, CpuReport> = {};
// Cumulative records done per phase over time, for the SVG.
const progressOf: Record<string, Progress[]> = {};
let latencyHist: Histogram | undefined;

/** CPU snapshot with PostgreSQL narrowed to this phase's connections and the server's own processes. */
async function snapshot(
  db: pg.Pool,
  phase: string,
  workerPid?: number,
): Promise<ReturnType<typeof cpuSnapshot>> {
  const pids = await postgresPids(db, `${RUN}-${phase}`).catch(() => undefined);
  return cpuSnapshot(workerPid, { postgresPids: pids, brokerPorts: BROKER_PORTS });
}

const baseEnv: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: 'production',
  KAFKA_BROKERS: BROKERS,
  DATABASE_URL,
  KAFKA_TOPICS: 'bars',
  SINK_WRITE_MODE: opts.mode,
  LOG_LEVEL: 'warn',
  METRICS_HOST: '127.0.0.1',
  ...(opts.batchSize ? { SINK_BATCH_SIZE: String(opts.batchSize) } : {}),
  ...(opts.workers ? { SINK_WORKERS: String(opts.workers) } : {}),
};

function envFor(phase: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...baseEnv,
    TOPIC_PREFIX: `${RUN}.`,
    DATABASE_SCHEMA: `${RUN}_${phase}`,
    KAFKA_GROUP_ID: `${RUN}-${phase}`,
    KAFKA_CLIENT_ID: `${RUN}-${phase}`,
    DLQ_TOPIC: `${RUN}.${phase}.dlq`,
    DLQ_DIR: path.join(ROOT, '.run', 'bench-dlq', RUN, phase),
    ...extra,
  };
}

async function produce(
  kafka: Kafka,
  topic: string,
  from: number,
  count: number,
  rate = 0,
  label = 'produce',
): Promise<number> {
  const u = symbols(opts.symbols);
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const bar = progress(label, count);
  const chunk = rate > 0 ? Math.max(100, Math.floor(rate / 20)) : 5000;
  const started = Date.now();
  let sent = 0;
  const inflight: Promise<unknown>[] = [];
  for (let i = from; i < from + count; i += chunk) {
    const n = Math.min(chunk, from + count - i);
    const messages = Array.from({ length: n }, (_, j) => {
      const m = sampleMessage('bars', i + j, u, 7);
      return { key: m.key, value: JSON.stringify(m.value) };
    });
    inflight.push(producer.send({ topic, acks: -1, messages }));
    if (inflight.length >= 4) await inflight.shift();
    sent += n;
    bar.update(sent);
    if (rate > 0) {
      const ahead = (sent / rate) * 1000 - (Date.now() - started);
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
  }
  await Promise.all(inflight);
  bar.stop();
  await producer.disconnect();
  return (count / (Date.now() - started)) * 1000;
}

async function sumOffsets(db: pg.Pool, schema: string, group: string): Promise<number> {
  const r = await db
    .query<{ n: string }>(
      `SELECT coalesce(sum(next_offset), 0)::text AS n FROM "${schema}".sink_offsets WHERE group_id = $1`,
      [group],
    )
    .catch(() => ({ rows: [{ n: '0' }] }));
  return Number(r.rows[0]!.n);
}

function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
}

function metricValue(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(name) && !line.startsWith('#')) total += Number(line.split(' ').pop());
  return total;
}

const PROFILE_DIR = path.join(ROOT, 'bench/results/profiles');

function spawnWorker(env: NodeJS.ProcessEnv, profile = false): ChildProcess {
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...flags, path.join(ROOT, 'dist/src/main.js')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (b: Buffer) => process.stderr.write(b));
  return child;
}

/** L_db: the sink's own transaction path from memory, one connection per worker lane. */
async function measureDb(db: pg.Pool, n: number): Promise<number> {
  const { config, mappings } = loadConfig({ env: envFor('ldb') });
  const mapping = [...mappings.values()][0]!;
  const c = await db.connect();
  await migrate(c, config.database.schema, createLogger('silent'));
  c.release();
  const decoder = createDecoder(mapping, { maxMessageBytes: config.maxMessageBytes });
  const u = symbols(opts.symbols);
  const lanes = config.sink.workers;
  const perLane: SinkRecord[][] = Array.from({ length: lanes }, () => []);
  for (let i = 0; i < n; i++) {
    const m = sampleMessage('bars', i, u, 7);
    const value = Buffer.from(JSON.stringify(m.value));
    const d = decoder.decode(value);
    if (!d.ok) throw d.error;
    const partition = i % opts.partitions;
    perLane[partition % lanes]!.push({
      topic: `${RUN}.bars`,
      partition,
      offset: Math.floor(i / opts.partitions),
      timestamp: Date.now(),
      key: Buffer.from(m.key),
      value,
      headers: undefined,
      bytes: value.length,
      enqueuedAt: 0,
      mapping,
      row: d.row,
      conflictKey: d.key,
      error: null,
    });
  }
  const tables = new Map([[mapping.table, buildTableSql(config.database.schema, mapping)]]);
  const noDlq: DeadLetterSink = { start: async () => {}, write: async () => {}, close: async () => {} };
  const writer = new BatchWriter({
    tables,
    offsets: new OffsetStore(config.database.schema, config.kafka.groupId),
    dlq: noDlq,
    workerId: 'bench',
    now: Date.now,
  });
  const conns = await Promise.all(
    perLane.map(() =>
      SinkConnection.open(
        { connectionString: DATABASE_URL, connectionTimeoutMillis: 5000, application_name: `${RUN}-ldb` },
        [...tables.values()],
      ),
    ),
  );
  const cpu0 = await snapshot(db, 'ldb');
  const started = Date.now();
  const track: Progress[] = (progressOf.L_db = []);
  let done = 0;
  await Promise.all(
    perLane.map(async (records, lane) => {
      // A worker with a backlog (as E2E always has) writes batches of maxBatchSize.
      const size = config.sink.maxBatchSize;
      for (let i = 0; i < records.length; i += size) {
        await writer.write(conns[lane]!, records.slice(i, i + size), 1);
        done += Math.min(size, records.length - i);
        track.push({ t: Date.now() - started, n: done });
      }
    }),
  );
  const rate = (n / (Date.now() - started)) * 1000;
  cpu.L_db = cpuReport(cpu0, await snapshot(db, 'ldb'), n);
  await Promise.all(conns.map((x) => x.close()));
  return rate;
}

/** L_kafka: consume and decode every record of the topic, no database. */
async function measureKafka(db: pg.Pool, kafka: Kafka, topic: string, n: number): Promise<number> {
  const { config, mappings } = loadConfig({ env: envFor('lkafka') });
  const decoder = createDecoder([...mappings.values()][0]!, { maxMessageBytes: config.maxMessageBytes });
  const consumer = kafka.consumer({
    groupId: `${RUN}-lkafka`,
    maxBytes: config.kafka.maxBytes,
    maxBytesPerPartition: config.kafka.maxBytesPerPartition,
    maxWaitTimeInMs: config.kafka.maxWaitTimeMs,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let started = 0;
  let finished = 0;
  // Taken before the first fetch: only the server's own PostgreSQL processes (no backend is ours).
  const scope = {
    postgresPids: await postgresPids(db, `${RUN}-lkafka`).catch(() => undefined),
    brokerPorts: BROKER_PORTS,
  };
  let cpu0 = cpuSnapshot(undefined, scope);
  const track: Progress[] = (progressOf.L_kafka = []);
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        if (started === 0) {
          started = Date.now();
          cpu0 = cpuSnapshot(undefined, scope);
        }
        for (const m of batch.messages) {
          if (m.value !== null) decoder.decode(m.value);
        }
        seen += batch.messages.length;
        track.push({ t: Date.now() - started, n: seen });
        if (seen >= n && finished === 0) {
          finished = Date.now();
          cpu.L_kafka = cpuReport(cpu0, cpuSnapshot(undefined, scope), n);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();
  return (n / (finished - started)) * 1000;
}

/** E2E: a real worker process from its first fetch to its last committed offset. */
async function measureE2e(
  db: pg.Pool,
  n: number,
  mode: string,
  phase: string,
): Promise<{ rate: number; peakRssMb: number; pauses: number; writes: number; rowsPerWrite: number }> {
  const env = envFor(phase, { METRICS_PORT: '0', SINK_WRITE_MODE: mode });
  const port = 19_464 + Math.floor(Math.random() * 1000);
  env.METRICS_PORT = String(port);
  const child = spawnWorker(env, opts.cpuProf === true && phase === 'e2e');
  let first = 0;
  let cpu0 = cpuSnapshot(child.pid);
  const track: Progress[] = [];
  const label = phase === 'e2e' ? 'E2E' : `E2E ${mode}`;
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error('E2E did not finish in 30 minutes');
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
    if (first === 0) {
      const text = await scrape(port).catch(() => '');
      if (metricValue(text, 'mds_coord_items_submitted_total') > 0) {
        first = Date.now();
        cpu0 = await snapshot(db, phase, child.pid);
      }
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    const sum = await sumOffsets(db, env.DATABASE_SCHEMA!, env.KAFKA_GROUP_ID!);
    track.push({ t: Date.now() - first, n: sum });
    if (sum >= n) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const end = Date.now();
  cpu[label] = cpuReport(cpu0, await snapshot(db, phase, child.pid), n);
  progressOf[label] = track;
  const metrics = await scrape(port);
  const pauses = metricValue(metrics, 'mds_consumer_pause_events_total{event="pause"}');
  // Transactions and their mean size: PostgreSQL's fixed cost per transaction is spread over these.
  const writes = metricValue(metrics, 'mds_batch_size_records_count');
  const rowsPerWrite = writes > 0 ? metricValue(metrics, 'mds_batch_size_records_sum') / writes : 0;
  const rss = peakRssMb(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { rate: (n / (end - first)) * 1000, peakRssMb: rss, pauses, writes, rowsPerWrite };
}

/** p50/p99 commit − record timestamp while producing at a steady rate (in-process worker). */
async function measureLatency(
  kafka: Kafka,
  admin: Admin,
): Promise<{ p50: number; p99: number; samples: number; breakdown: LatencyBreakdown }> {
  const topicSuffix = 'lat';
  const env = envFor('latency', { TOPIC_PREFIX: `${RUN}.`, KAFKA_TOPICS: 'bars', METRICS_PORT: '0' });
  const topic = `${RUN}.lat.bars`;
  env.TOPIC_PREFIX = `${RUN}.${topicSuffix}.`;
  await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions }], waitForLeaders: true });
  const sink = await startSink(loadConfig({ env }), { log: createLogger('warn'), http: false });
  const rec = new LatencyRecorder();
  const track: Progress[] = (progressOf[`latency @${opts.steadyRate}/s`] = []);
  let producing = 0;
  sink.on('committed', (batch: readonly SinkRecord[], now: number, writeMs: number) => {
    rec.committed(batch, now, writeMs);
    if (producing > 0) track.push({ t: now - producing, n: rec.count });
  });
  sink.on('pause', () => rec.paused(Date.now()));
  sink.on('resume', () => rec.resumed(Date.now()));
  await new Promise((r) => setTimeout(r, 3000)); // joined and idle before the clock starts
  // The producer runs in its own process so its work does not stall the sink's event loop.
  producing = Date.now();
  rec.start();
  const producer = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'scripts/produce-sample.ts'),
      '--kinds',
      'bars',
      '--prefix',
      `${RUN}.${topicSuffix}.`,
      '--count',
      String(opts.steadyRate * opts.steadySeconds),
      '--rate',
      String(opts.steadyRate),
      '--symbols',
      String(opts.symbols),
      '--seed',
      '9',
    ],
    { env: { ...process.env, KAFKA_BROKERS: BROKERS }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const code = await new Promise<number | null>((r) => producer.once('exit', r));
  if (code !== 0) throw new Error(`steady producer exited with ${String(code)}`);
  const t0 = Date.now();
  while (rec.count < opts.steadyRate * opts.steadySeconds && Date.now() - t0 < 60_000)
    await new Promise((r) => setTimeout(r, 100));
  await sink.stop();
  const latencies = rec.totals();
  latencyHist = latencyHistogram(latencies);
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    samples: latencies.length,
    breakdown: rec.breakdown(),
  };
}

/** Overload: produce far above capacity into a slow table; RSS must stay flat, nothing lost. */
async function measureOverload(kafka: Kafka, admin: Admin, db: pg.Pool): Promise<Record<string, number>> {
  const env = envFor('overload', { TOPIC_PREFIX: `${RUN}.ovl.`, SINK_WRITE_MODE: 'copy' });
  const port = 20_464 + Math.floor(Math.random() * 1000);
  env.METRICS_PORT = String(port);
  const topic = `${RUN}.ovl.bars`;
  await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions }], waitForLeaders: true });
  const schema = env.DATABASE_SCHEMA!;
  const c = await db.connect();
  await migrate(c, schema, createLogger('silent'));
  c.release();
  await db.query(`CREATE FUNCTION "${schema}".slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
    CREATE TRIGGER slow AFTER INSERT ON "${schema}".bars FOR EACH STATEMENT EXECUTE FUNCTION "${schema}".slow();`);
  const child = spawnWorker(env);
  const rssSamples: number[] = [];
  const sampler = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) rssSamples.push(Number(m[1]) / 1024);
    } catch {
      /* exited */
    }
  }, 500);
  const total = opts.overloadRate * opts.overloadSeconds;
  await produce(kafka, topic, 0, total, opts.overloadRate, 'overload');
  const text = await scrape(port).catch(() => '');
  const pauses = metricValue(text, 'mds_consumer_pause_events_total{event="pause"}');
  await db.query(`DROP TRIGGER slow ON "${schema}".bars`);
  const deadline = Date.now() + 10 * 60_000;
  while ((await sumOffsets(db, schema, env.KAFKA_GROUP_ID!)) < total && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  clearInterval(sampler);
  const rows = Number(
    (await db.query<{ n: string }>(`SELECT count(*)::text n FROM "${schema}".bars`)).rows[0]!.n,
  );
  const peak = peakRssMb(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const half = rssSamples.slice(Math.floor(rssSamples.length / 2));
  return {
    produced: total,
    rows,
    lost: total - rows,
    pauses,
    peakRssMb: peak,
    rssMedianSecondHalfMb: quantile(
      [...half].sort((a, b) => a - b),
      0.5,
    ),
  };
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'dist/src/main.js'))) throw new Error('build first: npm run build');
  // The worker's client factory and settings (TLS/SASL from the environment apply here too).
  const kafka = createKafka(
    loadConfig({ env: envFor('client', { LOG_LEVEL: 'error' }) }).config,
    createLogger('error'),
  );
  const admin = kafka.admin();
  await admin.connect();
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  const topic = `${RUN}.bars`;
  const results: Record<string, unknown> = {
    run: RUN,
    at: new Date().toISOString(),
    records: opts.records,
    partitions: opts.partitions,
    mode: opts.mode,
    batchSize: opts.batchSize ?? 'default',
    workers: opts.workers ?? 'default',
    // Settings given through the environment (e.g. SINK_BATCH_SIZE=2000 npm run bench).
    env: Object.fromEntries(
      Object.entries(process.env).filter(([k]) =>
        /^(SINK_|QUEUE_|KAFKA_MAX|KAFKA_PAUSE|KAFKA_PARTITIONS|RETRY_|CB_)/.test(k),
      ),
    ),
  };
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions }], waitForLeaders: true });
    log(`== pre-filling ${topic} with ${opts.records} bars (not timed)`);
    results.produceRate = Math.round(await produce(kafka, topic, 0, opts.records));
    if (!skip.has('ldb')) {
      log('== L_db: COPY + write path from memory');
      results.L_db = Math.round(await measureDb(db, opts.records));
    }
    if (!skip.has('lkafka')) {
      log('== L_kafka: consume + decode, no database');
      results.L_kafka = Math.round(await measureKafka(db, kafka, topic, opts.records));
    }
    if (!skip.has('e2e')) {
      log('== E2E: worker process, first fetch → last offset committed');
      const e = await measureE2e(db, opts.records, opts.mode, 'e2e');
      results.E2E = Math.round(e.rate);
      results.e2ePeakRssMb = Math.round(e.peakRssMb);
      results.e2ePauses = e.pauses;
      results.e2eWrites = `${e.writes} transactions, ${Math.round(e.rowsPerWrite)} records each on average`;
      const limits = [results.L_db, results.L_kafka].filter((x): x is number => typeof x === 'number');
      if (limits.length > 0) results.ratio = Number((e.rate / Math.min(...limits)).toFixed(3));
      if (cpu.L_db !== undefined && cpu.L_kafka !== undefined) {
        const bound = cpuBound(cpu.L_db, cpu.L_kafka, os.availableParallelism());
        if (Number.isFinite(bound)) {
          results.cpuBound = Math.round(bound);
          results.ratioToCpuBound = Number((e.rate / bound).toFixed(3));
        }
      }
    }
    if (!skip.has('e2e') && opts.compareCopy && opts.mode !== 'copy') {
      log('== E2E in copy mode (same topic, fresh group and schema)');
      const e = await measureE2e(db, opts.records, 'copy', 'e2ecopy');
      results.E2E_copy = Math.round(e.rate);
      results.e2eCopyPeakRssMb = Math.round(e.peakRssMb);
    }
    if (!skip.has('latency')) {
      log(`== latency at ${opts.steadyRate}/s for ${opts.steadySeconds} s`);
      const l = await measureLatency(kafka, admin);
      results.latencyP50Ms = l.p50;
      results.latencyP99Ms = l.p99;
      results.latencySamples = l.samples;
      results.latencyBreakdown = l.breakdown;
    }
    if (opts.overload) {
      log(`== overload: ${opts.overloadRate}/s for ${opts.overloadSeconds} s into a slow table`);
      results.overload = await measureOverload(kafka, admin, db);
    }
  } finally {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(RUN));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    const schemas = await db.query<{ n: string }>(
      `SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE $1`,
      [`${RUN}%`],
    );
    for (const s of schemas.rows) await db.query(`DROP SCHEMA "${s.n}" CASCADE`).catch(() => undefined);
    await admin.disconnect();
    await db.end();
  }
  results.cpu = cpu;
  const overload = results.overload as Record<string, number> | undefined;
  const verdicts = judgeTargets({
    e2eCpu: cpu.E2E,
    mode: opts.mode,
    e2eRate: results.E2E as number | undefined,
    e2eCopyRate: results.E2E_copy as number | undefined,
    peerRate: opts.peerRowsPerSec,
    latencyP50Ms: results.latencyP50Ms as number | undefined,
    latencyP99Ms: results.latencyP99Ms as number | undefined,
    steadyRate: opts.steadyRate,
    overloadPeakRssMb: overload?.peakRssMb,
  });
  results.targets = verdicts;
  const rates = Object.fromEntries(Object.entries(progressOf).map(([k, v]) => [k, ratesOverTime(v)]));
  results.ratesOverTime = rates;
  if (latencyHist !== undefined) results.latencyHistogram = latencyHist;
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  const file = path.join(ROOT, 'bench/results', `${RUN}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const svgFile = file.replace(/\.json$/, '.svg');
  fs.writeFileSync(
    svgFile,
    renderSvg({
      title: `${RUN} ${opts.mode} ${opts.records}`,
      phases: rates,
      latency:
        latencyHist === undefined
          ? undefined
          : {
              histogram: latencyHist,
              p50: results.latencyP50Ms as number,
              p99: results.latencyP99Ms as number,
              rate: opts.steadyRate,
            },
    }),
  );
  const row = (k: string, v: unknown, unit = ''): void =>
    void process.stdout.write(`${k.padEnd(28)} ${String(v)}${unit}\n`);
  process.stdout.write('\nmarket-data-sink benchmark\n');
  row('records', opts.records);
  row('mode / partitions', `${opts.mode} / ${opts.partitions}`);
  row(
    'record decoder',
    fastRecordDecoder.installed
      ? 'replaced (src/kafka/fast-record-decoder.ts)'
      : `KafkaJS's (${fastRecordDecoder.reason})`,
  );
  row('L_db', results.L_db ?? '-', ' records/s');
  row('L_kafka', results.L_kafka ?? '-', ' records/s');
  row('E2E', results.E2E ?? '-', ' records/s');
  if (results.E2E_copy !== undefined) row('E2E copy', results.E2E_copy, ' records/s');
  row('E2E / min(L_db, L_kafka)', results.ratio ?? '-');
  row(`CPU bound (${os.availableParallelism()} cores)`, results.cpuBound ?? '-', ' records/s');
  row('E2E / CPU bound', results.ratioToCpuBound ?? '-');
  for (const [phase, r] of Object.entries(cpu)) row(`CPU ${phase}`, formatCpu(r));
  row('E2E peak RSS', results.e2ePeakRssMb ?? '-', ' MB');
  row('E2E writes', results.e2eWrites ?? '-');
  const ms = (v: unknown): string => (typeof v === 'number' ? v.toFixed(0) : '-');
  row(
    `latency p50 / p99 @${opts.steadyRate}/s`,
    `${ms(results.latencyP50Ms)} / ${ms(results.latencyP99Ms)}`,
    ' ms',
  );
  const lb = results.latencyBreakdown as LatencyBreakdown | undefined;
  if (lb !== undefined) process.stdout.write(`${formatBreakdown(lb).join('\n')}\n`);
  if (results.overload) row('overload', JSON.stringify(results.overload));
  row('results', `${path.relative(ROOT, file)}, ${path.relative(ROOT, svgFile)}`);
  process.stdout.write(`\ntargets (issue 18)\n${formatTargets(verdicts).join('\n')}\n`);
  if (opts.cpuProf)
    process.stdout.write(
      `\nE2E worker, hottest functions (self time):\n${hottest(PROFILE_DIR, ROOT).join('\n')}\n`,
    );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
