// One pino logger for the process; components take child loggers with their context.
// KafkaJS logs are routed into the same stream (kafkaLogCreator) with levels mapped.
import pino, { type Logger } from 'pino';
import { logLevel, type logCreator } from 'kafkajs';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'market-data-sink' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['*.password', '*.*.password', 'password', 'url', '*.url', 'sasl', '*.sasl'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/**
 * Masks the password of a connection URL (in the userinfo, or a query parameter such as
 * `password` or `sslpassword`) and keeps the rest: host, port and database say where the
 * sink writes, which the operator needs to see. The userinfo is masked by text first, from
 * "://user:" to the last @, because a password with an unencoded / ? or # makes URL parsing
 * end the authority inside it (host u, port 12345 for postgres://u:12345/abc@h/db) and
 * then it would be printed as path; over-masking is the safe error.
 */
export function redactUrl(url: string): string {
  const masked = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:).*@/is, '$1***@');
  try {
    const u = new URL(masked);
    if (u.password !== '') u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
  [logLevel.NOTHING]: 'debug',
};

/**
 * KafkaJS warns this whenever an idempotent producer has bounded retries. It does not apply
 * here: the sink's exactly-once comes from writing rows and sink_offsets in one PostgreSQL
 * transaction, not from Kafka transactions; our idempotent producers (DLQ topic, replay
 * target) bound their retries on purpose so an outage surfaces instead of hanging, and both
 * are at-least-once by design with idempotent consumers of their output. So it is kept at
 * debug rather than alarming every start.
 */
const IDEMPOTENT_RETRIES_WARNING =
  'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/** KafkaJS logCreator that writes into our pino logger (component=kafkajs). */
export function kafkaLogCreator(root: Logger): logCreator {
  const log = root.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      const method = LEVELS[level] ?? 'info';
      // KafkaJS is chatty at INFO about every join/commit; keep those at debug.
      const target = method === 'info' || message === IDEMPOTENT_RETRIES_WARNING ? 'debug' : method;
      log[target](rest, message);
    };
}

/** pino level name → KafkaJS logLevel, so the client does not build messages we drop. */
export function kafkaLogLevel(level: string): logLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
    case 'warn':
      return logLevel.WARN;
    case 'silent':
      return logLevel.NOTHING;
    default:
      return logLevel.ERROR;
  }
}
