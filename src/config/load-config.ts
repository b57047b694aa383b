// Loads settings in layers: schema defaults < config/default.json < config/<NODE_ENV>.json
// < environment (seed MDS_* names translated) < --kebab-case CLI args; then validates
// everything up front so a bad value stops the start with one line naming key and env var.
import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { ConfigError, toError } from '../core/errors.js';
import { registerFormats } from './formats.js';
import { schema } from './schema.js';
import { applySeedAliases } from './seed-aliases.js';
import { projectRoot } from '../util/project-root.js';
import { builtinMappings } from './builtin-mappings.js';
import { validateMapping, type TopicMapping, type WriteMode } from '../core/topic-mapping.js';

export interface AppConfig {
  env: 'production' | 'development' | 'test';
  log: { level: string };
  kafka: {
    brokers: string[];
    clientId: string;
    groupId: string;
    topicPrefix: string;
    topics: string[];
    fromBeginning: boolean;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    rebalanceTimeoutMs: number;
    maxBytes: number;
    maxBytesPerPartition: number;
    maxWaitTimeMs: number;
    pauseHoldMs: number;
    partitionsConsumedConcurrently: number;
    ssl: boolean;
    sasl: { mechanism: '' | 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  };
  database: {
    url: string;
    schema: string;
    migrateOnStart: boolean;
    statementTimeoutMs: number;
    connectTimeoutMs: number;
  };
  defaultTenantId: string;
  maxMessageBytes: number;
  tombstones: 'dlq' | 'ignore' | 'delete';
  queue: {
    capacityRecords: number;
    capacityBytes: number;
    highWatermark: number;
    lowWatermark: number;
    overflow: 'block' | 'drop_oldest' | 'error';
    overflowPendingRecords: number;
    overflowPendingBytes: number;
  };
  sink: {
    workers: number;
    batchSize: number;
    /** Effective value: loadConfig turns the 0 default into 4 × batchSize. */
    maxBatchSize: number;
    flushIntervalMs: number;
    writeMode: WriteMode;
    mappingsFile: string;
  };
  retry: {
    maxAttempts: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    multiplier: number;
    jitter: boolean;
  };
  breaker: { failureThreshold: number; openMs: number };
  dlq: { topic: string; dir: string; maxFileBytes: number };
  metrics: { host: string; port: number; queuePollMs: number };
  shutdown: { timeoutMs: number };
}

export interface LoadedConfig {
  config: AppConfig;
  /** Topic name (with prefix) → mapping, for the topics this member consumes. */
  mappings: Map<string, TopicMapping>;
  /** The effective settings with secrets masked, for the start log line. */
  redacted: Record<string, unknown>;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  args?: string[];
  configDir?: string;
  /** Values applied after files and before env (tests use this). */
  overrides?: Record<string, unknown>;
}

interface SchemaLeaf {
  env?: string;
  arg?: string;
  format: unknown;
  default: unknown;
  doc: string;
  sensitive?: boolean;
}

/** Flattened schema: dotted key → leaf. Used for arg names, messages and the README check. */
export function schemaLeaves(): Map<string, SchemaLeaf> {
  const out = new Map<string, SchemaLeaf>();
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      if (v !== null && typeof v === 'object' && 'doc' in v && 'default' in v) out.set(key, v as SchemaLeaf);
      else if (v !== null && typeof v === 'object') walk(v as Record<string, unknown>, key);
    }
  };
  walk(schema, '');
  return out;
}

function schemaWithArgs(): Record<string, unknown> {
  const deepCopy = (v: unknown): unknown =>
    Array.isArray(v)
      ? [...(v as unknown[])]
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepCopy(x)]))
        : v;
  const clone = deepCopy(schema) as Record<string, unknown>;
  const leaves = schemaLeaves();
  for (const key of leaves.keys()) {
    let node: Record<string, unknown> = clone;
    const parts = key.split('.');
    for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
    const leaf = node[parts[parts.length - 1]!] as Record<string, unknown>;
    leaf.arg = key.replace(/\./g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  }
  return clone;
}

let formatsRegistered = false;

/** Rewrites convict's "key: message: value was …" lines as "key (ENV): message". */
function explain(message: string, leaves: Map<string, SchemaLeaf>): string {
  return message
    .split('\n')
    .map((line) => {
      const m = /^([A-Za-z0-9_.]+): (.*?)(?:: value was .*)?$/.exec(line);
      if (m === null) return line;
      const key = m[1]!;
      const leaf = leaves.get(key);
      let body = m[2]!;
      if (body.startsWith('must be one of the possible values')) {
        const raw = /: value was (.*)$/.exec(line)?.[1];
        body = `expected one of ${body.replace('must be one of the possible values: ', '')}${raw ? `, got ${raw}` : ''}`;
      }
      return `${key}${leaf?.env ? ` (${leaf.env})` : ''}: ${body}`;
    })
    .join('; ');
}

