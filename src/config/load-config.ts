// Loads settings in layers: schema defaults < config/default.json < config/<NODE_ENV>.json
// < environment (seed MDS_* names translated) < --kebab-case CLI args; then validates
// everything up front so a bad value stops the start with one line naming key and env var.
import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { ConfigError, toError } from '../core/errors.js';
import { redactUrl } from '../core/logger.js';
import { registerFormats } from './formats.js';
import { schema, type SettingsOf } from './schema.js';
import { applySeedAliases, nameSeedSources } from './seed-aliases.js';
import { applySecretFiles, cannotRead } from './secret-files.js';
import { checkConnectionSettings } from './connection-check.js';
import { kafkaTlsOptions } from './kafka-tls.js';
import { projectRoot } from '../util/project-root.js';
import { builtinMappings } from './builtin-mappings.js';
import { validateMapping, type TopicMapping } from '../core/topic-mapping.js';

/**
 * The settings, typed from the schema (see SettingsOf). The values are convict's, validated,
 * except the derived ones that deriveSettings computes.
 */
export type AppConfig = SettingsOf<typeof schema>;

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
  /**
   * 'worker' (default): every setting, the mappings and the cross-checks. 'kafka-client': a
   * command that only talks to Kafka (replay-dlq, status, reset-offsets) gets the log, kafka
   * and dlq sections, layered as for the worker and checked with the SASL cross-check; the
   * other sections (mappings file, queue, sink, NODE_ENV's enum) are neither read nor checked,
   * since a setting the command does not use must not stop it.
   */
  scope?: 'worker' | 'kafka-client';
}

/** The sections a 'kafka-client' load returns and validates. */
const KAFKA_CLIENT_SECTIONS = ['log', 'kafka', 'dlq'] as const;

/** What a command that only talks to Kafka may read (createKafka, the DLQ topic and directory). */
export type KafkaClientConfig = Pick<AppConfig, (typeof KAFKA_CLIENT_SECTIONS)[number]>;

export interface LoadedKafkaClientConfig {
  config: KafkaClientConfig;
  /** The loaded sections with secrets masked. */
  redacted: Record<string, unknown>;
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

/** The convict arg name of the setting read from env var `env` ('' if none). */
function argOf(leaves: Map<string, SchemaLeaf>, env: string): string {
  for (const leaf of leaves.values()) if (leaf.env === env) return leaf.arg ?? '';
  return '';
}

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

/** The cross-checks within the kafka-client sections: every Kafka user's client needs them. */
function kafkaClientChecks(c: KafkaClientConfig): string[] {
  const p: string[] = [];
  const tokenFile = c.kafka.sasl.oauthbearerTokenFile;
  if (c.kafka.sasl.mechanism === 'oauthbearer' && tokenFile === '') {
    p.push(
      'kafka.sasl.oauthbearerTokenFile (KAFKA_SASL_OAUTHBEARER_TOKEN_FILE): expected a token file when KAFKA_SASL_MECHANISM is oauthbearer',
    );
  } else if (c.kafka.sasl.mechanism === 'oauthbearer') {
    // Read again at each login; checked here so a wrong path stops the start, not a login later.
    const why = cannotRead(tokenFile);
    if (why !== undefined)
      p.push(
        `kafka.sasl.oauthbearerTokenFile (KAFKA_SASL_OAUTHBEARER_TOKEN_FILE): cannot read ${tokenFile}: ${why}`,
      );
  }
  const userPassword = c.kafka.sasl.mechanism !== '' && c.kafka.sasl.mechanism !== 'oauthbearer';
  if (userPassword && (c.kafka.sasl.username === '' || c.kafka.sasl.password === '')) {
    p.push(
      'kafka.sasl.username/password (KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD): expected both set when KAFKA_SASL_MECHANISM is set',
    );
  }
  return p;
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
  return [...p, ...kafkaClientChecks(c)];
}

/**
 * The settings computed from others, once, after validation: the only values in AppConfig
 * that differ from what was configured.
 */
function deriveSettings(c: AppConfig): AppConfig {
  const { batchSize, maxBatchSize } = c.sink;
  return { ...c, sink: { ...c.sink, maxBatchSize: maxBatchSize === 0 ? 4 * batchSize : maxBatchSize } };
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

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]])) as Pick<T, K>;
}

