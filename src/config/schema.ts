// The one source of truth for settings: every key has a doc, a format, a default and an
// env var. The README's configuration table is checked against this schema by a test.
// Env names are public contracts (producers, operators, compose files): add, don't rename.
// AppConfig is derived from it (SettingsOf). Its length is one entry per setting.
import { WRITE_MODES } from '../core/topic-mapping.js';

/**
 * An enumerated setting: its type is the union of the values, and the default must be one
 * of them (checked by the compiler).
 */
function oneOf<V extends string>(leaf: {
  doc: string;
  format: V[];
  default: NoInfer<V>;
  env: string;
}): { doc: string; format: V[]; default: V; env: string } {
  return leaf;
}

/** Every leaf's command-line flag is its dotted key in kebab-case: sink.batchSize → --sink-batch-size. */
function withArgs<S extends object>(node: S, prefix = ''): S {
  for (const [k, v] of Object.entries(node)) {
    if (v === null || typeof v !== 'object') continue;
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if ('default' in v) {
      Object.assign(v, { arg: key.replace(/\./g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) });
    } else withArgs(v, key);
  }
  return node;
}

/**
 * The settings type, read off the schema: each leaf's `default` type (for a oneOf leaf, the
 * union of its values). AppConfig is this type of `schema`; nothing restates it by hand.
 */
export type SettingsOf<S> = {
  [K in keyof S]: S[K] extends { readonly default: infer D } ? D : SettingsOf<S[K]>;
};