function crossChecks(c: AppConfig): string[] {
  const p: string[] = [];
  if (c.queue.lowWatermark >= c.queue.highWatermark) {
    p.push(
      `queue.lowWatermark (QUEUE_LOW_WATERMARK): expected < queue.highWatermark (${c.queue.highWatermark}), got ${c.queue.lowWatermark}`,
    );
  }
  if (c.retry.maxBackoffMs < c.retry.initialBackoffMs) {
    p.push(
      `retry.maxBackoffMs (RETRY_MAX_BACKOFF_MS): expected >= retry.initialBackoffMs (${c.retry.initialBackoffMs}), got ${c.retry.maxBackoffMs}`,
    );
  }
  if (c.kafka.heartbeatIntervalMs * 3 > c.kafka.sessionTimeoutMs) {
    p.push(
      `kafka.heartbeatIntervalMs (KAFKA_HEARTBEAT_INTERVAL_MS): expected <= a third of kafka.sessionTimeoutMs (${c.kafka.sessionTimeoutMs}), got ${c.kafka.heartbeatIntervalMs}`,
    );
  }
  if (c.sink.maxBatchSize !== 0 && c.sink.maxBatchSize < c.sink.batchSize) {
    p.push(
      `sink.maxBatchSize (SINK_MAX_BATCH_SIZE): expected 0 (4 × batchSize) or >= sink.batchSize (${c.sink.batchSize}), got ${c.sink.maxBatchSize}`,
    );
  }
  if (c.kafka.sasl.mechanism !== '' && (c.kafka.sasl.username === '' || c.kafka.sasl.password === '')) {
    p.push(
      'kafka.sasl.username/password (KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD): expected both set when KAFKA_SASL_MECHANISM is set',
    );
  }
  return p;
}

function loadMappings(c: AppConfig): Map<string, TopicMapping> {
  const bySuffix = new Map<string, TopicMapping>();
  for (const m of builtinMappings(c.sink.writeMode)) bySuffix.set(m.topicSuffix, m);
  if (c.sink.mappingsFile !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(c.sink.mappingsFile, 'utf8'));
    } catch (e) {
      throw new ConfigError(
        `sink.mappingsFile (SINK_MAPPINGS_FILE): cannot read ${c.sink.mappingsFile}: ${toError(e).message}`,
      );
    }
    if (!Array.isArray(parsed)) {
      throw new ConfigError('sink.mappingsFile (SINK_MAPPINGS_FILE): expected a JSON array of mappings');
    }
    for (const m of parsed as TopicMapping[]) {
      const problems = validateMapping(m);
      if (problems.length > 0)
        throw new ConfigError(`sink.mappingsFile (SINK_MAPPINGS_FILE): ${problems.join('; ')}`);
      bySuffix.set(m.topicSuffix, m);
    }
  }
  const out = new Map<string, TopicMapping>();
  const tables = new Map<string, string>();
  for (const suffix of c.kafka.topics) {
    const m = bySuffix.get(suffix);
    if (m === undefined) {
      throw new ConfigError(
        `kafka.topics (KAFKA_TOPICS): no mapping for topic ${JSON.stringify(suffix)}; known: ${[...bySuffix.keys()].join(', ')}`,
      );
    }
    const other = tables.get(m.table);
    if (other !== undefined) {
      throw new ConfigError(
        `kafka.topics (KAFKA_TOPICS): topics ${other} and ${suffix} both map to table ${m.table}`,
      );
    }
    tables.set(m.table, suffix);
    out.set(c.kafka.topicPrefix + suffix, m);
  }
  if (out.has(c.dlq.topic))
    throw new ConfigError(`dlq.topic (DLQ_TOPIC): ${c.dlq.topic} is also a consumed topic`);
  return out;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  if (!formatsRegistered) {
    registerFormats();
    formatsRegistered = true;
  }
  const leaves = schemaLeaves();
  const env = applySeedAliases(opts.env ?? process.env);
  const conf = convict(schemaWithArgs() as never, { env, args: opts.args ?? [] });
  try {
    const dir = opts.configDir ?? path.join(projectRoot(), 'config');
    const files = [
      path.join(dir, 'default.json'),
      path.join(dir, `${String(conf.get('env' as never))}.json`),
    ];
    for (const f of files) if (fs.existsSync(f)) conf.loadFile(f);
    if (opts.overrides) conf.load(opts.overrides);
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(explain(toError(e).message, leaves));
  }
  const config = conf.getProperties() as AppConfig;
  const problems = crossChecks(config);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  if (config.sink.maxBatchSize === 0) config.sink.maxBatchSize = 4 * config.sink.batchSize;
  const mappings = loadMappings(config);
  const redacted = JSON.parse(conf.toString()) as Record<string, unknown>;
  return { config, mappings, redacted };
}
