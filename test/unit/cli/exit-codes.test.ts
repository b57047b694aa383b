// The exit code per error: a refusal that changed nothing (5) is told apart from a failure
// after sink_offsets was written (1), which the operator must not read as "nothing happened".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeFor } from '../../../src/cli/exit-codes.js';
import { ConfigError, KafkaError, SinkError } from '../../../src/core/errors.js';
import { GroupActiveError } from '../../../src/ops/reset-offsets.js';

const member = { memberId: 'm-1', clientId: 'sink', clientHost: '/127.0.0.1', partitions: [] };

void test('each error its exit code; a group that got members after sink_offsets moved is a failure', () => {
  assert.equal(exitCodeFor(new ConfigError('x')), 2);
  assert.equal(exitCodeFor(new SinkError('QUEUE_OVERFLOW', 'x')), 3);
  assert.equal(exitCodeFor(new SinkError('SHUTDOWN_TIMED_OUT', 'x')), 4);
  assert.equal(exitCodeFor(new GroupActiveError('g', [member], false)), 5);
  assert.equal(exitCodeFor(new GroupActiveError('g', [member], true)), 1);
  assert.equal(exitCodeFor(new KafkaError('RESET_KAFKA_FAILED', 'x', true)), 1);
  assert.equal(exitCodeFor(new Error('x')), 1);
});
