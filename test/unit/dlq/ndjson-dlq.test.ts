// NDJSON dead-letter files: exact lines on disk, the line format's round trip for every
// encoding, rotation by size and day, serialised concurrent writes, and reading them back.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DeadLetter } from '../../../src/core/dead-letter.js';
import { decodeDeadLetterLine, encodeDeadLetterLine } from '../../../src/dlq/file/codec.js';
import { NdjsonDeadLetterSink } from '../../../src/dlq/file/writer.js';
import { NdjsonDeadLetterSource, listDeadLetterFiles } from '../../../src/dlq/file/reader.js';
import type { SourceEntry } from '../../../src/dlq/source.js';

const DAY1 = Date.parse('2024-05-01T12:00:00.000Z');

function deadLetter(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    topic: 'md.bars',
    partition: 3,
    offset: 42,
    timestamp: Date.parse('2024-05-01T11:59:58.123Z'),
    key: Buffer.from('AAPL'),
    value: Buffer.from('{"symbol":"AAPL","close":"n/a"}'),
    headers: { 'content-type': Buffer.from('application/json') },
    reason: 'validation',
    errorCode: 'SCHEMA_INVALID',
    errorMessage: '/close: expected number, got "n/a"',
    attempts: 0,
    workerId: 'w1',
    failedAt: DAY1,
    ...over,
  };
}

function clockAt(ms: number): { now(): number; set(ms: number): void } {
  let t = ms;
  return { now: () => t, set: (v) => (t = v) };
}

async function readLines(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8');
  assert.ok(text.endsWith('\n'), `${file} must end with a newline`);
  return text.slice(0, -1).split('\n');
}

let dir: string;
void beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-ndjson-'));
});
void afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

void describe('NDJSON line format', () => {
  void it('writes the documented field names, in order, with ISO times', () => {
    const d = deadLetter();
    assert.equal(
      encodeDeadLetterLine(d),
      '{"v":1,"topic":"md.bars","partition":3,"offset":42,"timestamp":"2024-05-01T11:59:58.123Z",' +
        '"key":"AAPL","keyEncoding":"utf8","value":"{\\"symbol\\":\\"AAPL\\",\\"close\\":\\"n/a\\"}","valueEncoding":"json",' +
        '"headers":{"content-type":{"value":"application/json","encoding":"utf8"}},"reason":"validation",' +
        '"errorCode":"SCHEMA_INVALID","errorMessage":"/close: expected number, got \\"n/a\\"","attempts":0,' +
        '"workerId":"w1","failedAt":"2024-05-01T12:00:00.000Z"}',
    );
  });

  const cases: { name: string; over: Partial<DeadLetter>; keyEncoding: string; valueEncoding: string }[] = [
    {
      name: 'JSON value kept as its exact text (spacing, key order, number form)',
      over: { value: Buffer.from(' { "b" : 1.50, "a" : [ 1e3 ] }\n') },
      keyEncoding: 'utf8',
      valueEncoding: 'json',
    },
    {
      name: 'UTF-8 text that is not JSON',
      over: { value: Buffer.from('Grüße, not json {'), key: Buffer.from('clé') },
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    },
    {
      name: 'JSON behind a BOM is not JSON (JSON.parse refuses it), kept as UTF-8 with the BOM',
      over: { value: Buffer.from('\uFEFF{"a":1}') },
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    },
    {
      name: 'binary key and value (invalid UTF-8)',
      over: { key: Buffer.from([0xff, 0x00, 0xc3]), value: Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x80]) },
      keyEncoding: 'base64',
      valueEncoding: 'base64',
    },
    {
      name: 'null value (tombstone) and null key',
      over: { key: null, value: null, reason: 'tombstone', errorCode: 'TOMBSTONE' },
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    },
    {
      name: 'empty value is UTF-8 text, not null',
      over: { value: Buffer.alloc(0) },
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    },
    {
      name: 'line separators inside values stay inside the line',
      over: { value: Buffer.from('a\nb\r\nc\u2028d') },
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    },
  ];
  for (const c of cases) {
    void it(`round-trips: ${c.name}`, () => {
      const d = deadLetter(c.over);
      const line = encodeDeadLetterLine(d);
      assert.ok(!line.includes('\n'), 'one line');
      const o = JSON.parse(line) as Record<string, unknown>;
      assert.equal(o.keyEncoding, c.keyEncoding);
      assert.equal(o.valueEncoding, c.valueEncoding);
      if (c.valueEncoding === 'json') assert.equal(o.value, d.value!.toString('utf8'));
      if (d.value === null) assert.equal(o.value, null);
      assert.deepEqual(decodeDeadLetterLine(line), d);
    });
  }

  void it('round-trips headers: UTF-8, binary, repeated, without value, and odd names', () => {
    const headers = {
      trace: Buffer.from('abc-123'),
      bin: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff]),
      repeated: [Buffer.from('one'), Buffer.from([0xff]), Buffer.from('three')],
      empty: Buffer.alloc(0),
      novalue: undefined,
    };
    Object.defineProperty(headers, '__proto__', { value: Buffer.from('p'), enumerable: true });
    const d = deadLetter({ headers });
    const line = encodeDeadLetterLine(d);
    const o = JSON.parse(line) as { headers: Record<string, unknown> };
    assert.deepEqual(o.headers.bin, { value: '3q2+7/8=', encoding: 'base64' });
    assert.deepEqual(o.headers.repeated, [
      { value: 'one', encoding: 'utf8' },
      { value: '/w==', encoding: 'base64' },
      { value: 'three', encoding: 'utf8' },
    ]);
    assert.deepEqual(o.headers.novalue, { value: null, encoding: 'utf8' });
    const back = decodeDeadLetterLine(line);
    assert.deepEqual(back, d);
    assert.deepEqual(Object.keys(back.headers!), [
      'trace',
      'bin',
      'repeated',
      'empty',
      'novalue',
      '__proto__',
    ]);
    assert.equal(Object.getPrototypeOf(back.headers), Object.prototype);
  });

  void it('string header values come back as the same bytes', () => {
    const back = decodeDeadLetterLine(encodeDeadLetterLine(deadLetter({ headers: { s: 'héllo' } })));
    assert.deepEqual(back.headers, { s: Buffer.from('héllo') });
  });

  void it('rejects malformed lines with what was expected', () => {
    assert.throws(() => decodeDeadLetterLine('{"v":1'), /expected JSON/);
    assert.throws(() => decodeDeadLetterLine('[]'), /expected a JSON object/);
    const o = JSON.parse(encodeDeadLetterLine(deadLetter())) as Record<string, unknown>;
    assert.throws(() => decodeDeadLetterLine(JSON.stringify({ ...o, v: 2 })), /expected "v" 1, got 2/);
    assert.throws(
      () => decodeDeadLetterLine(JSON.stringify({ ...o, offset: '42' })),
      /"offset" as an integer/,
    );
    assert.throws(() => decodeDeadLetterLine(JSON.stringify({ ...o, reason: 'bogus' })), /"reason" one of/);
    assert.throws(
      () => decodeDeadLetterLine(JSON.stringify({ ...o, valueEncoding: 'hex' })),
      /"valueEncoding" one of/,
    );
    assert.throws(
      () => decodeDeadLetterLine(JSON.stringify({ ...o, failedAt: 'yesterday' })),
      /"failedAt" as an ISO date/,
    );
  });
});

