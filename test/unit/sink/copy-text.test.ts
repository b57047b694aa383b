// COPY text format byte for byte: separators, \N for NULL, the four escapes (copyRow, at
// decode) and the batch's UTF-8 bytes (encodeCopyRows, at write).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyRow } from '../../../src/pipeline/copy-row.js';
import { encodeCopyRows as encodeLines } from '../../../src/sink/copy-text.js';

const encodeCopyRows = (rows: readonly (readonly (string | null)[])[]): Buffer[] =>
  encodeLines(rows.map(copyRow));

describe('copyRow + encodeCopyRows', () => {
  const cases: { name: string; rows: (string | null)[][]; bytes: string }[] = [
    { name: 'no rows is no bytes', rows: [], bytes: '' },
    {
      name: 'tab between columns, newline after each row',
      rows: [
        ['a', 'b'],
        ['c', 'd'],
      ],
      bytes: 'a\tb\nc\td\n',
    },
    { name: 'NULL is \\N, empty string stays empty', rows: [[null, '', 'x']], bytes: '\\N\t\tx\n' },
    { name: 'a literal "\\N" is escaped, so it is not NULL', rows: [['\\N']], bytes: '\\\\N\n' },
    { name: 'backslash', rows: [['a\\b']], bytes: 'a\\\\b\n' },
    { name: 'tab', rows: [['a\tb']], bytes: 'a\\tb\n' },
    { name: 'newline', rows: [['a\nb']], bytes: 'a\\nb\n' },
    { name: 'carriage return', rows: [['a\r\nb']], bytes: 'a\\r\\nb\n' },
    { name: 'end-of-data marker cannot appear', rows: [['\\.']], bytes: '\\\\.\n' },
    { name: 'every escape at once', rows: [['\\\t\n\r', '\t']], bytes: '\\\\\\t\\n\\r\t\\t\n' },
    { name: 'single column NULL row', rows: [[null]], bytes: '\\N\n' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(Buffer.concat(encodeCopyRows(c.rows)), Buffer.from(c.bytes, 'utf8'));
    });
  }

  it('unicode is encoded as UTF-8 exactly once', () => {
    const out = Buffer.concat(encodeCopyRows([['Zürich', '📈', '日本']]));
    assert.deepEqual(
      out,
      Buffer.from([
        0x5a, 0xc3, 0xbc, 0x72, 0x69, 0x63, 0x68, 0x09, 0xf0, 0x9f, 0x93, 0x88, 0x09, 0xe6, 0x97, 0xa5, 0xe6,
        0x9c, 0xac, 0x0a,
      ]),
    );
  });

  it('splits a large batch at row ends into pieces below 128 KiB, in order', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => [String(i), 'AAPL', '📈'.repeat(i % 7), null]);
    const chunks = encodeCopyRows(rows);
    assert.ok(chunks.length > 1, `expected several pieces, got ${chunks.length}`);
    for (const c of chunks) {
      assert.ok(c.length < 128 * 1024, `piece of ${c.length} bytes`);
      assert.equal(c[c.length - 1], 0x0a, 'each piece ends with a row');
    }
    const whole = rows.map((r) => `${r[0]}\tAAPL\t${r[2]}\t\\N\n`).join('');
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(whole, 'utf8'));
  });

  it('refuses NUL, which PostgreSQL text cannot hold', () => {
    assert.throws(() => encodeCopyRows([['a\u0000b']]), RangeError);
  });

  it('does not mutate its input', () => {
    const rows = [['a\tb', null]];
    encodeCopyRows(rows);
    assert.deepEqual(rows, [['a\tb', null]]);
  });
});
