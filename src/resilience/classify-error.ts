// Decides whether waiting can help: every failure a worker, committer or DLQ writer sees
// is mapped to transient (retry, count against the breaker) or permanent (retrying
// cannot fix it). One table per error family, so a new code is a new row, not a branch.
import { SinkError, toError } from '../errors.js';

export interface Classified {
  readonly kind: 'transient' | 'permanent';
  /** Stable, low-cardinality code for logs, metrics and the DLQ. */
  readonly code: string;
  readonly message: string;
  /** The five-character SQLSTATE when the database reported one. */
  readonly sqlState?: string;
}

type Kind = Classified['kind'];

interface SqlStateRule {
  /** Five characters for one condition, two for a whole class. */
  readonly match: string;
  readonly kind: Kind;
  readonly name: string;
}

// PostgreSQL SQLSTATEs (appendix A of the PostgreSQL manual). Exact codes win over
// classes; a code in neither is permanent, because a database that answered with an
// error we do not know is not an outage that waiting would end.
const SQLSTATE_RULES: readonly SqlStateRule[] = [
  // The connection or the server is going away or overloaded: a new attempt can succeed.
  { match: '40001', kind: 'transient', name: 'serialization_failure' },
  { match: '40P01', kind: 'transient', name: 'deadlock_detected' },
  { match: '53100', kind: 'transient', name: 'disk_full' },
  { match: '53200', kind: 'transient', name: 'out_of_memory' },
  { match: '53300', kind: 'transient', name: 'too_many_connections' },
  { match: '55P03', kind: 'transient', name: 'lock_not_available' },
  { match: '57014', kind: 'transient', name: 'query_canceled' },
  { match: '57P01', kind: 'transient', name: 'admin_shutdown' },
  { match: '57P02', kind: 'transient', name: 'crash_shutdown' },
  { match: '57P03', kind: 'transient', name: 'cannot_connect_now' },
  { match: '08', kind: 'transient', name: 'connection_exception' },
  { match: '53', kind: 'transient', name: 'insufficient_resources' },
  { match: '58', kind: 'transient', name: 'system_error' },
  // The statement or the data is wrong: the same batch will fail the same way.
  { match: '22001', kind: 'permanent', name: 'string_data_right_truncation' },
  { match: '22003', kind: 'permanent', name: 'numeric_value_out_of_range' },
  { match: '22007', kind: 'permanent', name: 'invalid_datetime_format' },
  { match: '22008', kind: 'permanent', name: 'datetime_field_overflow' },
  { match: '22P02', kind: 'permanent', name: 'invalid_text_representation' },
  { match: '23502', kind: 'permanent', name: 'not_null_violation' },
  { match: '23503', kind: 'permanent', name: 'foreign_key_violation' },
  { match: '23505', kind: 'permanent', name: 'unique_violation' },
  { match: '23514', kind: 'permanent', name: 'check_violation' },
  { match: '42501', kind: 'permanent', name: 'insufficient_privilege' },
  { match: '42703', kind: 'permanent', name: 'undefined_column' },
  { match: '42P01', kind: 'permanent', name: 'undefined_table' },
  // An internal error is a server bug, not an outage; retrying the same input repeats it.
  { match: 'XX000', kind: 'permanent', name: 'internal_error' },
  { match: '22', kind: 'permanent', name: 'data_exception' },
  { match: '23', kind: 'permanent', name: 'integrity_constraint_violation' },
  { match: '42', kind: 'permanent', name: 'syntax_error_or_access_rule_violation' },
];

const SQLSTATE_EXACT = new Map(SQLSTATE_RULES.filter((r) => r.match.length === 5).map((r) => [r.match, r]));
const SQLSTATE_CLASS = new Map(SQLSTATE_RULES.filter((r) => r.match.length === 2).map((r) => [r.match, r]));
const SQLSTATE_SHAPE = /^[0-9A-Z]{5}$/;