/**
 * Validates only the kafka-client sections of what was loaded: a convict instance of those
 * sections alone, so an unknown key inside them is still refused while the rest is not looked at.
 */
function validateKafkaClientSections(loaded: object): void {
  const part = convict(pick(schema, KAFKA_CLIENT_SECTIONS), { env: {}, args: [] });
  part.load(pick(loaded as Record<string, unknown>, KAFKA_CLIENT_SECTIONS));
  part.validate({ allowed: 'strict' });
}

export function loadConfig(opts: LoadOptions & { scope: 'kafka-client' }): LoadedKafkaClientConfig;
export function loadConfig(opts?: LoadOptions & { scope?: 'worker' }): LoadedConfig;
export function loadConfig(opts: LoadOptions = {}): LoadedConfig | LoadedKafkaClientConfig {
  // addFormat replaces a format of the same name, so registering on every load is harmless.
  registerFormats();
  const leaves = schemaLeaves();
  const args = opts.args ?? [];
  // A kafka-client load reads no secret file of a setting it does not load (DATABASE_URL_FILE).
  const inScope = (key: string): boolean =>
    opts.scope !== 'kafka-client' || KAFKA_CLIENT_SECTIONS.some((s) => key.startsWith(`${s}.`));
  const secrets = [...leaves].flatMap(([key, l]) =>
    l.sensitive === true && l.env && inScope(key) ? [l.env] : [],
  );
  const aliased = applySeedAliases(opts.env ?? process.env);
  // A flag on the command line wins over the environment: its value is not the seed name's.
  const flagged = new Set(args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
  const env = applySecretFiles(aliased.env, secrets, {
    seedOf: aliased.seedOf,
    flagOf: (name) => (flagged.has(argOf(leaves, name)) ? `--${argOf(leaves, name)}` : undefined),
  });
  const fromSeed = new Map([...aliased.seedOf].filter(([ours]) => !flagged.has(argOf(leaves, ours))));
  const conf = convict<AppConfig>(schema, { env, args });
  try {
    const dir = opts.configDir ?? path.join(projectRoot(), 'config');
    const files = [path.join(dir, 'default.json'), path.join(dir, `${conf.get('env')}.json`)];
    for (const f of files) if (fs.existsSync(f)) conf.loadFile(f);
    if (opts.overrides) conf.load(opts.overrides);
    if (opts.scope === 'kafka-client') validateKafkaClientSections(conf.getProperties());
    else conf.validate({ allowed: 'strict' });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(nameSeedSources(explain(toError(e).message, leaves), fromSeed));
  }
  if (opts.scope === 'kafka-client') {
    const config = pick(conf.getProperties(), KAFKA_CLIENT_SECTIONS);
    const problems = kafkaClientChecks(config);
    if (problems.length > 0) throw new ConfigError(nameSeedSources(problems.join('; '), fromSeed));
    kafkaTlsOptions(config.kafka);
    return { config, redacted: pick(JSON.parse(conf.toString()) as AppConfig, KAFKA_CLIENT_SECTIONS) };
  }
  const configured = conf.getProperties();
  const problems = crossChecks(configured);
  if (problems.length > 0) throw new ConfigError(nameSeedSources(problems.join('; '), fromSeed));
  const config = deriveSettings(configured);
  checkConnectionSettings(config, env);
  const mappings = loadMappings(config);
  // convict masks sensitive values whole; the database URL keeps all but its password.
  const redacted = JSON.parse(conf.toString()) as { database: Record<string, unknown> };
  redacted.database.url = redactUrl(config.database.url);
  return { config, mappings, redacted };
}