void describe('NdjsonDeadLetterSink', () => {
  void it('appends exactly the encoded lines to <dir>/<topic>/<day>.ndjson', async () => {
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 20, clock: clockAt(DAY1) });
    await sink.start();
    const a = deadLetter({ offset: 1 });
    const b = deadLetter({ offset: 2, value: Buffer.from([0xff]) });
    const c = deadLetter({ topic: 'md.news', offset: 7, reason: 'decode' });
    await sink.write([a, b, c]);
    await sink.write([deadLetter({ offset: 3 })]);
    await sink.close();
    assert.deepEqual(await readLines(path.join(dir, 'md.bars', '2024-05-01.ndjson')), [
      encodeDeadLetterLine(a),
      encodeDeadLetterLine(b),
      encodeDeadLetterLine(deadLetter({ offset: 3 })),
    ]);
    assert.deepEqual(await readLines(path.join(dir, 'md.news', '2024-05-01.ndjson')), [
      encodeDeadLetterLine(c),
    ]);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['md.bars', 'md.news']);
  });

  void it('rotates by size to <day>.<n>.ndjson and continues the newest file after a restart', async () => {
    const line = encodeDeadLetterLine(deadLetter());
    const perLine = Buffer.byteLength(line) + 1;
    const opts = { dir, maxFileBytes: perLine * 2, clock: clockAt(DAY1) };
    const sink = new NdjsonDeadLetterSink(opts);
    await sink.start();
    for (let i = 0; i < 5; i++) await sink.write([deadLetter()]);
    await sink.close();
    const topicDir = path.join(dir, 'md.bars');
    assert.deepEqual((await fs.readdir(topicDir)).sort(), [
      '2024-05-01.1.ndjson',
      '2024-05-01.2.ndjson',
      '2024-05-01.ndjson',
    ]);
    assert.equal((await readLines(path.join(topicDir, '2024-05-01.ndjson'))).length, 2);
    assert.equal((await readLines(path.join(topicDir, '2024-05-01.1.ndjson'))).length, 2);
    assert.equal((await readLines(path.join(topicDir, '2024-05-01.2.ndjson'))).length, 1);

    const again = new NdjsonDeadLetterSink(opts);
    await again.start();
    await again.write([deadLetter()]); // fits into .2
    await again.write([deadLetter(), deadLetter(), deadLetter()]); // larger than a file: whole, in .3
    await again.close();
    assert.equal((await readLines(path.join(topicDir, '2024-05-01.2.ndjson'))).length, 2);
    assert.equal((await readLines(path.join(topicDir, '2024-05-01.3.ndjson'))).length, 3);
  });

  void it('starts a new file instead of appending to one that ends in a torn line', async () => {
    const topicDir = path.join(dir, 'md.bars');
    await fs.mkdir(topicDir, { recursive: true });
    const torn = encodeDeadLetterLine(deadLetter()) + '\n' + '{"v":1,"topic":"md.b';
    await fs.writeFile(path.join(topicDir, '2024-05-01.ndjson'), torn);
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 20, clock: clockAt(DAY1) });
    await sink.write([deadLetter({ offset: 9 })]);
    await sink.close();
    assert.equal(await fs.readFile(path.join(topicDir, '2024-05-01.ndjson'), 'utf8'), torn);
    assert.deepEqual(await readLines(path.join(topicDir, '2024-05-01.1.ndjson')), [
      encodeDeadLetterLine(deadLetter({ offset: 9 })),
    ]);
  });

  void it('splits files at the UTC day boundary of the injected clock', async () => {
    const clock = clockAt(Date.parse('2024-05-01T23:59:59.999Z'));
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 20, clock });
    await sink.write([deadLetter({ offset: 1 })]);
    clock.set(Date.parse('2024-05-02T00:00:00.000Z'));
    await sink.write([deadLetter({ offset: 2 })]);
    await sink.close();
    const topicDir = path.join(dir, 'md.bars');
    assert.deepEqual((await fs.readdir(topicDir)).sort(), ['2024-05-01.ndjson', '2024-05-02.ndjson']);
    assert.deepEqual(await readLines(path.join(topicDir, '2024-05-01.ndjson')), [
      encodeDeadLetterLine(deadLetter({ offset: 1 })),
    ]);
    assert.deepEqual(await readLines(path.join(topicDir, '2024-05-02.ndjson')), [
      encodeDeadLetterLine(deadLetter({ offset: 2 })),
    ]);
  });

  void it('serialises concurrent writes: lines never interleave and each write stays contiguous', async () => {
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 30, clock: clockAt(DAY1) });
    const big = 'x'.repeat(200_000); // larger than a pipe buffer or a single write() chunk
    const writes: Promise<void>[] = [];
    for (let w = 0; w < 40; w++) {
      const batch = [0, 1, 2].map((i) =>
        deadLetter({ offset: w * 3 + i, value: Buffer.from(`${w}:${i}:${big}`) }),
      );
      writes.push(sink.write(batch));
    }
    await Promise.all(writes);
    await sink.close();
    const lines = await readLines(path.join(dir, 'md.bars', '2024-05-01.ndjson'));
    assert.equal(lines.length, 120);
    const decoded = lines.map(decodeDeadLetterLine);
    for (let i = 0; i < decoded.length; i += 3) {
      const w = decoded[i]!.offset / 3;
      assert.deepEqual(
        decoded.slice(i, i + 3).map((d) => d.value!.toString('utf8').split(':').slice(0, 2).join(':')),
        [`${w}:0`, `${w}:1`, `${w}:2`],
      );
    }
    assert.deepEqual(
      decoded.map((d) => d.offset).sort((a, b) => a - b),
      Array.from({ length: 120 }, (_, i) => i),
    );
  });

  void it('serialises concurrent writes for rotation: each file gets exactly its share', async () => {
    const perLine = Buffer.byteLength(encodeDeadLetterLine(deadLetter({ offset: 10 }))) + 1;
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: perLine * 2, clock: clockAt(DAY1) });
    await Promise.all(Array.from({ length: 10 }, (_, i) => sink.write([deadLetter({ offset: 10 + i })])));
    await sink.close();
    const topicDir = path.join(dir, 'md.bars');
    const files = (await listDeadLetterFiles([topicDir])).map((f) => path.basename(f));
    assert.deepEqual(files, [
      '2024-05-01.ndjson',
      '2024-05-01.1.ndjson',
      '2024-05-01.2.ndjson',
      '2024-05-01.3.ndjson',
      '2024-05-01.4.ndjson',
    ]);
    const offsets: number[] = [];
    for (const f of files) {
      const lines = await readLines(path.join(topicDir, f));
      assert.equal(lines.length, 2, f);
      offsets.push(...lines.map((l) => decodeDeadLetterLine(l).offset));
    }
    // Write order is call order: the chain keeps the callers' sequence.
    assert.deepEqual(
      offsets,
      Array.from({ length: 10 }, (_, i) => 10 + i),
    );
  });

  void it('close is idempotent and waits for queued writes; writing afterwards rejects', async () => {
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 20, clock: clockAt(DAY1) });
    const pending = sink.write([deadLetter()]);
    await Promise.all([sink.close(), sink.close()]);
    await pending;
    await sink.close();
    assert.equal((await readLines(path.join(dir, 'md.bars', '2024-05-01.ndjson'))).length, 1);
    await assert.rejects(sink.write([deadLetter()]), { code: 'DLQ_CLOSED' });
  });

  void it('fails the write (retriable) when the file cannot be written, and succeeds on retry', async () => {
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 20, clock: clockAt(DAY1) });
    // A plain file where the topic directory must go.
    await fs.writeFile(path.join(dir, 'md.bars'), 'not a dir');
    await assert.rejects(sink.write([deadLetter()]), (e: Error & { code?: string; retriable?: boolean }) => {
      assert.equal(e.code, 'DLQ_FILE_WRITE_FAILED');
      assert.equal(e.retriable, true);
      assert.match(e.message, /md\.bars/);
      return true;
    });
    await fs.rm(path.join(dir, 'md.bars'));
    await sink.write([deadLetter()]);
    await sink.close();
    assert.equal((await readLines(path.join(dir, 'md.bars', '2024-05-01.ndjson'))).length, 1);
  });

  void it('validates its options', () => {
    assert.throws(
      () => new NdjsonDeadLetterSink({ dir, maxFileBytes: 0 }),
      /dlq.maxFileBytes: expected an integer > 0, got 0/,
    );
  });
});