// Node socket and DNS errors (`err.code`). All transient: the network or the peer may be
// back on the next attempt. ENOTFOUND too: in containers DNS often fails while a service
// starts, and a name that never resolves is caught by the breaker, not by giving up.
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

// node-postgres reports a lost or unobtainable connection with plain Errors and no code.
const PG_CONNECTION_MESSAGES: readonly { readonly text: string; readonly code: string }[] = [
  // Also covers "Connection terminated unexpectedly" and "… due to connection timeout".
  { text: 'Connection terminated', code: 'PG_CONNECTION_TERMINATED' },
  { text: 'timeout exceeded when trying to connect', code: 'PG_CONNECT_TIMEOUT' },
  { text: 'Client has encountered a connection error and is not queryable', code: 'PG_CLIENT_BROKEN' },
  { text: 'Query read timeout', code: 'PG_QUERY_TIMEOUT' },
];

/** Wrapped errors are unwrapped this deep at most (a cause cycle must not hang us). */
const MAX_CAUSE_DEPTH = 5;

/**
 * Order of the checks: our own SinkError and KafkaJS errors already know whether they are
 * retriable; then Node network codes, SQLSTATEs and node-postgres connection messages;
 * then the wrapped cause. Anything else is permanent: an error nobody recognises is more
 * likely a bug than an outage, and retrying a bug forever hides it.
 */
export function classifyError(e: unknown): Classified {
  return classify(e, 0);
}

export function isTransient(e: unknown): boolean {
  return classifyError(e).kind === 'transient';
}

function classify(e: unknown, depth: number): Classified {
  if (e instanceof SinkError) {
    const sqlState = stringProp(e, 'sqlState');
    return withSqlState(
      { kind: e.retriable ? 'transient' : 'permanent', code: e.code, message: e.message },
      sqlState,
    );
  }
  if (typeof e !== 'object' || e === null) {
    return { kind: 'permanent', code: 'UNKNOWN', message: toError(e).message };
  }
  const name = stringProp(e, 'name') ?? '';
  const message = stringProp(e, 'message') ?? toError(e).message;

  const retriable = (e as { retriable?: unknown }).retriable;
  if (name.startsWith('KafkaJS') && typeof retriable === 'boolean') {
    // Protocol errors carry the broker's error name in `type` (e.g. NOT_LEADER_FOR_PARTITION).
    return { kind: retriable ? 'transient' : 'permanent', code: stringProp(e, 'type') ?? name, message };
  }

  const code = stringProp(e, 'code');
  if (code !== undefined) {
    // Network codes first: EPIPE has the shape of a SQLSTATE.
    if (NETWORK_CODES.has(code)) return { kind: 'transient', code, message };
    if (SQLSTATE_SHAPE.test(code)) {
      const rule = SQLSTATE_EXACT.get(code) ?? SQLSTATE_CLASS.get(code.slice(0, 2));
      return rule === undefined
        ? { kind: 'permanent', code: `sqlstate_${code}`, message, sqlState: code }
        : { kind: rule.kind, code: rule.name, message, sqlState: code };
    }
  }

  for (const m of PG_CONNECTION_MESSAGES) {
    if (message.includes(m.text)) return { kind: 'transient', code: m.code, message };
  }

  if (depth < MAX_CAUSE_DEPTH) {
    // Node's happy-eyeballs connect reports an AggregateError; its first error is the cause.
    const inner = e instanceof AggregateError ? (e.errors as unknown[])[0] : (e as { cause?: unknown }).cause;
    if (inner !== undefined && inner !== null) {
      const c = classify(inner, depth + 1);
      if (c.code !== 'UNKNOWN') return c;
    }
  }

  return { kind: 'permanent', code: code ?? 'UNKNOWN', message };
}

function stringProp(o: object, key: string): string | undefined {
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

function withSqlState(c: Classified, sqlState: string | undefined): Classified {
  return sqlState === undefined ? c : { ...c, sqlState };
}
