// Decides what a failure means for the batch that met it, and so what the worker does:
//   transient    the server or the network is away or busy: retry behind the breaker;
//   record       the row's own values (SQLSTATE 22, 23): isolate the batch at once;
//   undecided    could be a few records' doing (a trigger, a row too large) or everyone's (a
//                missing table, a revoked grant): retry, then isolate; single-record probes
//                tell whether the records' neighbours apply (dead-letter the failing ones)
//                or not (the environment);
//   environment  nothing a record holds can cause it: pause behind the breaker, never
//                dead-letter, report the SQLSTATE until it is fixed.
// One table per error family, so a new code is a new row, not a branch.
import { RecordError, SinkError, toError } from '../core/errors.js';

export type ErrorKind = 'transient' | 'record' | 'undecided' | 'environment';

export interface Classified {
  readonly kind: ErrorKind;
  /** Stable, low-cardinality code for logs, metrics and the DLQ. */
  readonly code: string;
  readonly message: string;
  /** The five-character SQLSTATE when the database reported one. */
  readonly sqlState?: string;
}

interface SqlStateRule {
  /** Five characters for one condition, two for a whole class. */
  readonly match: string;
  readonly kind: ErrorKind;
  readonly name: string;
}

// PostgreSQL SQLSTATEs (appendix A of the PostgreSQL manual). Exact codes win over
// classes; a code in neither is undecided: retried, then isolated, and the probes find
// whether records or the environment cause it.
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
  { match: '40', kind: 'transient', name: 'transaction_rollback' },
  { match: '53', kind: 'transient', name: 'insufficient_resources' },
  { match: '57', kind: 'transient', name: 'operator_intervention' },
  { match: '58', kind: 'transient', name: 'system_error' },
  // The row's values: only the records that carry them fail.
  { match: '22001', kind: 'record', name: 'string_data_right_truncation' },
  { match: '22003', kind: 'record', name: 'numeric_value_out_of_range' },
  { match: '22007', kind: 'record', name: 'invalid_datetime_format' },
  { match: '22008', kind: 'record', name: 'datetime_field_overflow' },
  { match: '22P02', kind: 'record', name: 'invalid_text_representation' },
  { match: '23502', kind: 'record', name: 'not_null_violation' },
  { match: '23503', kind: 'record', name: 'foreign_key_violation' },
  { match: '23505', kind: 'record', name: 'unique_violation' },
  { match: '23514', kind: 'record', name: 'check_violation' },
  { match: '22', kind: 'record', name: 'data_exception' },
  { match: '23', kind: 'record', name: 'integrity_constraint_violation' },
  // Who we are, where we write: no record can cause these, no record can avoid them.
  { match: '25006', kind: 'environment', name: 'read_only_sql_transaction' },
  { match: '3D000', kind: 'environment', name: 'invalid_catalog_name' },
  { match: '28', kind: 'environment', name: 'invalid_authorization_specification' },
  // Usually the environment, but a trigger or a row-level security policy can raise them
  // for some rows only: the probes decide.
  { match: '42501', kind: 'undecided', name: 'insufficient_privilege' },
  { match: '42703', kind: 'undecided', name: 'undefined_column' },
  { match: '42P01', kind: 'undecided', name: 'undefined_table' },
  { match: '42', kind: 'undecided', name: 'syntax_error_or_access_rule_violation' },
  // A trigger's RAISE EXCEPTION, a row too large for an index, a row affected twice.
  { match: 'P0001', kind: 'undecided', name: 'raise_exception' },
  { match: '54000', kind: 'undecided', name: 'program_limit_exceeded' },
  { match: '21000', kind: 'undecided', name: 'cardinality_violation' },
  // A server bug one input triggers is isolated like any record-bound failure.
  { match: 'XX000', kind: 'undecided', name: 'internal_error' },
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
 * then the wrapped cause. Anything else is undecided: a bug that one record triggers is
 * isolated and dead-lettered, one that every record triggers pauses the partitions.
 */
export function classifyError(e: unknown): Classified {
  return classify(e, 0);
}

function classify(e: unknown, depth: number): Classified {
  if (e instanceof SinkError) {
    const sqlState = stringProp(e, 'sqlState');
    // Not retriable: a rejected record is the record's; a database error follows its
    // SQLSTATE; anything else of ours (configuration, a refused DLQ) is the environment's.
    const kind: ErrorKind = e.retriable
      ? 'transient'
      : e instanceof RecordError
        ? 'record'
        : sqlState !== undefined && SQLSTATE_SHAPE.test(sqlState)
          ? (sqlStateRule(sqlState)?.kind ?? 'undecided')
          : 'environment';
    return withSqlState({ kind, code: e.code, message: e.message }, sqlState);
  }
  if (typeof e !== 'object' || e === null) {
    return { kind: 'undecided', code: 'UNKNOWN', message: toError(e).message };
  }
  const name = stringProp(e, 'name') ?? '';
  const message = stringProp(e, 'message') ?? toError(e).message;

  const retriable = (e as { retriable?: unknown }).retriable;
  if (name.startsWith('KafkaJS') && typeof retriable === 'boolean') {
    // Protocol errors carry the broker's error name in `type` (e.g. NOT_LEADER_FOR_PARTITION).
    // Not retriable: the cluster refuses us (authorization, configuration), whatever we send.
    return { kind: retriable ? 'transient' : 'environment', code: stringProp(e, 'type') ?? name, message };
  }

  const code = stringProp(e, 'code');
  if (code !== undefined) {
    // Network codes first: EPIPE has the shape of a SQLSTATE.
    if (NETWORK_CODES.has(code)) return { kind: 'transient', code, message };
    if (SQLSTATE_SHAPE.test(code)) {
      const rule = sqlStateRule(code);
      return rule === undefined
        ? { kind: 'undecided', code: `sqlstate_${code}`, message, sqlState: code }
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

  return { kind: 'undecided', code: code ?? 'UNKNOWN', message };
}

function sqlStateRule(sqlState: string): SqlStateRule | undefined {
  return SQLSTATE_EXACT.get(sqlState) ?? SQLSTATE_CLASS.get(sqlState.slice(0, 2));
}

function stringProp(o: object, key: string): string | undefined {
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

function withSqlState(c: Classified, sqlState: string | undefined): Classified {
  return sqlState === undefined ? c : { ...c, sqlState };
}
