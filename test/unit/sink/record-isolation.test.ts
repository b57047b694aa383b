// The pure decisions of isolation: where the probes sit, what their outcomes say, and which
// record of a key is kept.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SinkRecord } from '../../../src/core/sink-record.js';
import type { Classified } from '../../../src/resilience/classify-error.js';
import {
  inOffsetOrder,
  latestPerKey,
  probePositions,
  probesSayEnvironment,
} from '../../../src/sink/record-isolation.js';
import { builtinMappings } from '../../../src/config/builtin-mappings.js';

const mapping = builtinMappings()[0]!;
const rec = (offset: number, key: string, partition = 0): SinkRecord => ({
  topic: 't',
  partition,
  offset,
  timestamp: 0,
  key: null,
  value: null,
  headers: undefined,
  bytes: 10,
  enqueuedAt: 0,
  mapping,
  row: '',
  conflictKey: key,
  error: null,
});
const at = (records: readonly SinkRecord[]): string[] => records.map((r) => `${r.conflictKey}@${r.offset}`);

void describe('probePositions', () => {
  const rows: [n: number, expected: number[]][] = [
    [0, []],
    [1, [0]],
    [2, [0, 1]],
    [3, [0, 1, 2]],
    [4, [0, 2, 3]],
    [2000, [0, 1000, 1999]],
  ];
  for (const [n, expected] of rows)
    void it(`${n} records → ${JSON.stringify(expected)}`, () =>
      assert.deepEqual(probePositions(n), expected));
  void it('a shift (the attempt) probes other records, wrapping', () => {
    assert.deepEqual(probePositions(2000, 1), [1, 1001, 0]);
    assert.deepEqual(probePositions(10, 7), [7, 2, 6]);
    assert.deepEqual(probePositions(2, 1), [1, 0]);
    assert.deepEqual(probePositions(1, 5), [0]);
  });
});

void describe('probesSayEnvironment', () => {
  const pg = (sqlState: string, kind: Classified['kind'] = 'undecided'): Classified => ({
    kind,
    code: `c${sqlState}`,
    message: sqlState,
    sqlState,
  });
  const rows: [label: string, outcomes: (Classified | null)[], expected: boolean][] = [
    ['every probe fails alone with the same SQLSTATE', [pg('42P01'), pg('42P01'), pg('42P01')], true],
    ['two probes, both the same', [pg('P0001'), pg('P0001')], true],
    ['environment kind counts too', [pg('25006', 'environment'), pg('25006', 'environment')], true],
    [
      'one probe applied: its neighbours apply, records are at fault',
      [pg('P0001'), null, pg('P0001')],
      false,
    ],
    ['different SQLSTATEs: records differ', [pg('P0001'), pg('54000'), pg('P0001')], false],
    ["record-bound codes are the rows' values", [pg('23514', 'record'), pg('23514', 'record')], false],
    ['a single probe has no neighbour to compare with', [pg('P0001')], false],
    ['no probe', [], false],
    [
      'no SQLSTATE: compared by code',
      [
        { kind: 'undecided', code: 'UNKNOWN', message: 'a' },
        { kind: 'undecided', code: 'UNKNOWN', message: 'b' },
      ],
      true,
    ],
  ];
  for (const [label, outcomes, expected] of rows)
    void it(label, () => assert.equal(probesSayEnvironment(outcomes), expected));
});

void describe('latestPerKey', () => {
  void it('keeps the highest offset of each key, not the last in the batch, in batch order', () => {
    const batch = [rec(10, 'a'), rec(3, 'b'), rec(5, 'a'), rec(4, 'b'), rec(7, 'c')];
    assert.deepEqual(at(latestPerKey(batch)), ['a@10', 'b@4', 'c@7']);
  });
  void it('on an offset tie (a record read twice) keeps the later one', () => {
    const first = rec(5, 'a');
    const again = rec(5, 'a');
    const kept = latestPerKey([first, again]);
    assert.equal(kept.length, 1);
    assert.equal(kept[0], again);
  });
  void it('returns the batch itself when every key is distinct', () => {
    const batch = [rec(1, 'a'), rec(2, 'b')];
    assert.equal(latestPerKey(batch), batch);
  });
});

void describe('inOffsetOrder', () => {
  void it('sorts by offset, stable for equal offsets, without touching the input', () => {
    const batch = [rec(9, 'x'), rec(2, 'y', 1), rec(5, 'z'), rec(2, 'w', 2)];
    assert.deepEqual(at(inOffsetOrder(batch)), ['y@2', 'w@2', 'z@5', 'x@9']);
    assert.deepEqual(at(batch), ['x@9', 'y@2', 'z@5', 'w@2']);
  });
});
