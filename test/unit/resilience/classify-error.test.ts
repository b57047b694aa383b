// The one classification table: each row is an error as its library throws it and the exact
// verdict (kind, code, message, SQLSTATE) the workers act on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { classifyError, type Classified } from '../../../src/resilience/classify-error.js';
import { ConfigError, DatabaseError, RecordError, SinkError } from '../../../src/core/errors.js';

/** What node-postgres throws for an ErrorResponse: a pg-protocol DatabaseError with `code`. */
function pgError(sqlState: string, message = `pg says ${sqlState}`): pg.DatabaseError {
  const e = new pg.DatabaseError(message, 100, 'error');
  e.code = sqlState;
  e.severity = 'ERROR';
  return e;
}

/** What Node's net/dns layer throws: an Error with errno-style `code`. */
function sysError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, syscall: 'connect' });
}

const protocolError = new KafkaJSProtocolError(
  Object.assign(new Error('This server is not the leader for that topic-partition'), {
    type: 'NOT_LEADER_FOR_PARTITION',
    code: 6,
    retriable: true,
  }),
);

type Row = [label: string, input: unknown, expected: Classified];
const T = 'transient' as const;
const R = 'record' as const;
const U = 'undecided' as const;
const E = 'environment' as const;

/** A pg ErrorResponse row: the verdict carries node-postgres's message and the SQLSTATE. */
function sql(label: string, sqlState: string, kind: Classified['kind'], code: string): Row {
  return [label, pgError(sqlState), { kind, code, message: `pg says ${sqlState}`, sqlState }];
}

/** A Node network/DNS error row: transient, its errno code is the verdict's code. */
function sys(code: string, label = code): Row {
  return [label, sysError(code), { kind: T, code, message: `connect ${code} 127.0.0.1:5432` }];
}

/** node-postgres's own connection errors: no code, so the message decides (transient). */
function pgClient(label: string, message: string, code: string): Row {
  return [label, new Error(message), { kind: T, code, message }];
}

