// status's table on a terminal: one line per partition, the group's state and total lag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGroupStatus } from '../../../src/ops/group-status.js';

void test('the table shows both stores, the log end, the lag and the owner', () => {
  const owner = { memberId: 'sink-1-abc', clientId: 'sink-1', clientHost: '/127.0.0.1' };
  const text = formatGroupStatus({
    groupId: 'g',
    state: 'Stable',
    members: 1,
    partitions: [
      {
        topic: 'md.bars',
        partition: 0,
        stored: 300,
        committed: 290,
        logStart: 0,
        logEnd: 1601,
        lag: 1301,
        owner,
      },
      {
        topic: 'md.bars',
        partition: 1,
        stored: null,
        committed: null,
        logStart: 5,
        logEnd: 9,
        lag: 4,
        owner: null,
      },
    ],
  });
  assert.equal(
    text,
    'group g: Stable, 1 member(s), lag 1305\n' +
      'topic    partition  sink_offsets  kafka committed  log end  lag   owner\n' +
      'md.bars  0          300           290              1601     1301  sink-1@/127.0.0.1 sink-1-abc\n' +
      'md.bars  1          -             -                9        4     -\n',
  );
});