void describe('NdjsonDeadLetterSource', () => {
  void it('walks directories and reads files in rotation order', async () => {
    const t = path.join(dir, 'md.bars');
    await fs.mkdir(path.join(dir, 'md.news'), { recursive: true });
    await fs.mkdir(t);
    const names = [
      '2024-05-01.10.ndjson',
      '2024-05-01.2.ndjson',
      '2024-05-01.ndjson',
      '2024-05-01.1.ndjson',
      '2024-04-30.ndjson',
    ];
    for (const [i, n] of names.entries()) {
      await fs.writeFile(path.join(t, n), encodeDeadLetterLine(deadLetter({ offset: i })) + '\n');
    }
    await fs.writeFile(path.join(t, 'notes.txt'), 'ignored');
    await fs.writeFile(
      path.join(dir, 'md.news', '2024-05-01.ndjson'),
      encodeDeadLetterLine(deadLetter({ topic: 'md.news' })) + '\n',
    );
    assert.deepEqual(
      (await listDeadLetterFiles([dir])).map((f) => path.relative(dir, f)),
      [
        'md.bars/2024-04-30.ndjson',
        'md.bars/2024-05-01.ndjson',
        'md.bars/2024-05-01.1.ndjson',
        'md.bars/2024-05-01.2.ndjson',
        'md.bars/2024-05-01.10.ndjson',
        'md.news/2024-05-01.ndjson',
      ],
    );
  });

  void it('yields decoded entries in batches and reports undecodable lines with file:line', async () => {
    const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 20, clock: clockAt(DAY1) });
    const written = Array.from({ length: 5 }, (_, i) =>
      deadLetter({ offset: i, key: i === 2 ? null : Buffer.from([i, 0xff]) }),
    );
    await sink.write(written);
    await sink.close();
    const file = path.join(dir, 'md.bars', '2024-05-01.ndjson');
    await fs.appendFile(file, '\n{"v":1,"topic":"md.b');
    const source = new NdjsonDeadLetterSource({ paths: [dir], batchSize: 2 });
    const batches: SourceEntry[][] = [];
    for await (const b of source.batches()) {
      batches.push([...b.entries]);
      await b.ack(b.entries.length);
    }
    assert.deepEqual(
      batches.map((b) => b.length),
      [2, 2, 2],
    );
    const entries = batches.flat();
    assert.deepEqual(
      entries.filter((e) => e.ok).map((e) => (e.ok ? e.deadLetter : null)),
      written,
    );
    const bad = entries.find((e) => !e.ok);
    assert.ok(bad !== undefined && !bad.ok);
    assert.equal(bad.where, `${file}:7`);
    assert.match(bad.error, /expected JSON/);
  });
});