const rows: Row[] = [
  // SQLSTATE, transient: the server or the connection, not the data
  sql('08006 connection_failure (class 08)', '08006', T, 'connection_exception'),
  sql('08001 unable to connect (class 08)', '08001', T, 'connection_exception'),
  sql('40001 serialization_failure', '40001', T, 'serialization_failure'),
  sql('40P01 deadlock_detected', '40P01', T, 'deadlock_detected'),
  sql('53300 too_many_connections', '53300', T, 'too_many_connections'),
  sql('53100 disk_full', '53100', T, 'disk_full'),
  sql('53200 out_of_memory', '53200', T, 'out_of_memory'),
  sql('53400 configuration_limit_exceeded (class 53)', '53400', T, 'insufficient_resources'),
  sql('57P01 admin_shutdown', '57P01', T, 'admin_shutdown'),
  sql('57P02 crash_shutdown', '57P02', T, 'crash_shutdown'),
  sql('57P03 cannot_connect_now', '57P03', T, 'cannot_connect_now'),
  sql('57014 query_canceled (statement timeout)', '57014', T, 'query_canceled'),
  sql('55P03 lock_not_available', '55P03', T, 'lock_not_available'),
  sql('58030 io_error (class 58)', '58030', T, 'system_error'),
  // SQLSTATE, record-bound: the row's values; isolated on the first failure
  sql('22001 string too long', '22001', R, 'string_data_right_truncation'),
  sql('22003 numeric out of range', '22003', R, 'numeric_value_out_of_range'),
  sql('22P02 invalid text representation', '22P02', R, 'invalid_text_representation'),
  sql('22007 invalid datetime format', '22007', R, 'invalid_datetime_format'),
  sql('22008 datetime field overflow', '22008', R, 'datetime_field_overflow'),
  sql('22012 division_by_zero (class 22)', '22012', R, 'data_exception'),
  sql('23502 not null', '23502', R, 'not_null_violation'),
  sql('23514 check', '23514', R, 'check_violation'),
  sql('23503 foreign key', '23503', R, 'foreign_key_violation'),
  sql('23505 unique', '23505', R, 'unique_violation'),
  sql('42703 undefined column', '42703', U, 'undefined_column'),
  sql('42P01 undefined table', '42P01', U, 'undefined_table'),
  sql('42501 insufficient privilege', '42501', U, 'insufficient_privilege'),
  sql('42601 syntax error (class 42)', '42601', U, 'syntax_error_or_access_rule_violation'),
  sql('XX000 internal_error', 'XX000', U, 'internal_error'),
  sql('40002 (class 40) transaction rollback', '40002', T, 'transaction_rollback'),
  sql('57000 operator_intervention (class 57)', '57000', T, 'operator_intervention'),
  // SQLSTATE, undecided: one record's (a trigger, a row too large) or everyone's; probed
  sql('P0001 raise_exception (a trigger)', 'P0001', U, 'raise_exception'),
  sql('54000 program_limit_exceeded (index row too large)', '54000', U, 'program_limit_exceeded'),
  sql('21000 cardinality_violation', '21000', U, 'cardinality_violation'),
  sql('25P02 (not listed) is undecided', '25P02', U, 'sqlstate_25P02'),
  // SQLSTATE, environment: no record causes or avoids them
  sql('25006 read_only_sql_transaction', '25006', E, 'read_only_sql_transaction'),
  sql('3D000 invalid_catalog_name', '3D000', E, 'invalid_catalog_name'),
  sql('28P01 invalid_password (class 28)', '28P01', E, 'invalid_authorization_specification'),
  // Node network and DNS errors
  sys('ECONNREFUSED'),
  sys('ECONNRESET'),
  sys('EPIPE', 'EPIPE (SQLSTATE-shaped, still network)'),
  sys('ETIMEDOUT'),
  sys('EHOSTUNREACH'),
  sys('ENETUNREACH'),
  sys('EAI_AGAIN'),
  sys('ENOTFOUND'),
  [
    'AggregateError from happy-eyeballs connect (no code of its own)',
    new AggregateError([sysError('ECONNREFUSED'), sysError('ECONNREFUSED')], 'connect failed'),
    { kind: T, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
  ],
  // node-postgres connection messages (no code)
  pgClient(
    'pg: Connection terminated unexpectedly',
    'Connection terminated unexpectedly',
    'PG_CONNECTION_TERMINATED',
  ),
  pgClient('pg: Connection terminated', 'Connection terminated', 'PG_CONNECTION_TERMINATED'),
  pgClient('pg: connect timeout', 'timeout exceeded when trying to connect', 'PG_CONNECT_TIMEOUT'),
  pgClient(
    'pg: broken client',
    'Client has encountered a connection error and is not queryable',
    'PG_CLIENT_BROKEN',
  ),
  pgClient('pg: query_timeout', 'Query read timeout', 'PG_QUERY_TIMEOUT'),
  // KafkaJS: follow `retriable`
  [
    'KafkaJSConnectionError (retriable)',
    new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'),
    { kind: T, code: 'KafkaJSConnectionError', message: 'Connection error: connect ECONNREFUSED' },
  ],
  [
    'KafkaJSProtocolError carries the broker error type',
    protocolError,
    {
      kind: T,
      code: 'NOT_LEADER_FOR_PARTITION',
      message: 'This server is not the leader for that topic-partition',
    },
  ],
  [
    'KafkaJSNumberOfRetriesExceeded (not retriable)',
    new KafkaJSNumberOfRetriesExceeded(new Error('broker down'), { retryCount: 5, retryTime: 1000 }),
    { kind: E, code: 'KafkaJSNumberOfRetriesExceeded', message: 'broker down' },
  ],
  // Our own errors: follow `retriable`, then what they are
  [
    'DatabaseError (ours, retriable) keeps its sqlState',
    new DatabaseError('DB_DOWN', 'db down', true, '57P01'),
    { kind: T, code: 'DB_DOWN', message: 'db down', sqlState: '57P01' },
  ],
  [
    'SinkError retriable',
    new SinkError('DLQ_UNAVAILABLE', 'dlq down', { retriable: true }),
    { kind: T, code: 'DLQ_UNAVAILABLE', message: 'dlq down' },
  ],
  [
    'ConfigError',
    new ConfigError('x: expected y, got z'),
    { kind: E, code: 'CONFIG_INVALID', message: 'x: expected y, got z' },
  ],
  [
    'DatabaseError (ours, not retriable) follows its sqlState',
    new DatabaseError('DB_REJECTED', 'rejected', false, '23505'),
    { kind: R, code: 'DB_REJECTED', message: 'rejected', sqlState: '23505' },
  ],
  [
    'SinkError not retriable, no sqlState (a refused DLQ)',
    new SinkError('DLQ_REFUSED', 'dlq refused'),
    { kind: E, code: 'DLQ_REFUSED', message: 'dlq refused' },
  ],
  [
    'RecordError',
    new RecordError('decode', 'BAD_JSON', 'value: expected JSON'),
    { kind: R, code: 'BAD_JSON', message: 'value: expected JSON' },
  ],
  // Wrapped and unknown: unknown is undecided (retried, then probed)
  [
    'plain Error wrapping a pg error',
    new Error('COPY failed', { cause: pgError('40P01') }),
    { kind: T, code: 'deadlock_detected', message: 'pg says 40P01', sqlState: '40P01' },
  ],
  [
    'unknown Error',
    new TypeError('x is not a function'),
    { kind: U, code: 'UNKNOWN', message: 'x is not a function' },
  ],
  [
    'unknown Node code',
    Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }),
    { kind: U, code: 'ERR_STREAM_PREMATURE_CLOSE', message: 'premature close' },
  ],
  ['a thrown string', 'boom', { kind: U, code: 'UNKNOWN', message: 'boom' }],
  ['null', null, { kind: U, code: 'UNKNOWN', message: 'null' }],
];

void describe('classifyError', () => {
  for (const [label, input, expected] of rows) {
    void it(label, () => {
      assert.deepEqual(classifyError(input), expected);
    });
  }

  void it('stops unwrapping a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    assert.deepEqual(classifyError(a), { kind: 'undecided', code: 'UNKNOWN', message: 'a' });
  });
});
