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

const rows: Row[] = [
  // SQLSTATE, transient: the server or the connection, not the data
  [
    '08006 connection_failure (class 08)',
    pgError('08006'),
    { kind: T, code: 'connection_exception', message: 'pg says 08006', sqlState: '08006' },
  ],
  [
    '08001 unable to connect (class 08)',
    pgError('08001'),
    { kind: T, code: 'connection_exception', message: 'pg says 08001', sqlState: '08001' },
  ],
  [
    '40001 serialization_failure',
    pgError('40001'),
    { kind: T, code: 'serialization_failure', message: 'pg says 40001', sqlState: '40001' },
  ],
  [
    '40P01 deadlock_detected',
    pgError('40P01'),
    { kind: T, code: 'deadlock_detected', message: 'pg says 40P01', sqlState: '40P01' },
  ],
  [
    '53300 too_many_connections',
    pgError('53300'),
    { kind: T, code: 'too_many_connections', message: 'pg says 53300', sqlState: '53300' },
  ],
  [
    '53100 disk_full',
    pgError('53100'),
    { kind: T, code: 'disk_full', message: 'pg says 53100', sqlState: '53100' },
  ],
  [
    '53200 out_of_memory',
    pgError('53200'),
    { kind: T, code: 'out_of_memory', message: 'pg says 53200', sqlState: '53200' },
  ],
  [
    '53400 configuration_limit_exceeded (class 53)',
    pgError('53400'),
    { kind: T, code: 'insufficient_resources', message: 'pg says 53400', sqlState: '53400' },
  ],
  [
    '57P01 admin_shutdown',
    pgError('57P01'),
    { kind: T, code: 'admin_shutdown', message: 'pg says 57P01', sqlState: '57P01' },
  ],
  [
    '57P02 crash_shutdown',
    pgError('57P02'),
    { kind: T, code: 'crash_shutdown', message: 'pg says 57P02', sqlState: '57P02' },
  ],
  [
    '57P03 cannot_connect_now',
    pgError('57P03'),
    { kind: T, code: 'cannot_connect_now', message: 'pg says 57P03', sqlState: '57P03' },
  ],
  [
    '57014 query_canceled (statement timeout)',
    pgError('57014'),
    { kind: T, code: 'query_canceled', message: 'pg says 57014', sqlState: '57014' },
  ],
  [
    '55P03 lock_not_available',
    pgError('55P03'),
    { kind: T, code: 'lock_not_available', message: 'pg says 55P03', sqlState: '55P03' },
  ],
  [
    '58030 io_error (class 58)',
    pgError('58030'),
    { kind: T, code: 'system_error', message: 'pg says 58030', sqlState: '58030' },
  ],
  // SQLSTATE, record-bound: the row's values; isolated on the first failure
  [
    '22001 string too long',
    pgError('22001'),
    { kind: R, code: 'string_data_right_truncation', message: 'pg says 22001', sqlState: '22001' },
  ],
  [
    '22003 numeric out of range',
    pgError('22003'),
    { kind: R, code: 'numeric_value_out_of_range', message: 'pg says 22003', sqlState: '22003' },
  ],
  [
    '22P02 invalid text representation',
    pgError('22P02'),
    { kind: R, code: 'invalid_text_representation', message: 'pg says 22P02', sqlState: '22P02' },
  ],
  [
    '22007 invalid datetime format',
    pgError('22007'),
    { kind: R, code: 'invalid_datetime_format', message: 'pg says 22007', sqlState: '22007' },
  ],
  [
    '22008 datetime field overflow',
    pgError('22008'),
    { kind: R, code: 'datetime_field_overflow', message: 'pg says 22008', sqlState: '22008' },
  ],
  [
    '22012 division_by_zero (class 22)',
    pgError('22012'),
    { kind: R, code: 'data_exception', message: 'pg says 22012', sqlState: '22012' },
  ],
  [
    '23502 not null',
    pgError('23502'),
    { kind: R, code: 'not_null_violation', message: 'pg says 23502', sqlState: '23502' },
  ],
  [
    '23514 check',
    pgError('23514'),
    { kind: R, code: 'check_violation', message: 'pg says 23514', sqlState: '23514' },
  ],
  [
    '23503 foreign key',
    pgError('23503'),
    { kind: R, code: 'foreign_key_violation', message: 'pg says 23503', sqlState: '23503' },
  ],
  [
    '23505 unique',
    pgError('23505'),
    { kind: R, code: 'unique_violation', message: 'pg says 23505', sqlState: '23505' },
  ],
  [
    '42703 undefined column',
    pgError('42703'),
    { kind: U, code: 'undefined_column', message: 'pg says 42703', sqlState: '42703' },
  ],
  [
    '42P01 undefined table',
    pgError('42P01'),
    { kind: U, code: 'undefined_table', message: 'pg says 42P01', sqlState: '42P01' },
  ],
  [
    '42501 insufficient privilege',
    pgError('42501'),
    { kind: U, code: 'insufficient_privilege', message: 'pg says 42501', sqlState: '42501' },
  ],
  [
    '42601 syntax error (class 42)',
    pgError('42601'),
    { kind: U, code: 'syntax_error_or_access_rule_violation', message: 'pg says 42601', sqlState: '42601' },
  ],
  [
    'XX000 internal_error',
    pgError('XX000'),
    { kind: U, code: 'internal_error', message: 'pg says XX000', sqlState: 'XX000' },
  ],
  [
    '40002 (class 40) transaction rollback',
    pgError('40002'),
    { kind: T, code: 'transaction_rollback', message: 'pg says 40002', sqlState: '40002' },
  ],
  [
    '57000 operator_intervention (class 57)',
    pgError('57000'),
    { kind: T, code: 'operator_intervention', message: 'pg says 57000', sqlState: '57000' },
  ],
  // SQLSTATE, undecided: one record's (a trigger, a row too large) or everyone's; probed
  [
    'P0001 raise_exception (a trigger)',
    pgError('P0001'),
    { kind: U, code: 'raise_exception', message: 'pg says P0001', sqlState: 'P0001' },
  ],
  [
    '54000 program_limit_exceeded (index row too large)',
    pgError('54000'),
    { kind: U, code: 'program_limit_exceeded', message: 'pg says 54000', sqlState: '54000' },
  ],
  [
    '21000 cardinality_violation',
    pgError('21000'),
    { kind: U, code: 'cardinality_violation', message: 'pg says 21000', sqlState: '21000' },
  ],
  [
    '25P02 (not listed) is undecided',
    pgError('25P02'),
    { kind: U, code: 'sqlstate_25P02', message: 'pg says 25P02', sqlState: '25P02' },
  ],
  // SQLSTATE, environment: no record causes or avoids them
  [
    '25006 read_only_sql_transaction',
    pgError('25006'),
    { kind: E, code: 'read_only_sql_transaction', message: 'pg says 25006', sqlState: '25006' },
  ],
  [
    '3D000 invalid_catalog_name',
    pgError('3D000'),
    { kind: E, code: 'invalid_catalog_name', message: 'pg says 3D000', sqlState: '3D000' },
  ],
  [
    '28P01 invalid_password (class 28)',
    pgError('28P01'),
    { kind: E, code: 'invalid_authorization_specification', message: 'pg says 28P01', sqlState: '28P01' },
  ],
  // Node network and DNS errors
  [
    'ECONNREFUSED',
    sysError('ECONNREFUSED'),
    { kind: T, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
  ],
  [
    'ECONNRESET',
    sysError('ECONNRESET'),
    { kind: T, code: 'ECONNRESET', message: 'connect ECONNRESET 127.0.0.1:5432' },
  ],
  [
    'EPIPE (SQLSTATE-shaped, still network)',
    sysError('EPIPE'),
    { kind: T, code: 'EPIPE', message: 'connect EPIPE 127.0.0.1:5432' },
  ],
  [
    'ETIMEDOUT',
    sysError('ETIMEDOUT'),
    { kind: T, code: 'ETIMEDOUT', message: 'connect ETIMEDOUT 127.0.0.1:5432' },
  ],
  [
    'EHOSTUNREACH',
    sysError('EHOSTUNREACH'),
    { kind: T, code: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH 127.0.0.1:5432' },
  ],
  [
    'ENETUNREACH',
    sysError('ENETUNREACH'),
    { kind: T, code: 'ENETUNREACH', message: 'connect ENETUNREACH 127.0.0.1:5432' },
  ],
  [
    'EAI_AGAIN',
    sysError('EAI_AGAIN'),
    { kind: T, code: 'EAI_AGAIN', message: 'connect EAI_AGAIN 127.0.0.1:5432' },
  ],
  [
    'ENOTFOUND',
    sysError('ENOTFOUND'),
    { kind: T, code: 'ENOTFOUND', message: 'connect ENOTFOUND 127.0.0.1:5432' },
  ],
  [
    'AggregateError from happy-eyeballs connect (no code of its own)',
    new AggregateError([sysError('ECONNREFUSED'), sysError('ECONNREFUSED')], 'connect failed'),
    { kind: T, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
  ],
  // node-postgres connection messages (no code)
  [
    'pg: Connection terminated unexpectedly',
    new Error('Connection terminated unexpectedly'),
    { kind: T, code: 'PG_CONNECTION_TERMINATED', message: 'Connection terminated unexpectedly' },
  ],
  [
    'pg: Connection terminated',
    new Error('Connection terminated'),
    { kind: T, code: 'PG_CONNECTION_TERMINATED', message: 'Connection terminated' },
  ],
  [
    'pg: connect timeout',
    new Error('timeout exceeded when trying to connect'),
    { kind: T, code: 'PG_CONNECT_TIMEOUT', message: 'timeout exceeded when trying to connect' },
  ],
  [
    'pg: broken client',
    new Error('Client has encountered a connection error and is not queryable'),
    {
      kind: T,
      code: 'PG_CLIENT_BROKEN',
      message: 'Client has encountered a connection error and is not queryable',
    },
  ],
  [
    'pg: query_timeout',
    new Error('Query read timeout'),
    { kind: T, code: 'PG_QUERY_TIMEOUT', message: 'Query read timeout' },
  ],
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
