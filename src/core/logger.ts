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
        paths: [
          '*.password',
          '*.*.password',
          'password',
          'url',
          '*.url',
          'config.database.url',
          'sasl',
          '*.sasl',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** Strips the password from a connection URL so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
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

/** KafkaJS logCreator that writes into our pino logger (component=kafkajs). */
export function kafkaLogCreator(root: Logger): logCreator {
  const log = root.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      const method = LEVELS[level] ?? 'info';
      // KafkaJS is chatty at INFO about every join/commit; keep those at debug.
      const target = method === 'info' ? 'debug' : method;
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