export const schema = withArgs({
  env: oneOf({
    doc: 'Config file layer to load after config/default.json (config/<env>.json).',
    format: ['production', 'development', 'test'],
    default: 'development',
    env: 'NODE_ENV',
  }),
  log: {
    level: oneOf({
      doc: 'pino log level.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      env: 'LOG_LEVEL',
    }),
    backpressureSummaryMs: {
      doc: 'Backpressure pauses and resumes are logged at debug; one info line per this interval sums them up (pauses, resumes, time paused).',
      format: 'positive-int',
      default: 30000,
      env: 'LOG_BACKPRESSURE_SUMMARY_MS',
    },
  },
  kafka: {
    brokers: {
      doc: 'Bootstrap brokers, comma-separated host:port.',
      format: 'broker-list',
      default: ['localhost:9092'] as string[],
      env: 'KAFKA_BROKERS',
    },
    clientId: {
      doc: 'Kafka client id (appears in broker logs and quotas).',
      format: String,
      default: 'market-data-sink',
      env: 'KAFKA_CLIENT_ID',
    },
    groupId: {
      doc: 'Consumer group id; every member of one sink shares it. Also the key of the sink_offsets rows.',
      format: String,
      default: 'market-data-sink',
      env: 'KAFKA_GROUP_ID',
    },
    topicPrefix: {
      doc: 'Prefix of the market-data topics (md. gives md.bars, md.options, md.fundamentals, md.news).',
      format: 'topic-prefix',
      default: 'md.',
      env: 'TOPIC_PREFIX',
    },
    topics: {
      doc: 'Which mapped topics (suffixes after the prefix) this member consumes.',
      format: 'topic-suffix-list',
      default: ['bars', 'options', 'fundamentals', 'news'] as string[],
      env: 'KAFKA_TOPICS',
    },
    fromBeginning: {
      doc: 'Where a group with no committed offset starts: true = earliest (no data skipped).',
      format: 'bool',
      default: true,
      env: 'KAFKA_FROM_BEGINNING',
    },
    sessionTimeoutMs: {
      doc: 'Group session timeout; a member silent this long is evicted.',
      format: 'positive-int',
      default: 30000,
      env: 'KAFKA_SESSION_TIMEOUT_MS',
    },
    heartbeatIntervalMs: {
      doc: 'Heartbeat interval (keep well under the session timeout).',
      format: 'positive-int',
      default: 3000,
      env: 'KAFKA_HEARTBEAT_INTERVAL_MS',
    },
    rebalanceTimeoutMs: {
      doc: 'Time members get to rejoin during a rebalance.',
      format: 'positive-int',
      default: 60000,
      env: 'KAFKA_REBALANCE_TIMEOUT_MS',
    },
    maxBytes: {
      doc: 'Upper bound of one fetch response (the queue may overshoot its capacity by at most this). 4 MiB keeps the overload RSS under 300 MB.',
      format: 'positive-int',
      default: 4194304,
      env: 'KAFKA_MAX_BYTES',
    },
    maxBytesPerPartition: {
      doc: 'Upper bound of one partition in one fetch.',
      format: 'positive-int',
      default: 524288,
      env: 'KAFKA_MAX_BYTES_PER_PARTITION',
    },
    maxWaitTimeMs: {
      doc: 'Longest the broker holds a fetch waiting for minBytes.',
      format: 'positive-int',
      default: 100,
      env: 'KAFKA_MAX_WAIT_TIME_MS',
    },
    pauseHoldMs: {
      doc: 'When the queue crosses its high watermark the member stops fetching at once by holding the batch handler (heartbeats continue) until the queue is under the low watermark; only if that takes longer than this are the partitions paused in the client. The hold spares a paused client its sleep of maxWaitTime before the next fetch. 0 pauses the client at once.',
      format: 'non-negative-int',
      default: 1000,
      env: 'KAFKA_PAUSE_HOLD_MS',
    },
    partitionsConsumedConcurrently: {
      doc: 'KafkaJS partitionsConsumedConcurrently (batches handed to the queue in parallel).',
      format: 'positive-int',
      default: 1,
      env: 'KAFKA_PARTITIONS_CONCURRENTLY',
    },
    ssl: {
      doc: 'Use TLS to the brokers (every Kafka connection: consumer, DLQ producer, admin, CLIs). See docs/security.md.',
      format: 'bool',
      default: false,
      env: 'KAFKA_SSL',
    },
    sslCaFile: {
      doc: "PEM file of the CA certificate(s) the brokers' certificates must chain to (empty: the system CAs). Needs KAFKA_SSL=true.",
      format: String,
      default: '',
      env: 'KAFKA_SSL_CA_FILE',
    },
    sslCertFile: {
      doc: 'PEM client certificate for mutual TLS (with KAFKA_SSL_KEY_FILE).',
      format: String,
      default: '',
      env: 'KAFKA_SSL_CERT_FILE',
    },
    sslKeyFile: {
      doc: 'PEM private key of the client certificate (with KAFKA_SSL_CERT_FILE).',
      format: String,
      default: '',
      env: 'KAFKA_SSL_KEY_FILE',
    },
    sslKeyPassphrase: {
      doc: 'Passphrase of an encrypted KAFKA_SSL_KEY_FILE (never logged; or KAFKA_SSL_KEY_PASSPHRASE_FILE).',
      format: String,
      default: '',
      env: 'KAFKA_SSL_KEY_PASSPHRASE',
      sensitive: true,
    },
    sslServername: {
      doc: "Name the brokers' certificates are checked against, and sent as SNI, instead of each broker's host.",
      format: String,
      default: '',
      env: 'KAFKA_SSL_SERVERNAME',
    },
    sslRejectUnauthorized: {
      doc: "Refuse brokers whose certificate does not verify. false is for throw-away test setups only: it gives up TLS's protection against a man in the middle.",
      format: 'bool',
      default: true,
      env: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
    },
    sasl: {
      mechanism: oneOf({
        doc: 'SASL mechanism (empty = no SASL). oauthbearer reads its token from KAFKA_SASL_OAUTHBEARER_TOKEN_FILE.',
        format: ['', 'plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'],
        default: '',
        env: 'KAFKA_SASL_MECHANISM',
      }),
      username: { doc: 'SASL user name.', format: String, default: '', env: 'KAFKA_SASL_USERNAME' },
      password: {
        doc: 'SASL password (never logged; or KAFKA_SASL_PASSWORD_FILE).',
        format: String,
        default: '',
        env: 'KAFKA_SASL_PASSWORD',
        sensitive: true,
      },
      oauthbearerTokenFile: {
        doc: 'oauthbearer: file holding the current token; read again at each (re)authentication, so a sidecar can rotate it.',
        format: String,
        default: '',
        env: 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
      },
    },
  },
  database: {
    url: {
      doc: "PostgreSQL connection URL (the password is never logged; or DATABASE_URL_FILE). A Unix socket: postgres:///db?host=/var/run/postgresql. sslmode, sslrootcert, sslcert and sslkey in the URL are honoured with libpq's meaning.",
      format: 'postgres-url',
      default: 'postgres://postgres@127.0.0.1:5432/postgres',
      env: 'DATABASE_URL',
      sensitive: true,
    },
    sslMode: oneOf({
      doc: "libpq's sslmode: disable, require (encrypted, not verified, or verify-ca when a CA is given), verify-ca (the server's certificate chains to DATABASE_SSL_CA_FILE, which it needs), verify-full (and names the host; without a CA file the system CAs). Empty: the URL's sslmode, else disable. prefer and allow are refused (node-postgres cannot fall back).",
      format: ['', 'disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'],
      default: '',
      env: 'DATABASE_SSL_MODE',
    }),
    sslCaFile: {
      doc: "PEM file of the CA certificate(s) the server's certificate must chain to (the URL's sslrootcert). Empty: the system CAs with verify-full, refused with verify-ca.",
      format: String,
      default: '',
      env: 'DATABASE_SSL_CA_FILE',
    },
    sslCertFile: {
      doc: "PEM client certificate (the URL's sslcert), with DATABASE_SSL_KEY_FILE.",
      format: String,
      default: '',
      env: 'DATABASE_SSL_CERT_FILE',
    },
    sslKeyFile: {
      doc: "PEM private key of the client certificate (the URL's sslkey).",
      format: String,
      default: '',
      env: 'DATABASE_SSL_KEY_FILE',
    },
    sslKeyPassphrase: {
      doc: "Passphrase of an encrypted DATABASE_SSL_KEY_FILE (the URL's sslpassword; never logged; or DATABASE_SSL_KEY_PASSPHRASE_FILE).",
      format: String,
      default: '',
      env: 'DATABASE_SSL_KEY_PASSPHRASE',
      sensitive: true,
    },
    schema: {
      doc: 'Schema holding the tables and sink_offsets.',
      format: 'sql-identifier',
      default: 'public',
      env: 'DATABASE_SCHEMA',
    },
    migrateOnStart: {
      doc: 'Run the idempotent migrations (under an advisory lock) when the worker starts.',
      format: 'bool',
      default: true,
      env: 'DATABASE_MIGRATE_ON_START',
    },
    statementTimeoutMs: {
      doc: 'statement_timeout of the sink connections (0 = none); a stuck write becomes a retriable error.',
      format: 'non-negative-int',
      default: 60000,
      env: 'DATABASE_STATEMENT_TIMEOUT_MS',
    },
    connectTimeoutMs: {
      doc: 'Time to wait for a new connection.',
      format: 'positive-int',
      default: 10000,
      env: 'DATABASE_CONNECT_TIMEOUT_MS',
    },
  },
  defaultTenantId: {
    doc: 'tenant_id used when a message has none (empty: such messages are invalid).',
    format: 'uuid-or-empty',
    default: '',
    env: 'DEFAULT_TENANT_ID',
  },
  maxMessageBytes: {
    doc: 'Messages larger than this are dead-lettered with reason decode.',
    format: 'positive-int',
    default: 1048576,
    env: 'MAX_MESSAGE_BYTES',
  },
  tombstones: oneOf({
    doc: 'Null-valued messages: dlq (dead-letter them), ignore (count and skip) or delete (the message key is a JSON object of the conflict-key columns; that row is deleted, as Kafka Connect does with delete.enabled and pk.mode=record_key).',
    format: ['dlq', 'ignore', 'delete'],
    default: 'dlq',
    env: 'TOMBSTONE_POLICY',
  }),
  queue: {
    capacityRecords: {
      doc: 'Records held between the consumer and the writers before partitions pause.',
      format: 'positive-int',
      default: 10000,
      env: 'QUEUE_CAPACITY_RECORDS',
    },
    capacityBytes: {
      doc: 'Bytes held between the consumer and the writers.',
      format: 'positive-int',
      default: 67108864,
      env: 'QUEUE_CAPACITY_BYTES',
    },
    highWatermark: {
      doc: 'Fraction of capacity at which partitions are paused.',
      format: 'fraction',
      default: 0.8,
      env: 'QUEUE_HIGH_WATERMARK',
    },
    lowWatermark: {
      doc: 'Fraction of capacity under which paused partitions resume.',
      format: 'fraction',
      default: 0.5,
      env: 'QUEUE_LOW_WATERMARK',
    },
    overflow: oneOf({
      doc: 'block: pause partitions at the high watermark; drop_oldest: dead-letter the oldest queued records (reason overflow) when full; error: stop the member with a non-zero exit.',
      format: ['block', 'drop_oldest', 'error'],
      default: 'block',
      env: 'QUEUE_OVERFLOW',
    }),
    overflowPendingRecords: {
      doc: 'drop_oldest: dropped records waiting for their DLQ write, at most. A full overflow gate pauses fetching until the DLQ has caught up to half of it, so a DLQ slower than the input slows the input instead of filling memory.',
      format: 'positive-int',
      default: 10000,
      env: 'QUEUE_OVERFLOW_PENDING_RECORDS',
    },
    overflowPendingBytes: {
      doc: 'drop_oldest: bytes of dropped records waiting for their DLQ write, at most (a single larger record is taken alone).',
      format: 'positive-int',
      default: 16777216,
      env: 'QUEUE_OVERFLOW_PENDING_BYTES',
    },
  },
  sink: {
    workers: {
      doc: 'Writer workers, each with its own connection; a partition is written by one worker at a time, in order, and idle workers take any waiting partition.',
      format: 'positive-int',
      default: 4,
      env: 'SINK_WORKERS',
    },
    batchSize: {
      doc: 'A batch this large goes at once; a smaller one goes at once too when no other write is in flight (group commit), else it waits for that write to end …',
      format: 'positive-int',
      default: 500,
      env: 'SINK_BATCH_SIZE',
    },
    maxBatchSize: {
      doc: 'A worker whose lane holds a backlog takes up to this many queued records in one transaction (fewer commits per row when behind); batchSize still decides how full a batch must be before it stops waiting. 0 means 4 × batchSize.',
      format: 'non-negative-int',
      default: 0,
      env: 'SINK_MAX_BATCH_SIZE',
    },
    flushIntervalMs: {
      doc: "… at most this long after the batch's first record (an upper bound, not a linger).",
      format: 'positive-int',
      default: 250,
      env: 'SINK_FLUSH_INTERVAL_MS',
    },
    writeMode: oneOf({
      doc: 'Default write mode of the built-in tables: upsert, insert (conflicts ignored) or copy (straight COPY, append-only).',
      format: [...WRITE_MODES],
      default: 'upsert',
      env: 'SINK_WRITE_MODE',
    }),
    mappingsFile: {
      doc: 'JSON file with extra or replacement topic→table mappings (see README).',
      format: String,
      default: '',
      env: 'SINK_MAPPINGS_FILE',
    },
  },
  retry: {
    maxAttempts: {
      doc: 'Quick retries of a failed batch before the breaker decides the pace.',
      format: 'positive-int',
      default: 5,
      env: 'RETRY_MAX_ATTEMPTS',
    },
    initialBackoffMs: {
      doc: 'First retry delay.',
      format: 'positive-int',
      default: 50,
      env: 'RETRY_INITIAL_BACKOFF_MS',
    },
    maxBackoffMs: {
      doc: 'Cap of the retry delay.',
      format: 'positive-int',
      default: 2000,
      env: 'RETRY_MAX_BACKOFF_MS',
    },
    multiplier: {
      doc: 'Growth factor of the delay.',
      format: 'multiplier',
      default: 2,
      env: 'RETRY_BACKOFF_MULTIPLIER',
    },
    jitter: {
      doc: 'Full jitter (random delay in [0, computed]) so workers do not retry in step.',
      format: 'bool',
      default: true,
      env: 'RETRY_JITTER',
    },
  },
  breaker: {
    failureThreshold: {
      doc: 'Consecutive transient failures that open the circuit.',
      format: 'positive-int',
      default: 5,
      env: 'CB_FAILURE_THRESHOLD',
    },
    openMs: {
      doc: 'How long the circuit stays open before one probe batch is let through.',
      format: 'positive-int',
      default: 60000,
      env: 'CB_OPEN_MS',
    },
  },
  dlq: {
    topic: {
      doc: 'Dead-letter topic (idempotent producer, acks=all).',
      format: 'topic-name',
      default: 'md.dlq',
      env: 'DLQ_TOPIC',
    },
    dir: {
      doc: 'Directory of the NDJSON dead-letter files (one per day and topic).',
      format: String,
      default: './.dlq',
      env: 'DLQ_DIR',
    },
    maxFileBytes: {
      doc: 'An NDJSON file is rotated when it reaches this size.',
      format: 'positive-int',
      default: 104857600,
      env: 'DLQ_MAX_FILE_BYTES',
    },
  },
  metrics: {
    host: {
      doc: 'Address of the /metrics, /healthz and /readyz server.',
      format: String,
      default: '127.0.0.1',
      env: 'METRICS_HOST',
    },
    port: {
      doc: 'Port of that server (0 = any free port).',
      format: 'port',
      default: 9464,
      env: 'METRICS_PORT',
    },
    queuePollMs: {
      doc: 'How often queue gauges and consumer lag are refreshed.',
      format: 'positive-int',
      default: 250,
      env: 'METRICS_QUEUE_POLL_MS',
    },
  },
  shutdown: {
    timeoutMs: {
      doc: 'Drain deadline after SIGTERM; past it the process exits (uncommitted records are re-read).',
      format: 'positive-int',
      default: 30000,
      env: 'SHUTDOWN_TIMEOUT_MS',
    },
  },
});
