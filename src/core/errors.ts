// One error base for the whole pipeline: a stable string `code` for logs, metrics and
// the DLQ, and `retriable` so callers know whether waiting can help.

export class SinkError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A setting is missing or malformed; the process cannot start. */
export class ConfigError extends SinkError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, { retriable: false, ...options });
  }
}

/** A message could not be decoded or failed its topic's schema; never retriable. */
export class RecordError extends SinkError {
  readonly reason: 'decode' | 'validation';
  constructor(reason: 'decode' | 'validation', code: string, message: string) {
    super(code, message, { retriable: false });
    this.reason = reason;
  }
}

/** A database failure, classified (see resilience/classify-error.ts). */
export class DatabaseError extends SinkError {
  readonly sqlState: string | undefined;
  constructor(code: string, message: string, retriable: boolean, sqlState?: string, cause?: unknown) {
    super(code, message, { retriable, cause });
    this.sqlState = sqlState;
  }
}

/** A Kafka failure (broker, DLQ topic, commit). */
export class KafkaError extends SinkError {
  constructor(code: string, message: string, retriable: boolean, cause?: unknown) {
    super(code, message, { retriable, cause });
  }
}

/** A wait given up because its AbortSignal fired (a stop during start-up). */
export class AbortedError extends SinkError {
  constructor(what: string) {
    super('ABORTED', `${what}: aborted`, { retriable: false });
  }
}

/** Coerce anything caught into an Error without losing the original. */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (typeof e === 'string') return new Error(e);
  try {
    return new Error(JSON.stringify(e));
  } catch {
    return new Error(String(e));
  }
}
