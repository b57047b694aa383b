// Replay core with an in-memory source and target and a fake clock: filters, limit, rate
// limiting, acknowledgements, dry-run output; plus the CLI's argument checks (exit 2).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DeadLetter } from '../../../src/core/dead-letter.js';
import type { Clock as ReplayClock } from '../../../src/core/clock.js';
import type { DeadLetterSource, SourceBatch, SourceEntry } from '../../../src/dlq/source.js';
import { replay } from '../../../src/replay/replay.js';
import { TokenBucket } from '../../../src/replay/token-bucket.js';
import { formatSummary } from '../../../src/replay/format.js';
import { matchesFilter } from '../../../src/replay/filter.js';
import type { ReplayMessage, SentRecord } from '../../../src/replay/message.js';
import { parseArgs, type CliIo } from '../../../src/replay/cli-args.js';
import { NdjsonDeadLetterSink } from '../../../src/dlq/file/writer.js';

const T0 = Date.parse('2024-05-01T00:00:00.000Z');

function dl(i: number, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    topic: 'md.bars',
    partition: i % 3,
    offset: i,
    timestamp: T0 + i,
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`{"i":${i}}`),
    headers: { h: Buffer.from(`v${i}`) },
    reason: 'validation',
    errorCode: 'SCHEMA_INVALID',
    errorMessage: 'bad',
    attempts: 0,
    workerId: 'w1',
    failedAt: T0 + i * 1000,
    ...over,
  };
}

/** Batches of `size`; records every ack as [batch index, count]. */
class ArraySource implements DeadLetterSource {
  readonly acks: [number, number][] = [];
  constructor(
    private readonly entries: readonly SourceEntry[],
    private readonly size: number,
  ) {}
  static of(dls: readonly DeadLetter[], size = 4): ArraySource {
    return new ArraySource(
      dls.map((d) => ({ ok: true, where: `${d.topic}/${d.partition}/${d.offset}`, deadLetter: d })),
      size,
    );
  }
  expectedTotal(): number {
    return this.entries.length;
  }
  async *batches(): AsyncGenerator<SourceBatch> {
    for (let i = 0, b = 0; i < this.entries.length; i += this.size, b++) {
      const batchNo = b;
      await Promise.resolve(); // a real source hands batches over asynchronously
      yield {
        entries: this.entries.slice(i, i + this.size),
        ack: (count) => {
          this.acks.push([batchNo, count]);
          return Promise.resolve();
        },
      };
    }
  }
}

/** Places every message in partition 0 at the next offset of its topic. */
function place(messages: readonly ReplayMessage[], next: Map<string, number>): SentRecord[] {
  return messages.map((message) => {
    const offset = next.get(message.topic) ?? 0;
    next.set(message.topic, offset + 1);
    return { message, partition: 0, offset };
  });
}

class MemoryTarget {
  readonly sends: ReplayMessage[][] = [];
  private readonly next = new Map<string, number>();
  send(messages: readonly ReplayMessage[]): Promise<SentRecord[]> {
    this.sends.push([...messages]);
    return Promise.resolve(place(messages, this.next));
  }
  get messages(): ReplayMessage[] {
    return this.sends.flat();
  }
}

function fakeClock(start = 0): ReplayClock & { sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

void describe('matchesFilter', () => {
  const d = dl(5, { topic: 'md.news', reason: 'database', errorCode: 'DB_22P02', failedAt: T0 + 5000 });
  const table: [string, Parameters<typeof matchesFilter>[1], boolean][] = [
    ['no filter', {}, true],
    ['topic in list', { topics: ['md.bars', 'md.news'] }, true],
    ['topic not in list', { topics: ['md.bars'] }, false],
    ['reason in list', { reasons: ['decode', 'database'] }, true],
    ['reason not in list', { reasons: ['validation'] }, false],
    ['error code', { errorCodes: ['DB_22P02'] }, true],
    ['other error code', { errorCodes: ['DB_23505'] }, false],
    ['since is inclusive', { since: T0 + 5000 }, true],
    ['since after', { since: T0 + 5001 }, false],
    ['until is exclusive', { until: T0 + 5000 }, false],
    ['until after', { until: T0 + 5001 }, true],
    [
      'all together',
      { topics: ['md.news'], reasons: ['database'], errorCodes: ['DB_22P02'], since: T0, until: T0 + 6000 },
      true,
    ],
  ];
  for (const [name, filter, expected] of table) {
    void it(name, () => assert.equal(matchesFilter(d, filter), expected));
  }
});

void describe('replay', () => {
  void it('sends exactly the matching originals with replay headers, and counts by reason', async () => {
    const dls = [
      dl(0),
      dl(1, { reason: 'decode', errorCode: 'JSON_INVALID' }),
      dl(2, { topic: 'md.news', reason: 'database', errorCode: 'DB_22P02' }),
      dl(3, { reason: 'decode', errorCode: 'JSON_INVALID', value: null, key: null, headers: undefined }),
      dl(4, { reason: 'overflow', errorCode: 'QUEUE_OVERFLOW' }),
      dl(5, { reason: 'decode', errorCode: 'TOO_LARGE' }),
    ];
    const source = ArraySource.of(dls, 4);
    const target = new MemoryTarget();
    const summary = await replay({ filter: { reasons: ['decode', 'database'] } }, { source, target });
    assert.deepEqual(target.messages, [
      {
        topic: 'md.bars',
        key: Buffer.from('k1'),
        value: Buffer.from('{"i":1}'),
        headers: { h: Buffer.from('v1'), 'mds.replay': '1', 'mds.replay.source': 'md.bars/1/1' },
      },
      {
        topic: 'md.news',
        key: Buffer.from('k2'),
        value: Buffer.from('{"i":2}'),
        headers: { h: Buffer.from('v2'), 'mds.replay': '1', 'mds.replay.source': 'md.news/2/2' },
      },
      {
        topic: 'md.bars',
        key: null,
        value: null,
        headers: { 'mds.replay': '1', 'mds.replay.source': 'md.bars/0/3' },
      },
      {
        topic: 'md.bars',
        key: Buffer.from('k5'),
        value: Buffer.from('{"i":5}'),
        headers: { h: Buffer.from('v5'), 'mds.replay': '1', 'mds.replay.source': 'md.bars/2/5' },
      },
    ]);
    assert.deepEqual(summary, {
      entries: 6,
      distinct: 6,
      duplicates: 0,
      earlier: 0,
      read: 6,
      matched: 4,
      replayed: 4,
      alreadySent: 0,
      resent: 0,
      skipped: 2,
      invalid: 0,
      byReason: { decode: 3, database: 1 },
      expected: 6,
      dryRun: false,
      stoppedBy: 'end',
    });
    // Every batch acknowledged in full, after its records were sent.
    assert.deepEqual(source.acks, [
      [0, 4],
      [1, 2],
    ]);
    assert.equal(
      formatSummary(summary),
      'replay done: entries=6 distinct=6 duplicates=0 earlier=0 read=6 matched=4 replayed=4 alreadySent=0 resent=0 skipped=2 invalid=0 by reason: decode=3 database=1',
    );
  });

  void it('replaces replay headers from an earlier replay and honours toTopic', async () => {
    const d = dl(7, {
      headers: { 'mds.replay': '1', 'mds.replay.source': 'old/0/1', keep: Buffer.from('x') },
    });
    const target = new MemoryTarget();
    await replay({ toTopic: 'md.bars.retry' }, { source: ArraySource.of([d]), target });
    assert.deepEqual(target.messages, [
      {
        topic: 'md.bars.retry',
        key: Buffer.from('k7'),
        value: Buffer.from('{"i":7}'),
        headers: { keep: Buffer.from('x'), 'mds.replay': '1', 'mds.replay.source': 'md.bars/1/7' },
      },
    ]);
  });

  void it('stops after --limit matching records and acknowledges exactly up to the last one', async () => {
    const dls = Array.from({ length: 10 }, (_, i) =>
      dl(i, { reason: i % 2 === 0 ? 'decode' : 'validation' }),
    );
    const source = ArraySource.of(dls, 4);
    const target = new MemoryTarget();
    const summary = await replay({ filter: { reasons: ['decode'] }, limit: 3 }, { source, target });
    assert.deepEqual(
      target.messages.map((m) => m.headers['mds.replay.source']),
      ['md.bars/0/0', 'md.bars/2/2', 'md.bars/1/4'],
    );
    // Offsets 0-3 (batch 0) and 4 (batch 1, first entry): 5 and later stay for the next run.
    assert.deepEqual(source.acks, [
      [0, 4],
      [1, 1],
    ]);
    assert.equal(summary.stoppedBy, 'limit');
    assert.equal(summary.read, 5);
    assert.equal(summary.matched, 3);
  });

  void it('sends in chunks of maxSendBatch and acknowledges after each chunk', async () => {
    const source = ArraySource.of(
      Array.from({ length: 7 }, (_, i) => dl(i)),
      7,
    );
    const target = new MemoryTarget();
    await replay({ maxSendBatch: 3 }, { source, target });
    assert.deepEqual(
      target.sends.map((s) => s.length),
      [3, 3, 1],
    );
    assert.deepEqual(source.acks, [
      [0, 3],
      [0, 6],
      [0, 7],
    ]);
  });

  void it('rate-limits with the token bucket: one second of burst, then one record per 1/rate s', async () => {
    const clock = fakeClock(1_000_000);
    const source = ArraySource.of(
      Array.from({ length: 12 }, (_, i) => dl(i)),
      100,
    );
    const target = new MemoryTarget();
    const summary = await replay({ rate: 5 }, { source, target, clock });
    assert.equal(summary.replayed, 12);
    assert.deepEqual(clock.sleeps, [200, 200, 200, 200, 200, 200, 200]);
    assert.equal(clock.now(), 1_000_000 + 1400);
    // What was held is sent before each wait, so the target sees the rate, not one burst.
    assert.deepEqual(
      target.sends.map((s) => s.length),
      [5, 1, 1, 1, 1, 1, 1, 1],
    );
  });

  void it('rate limiter refills with time and never stores more than the burst', () => {
    const clock = fakeClock(0);
    const bucket = new TokenBucket(10, clock, 2);
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 100]);
    void clock.sleep(50);
    assert.equal(bucket.take(), 50);
    void clock.sleep(10_000);
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 100]);
    assert.throws(() => new TokenBucket(0, clock), /rate: expected a number > 0/);
  });

  void it('dry run prints one line per matching record with the counts, and sends nothing', async () => {
    const dls = [
      dl(0),
      dl(1, { reason: 'decode', errorCode: 'JSON_INVALID' }),
      dl(2, { topic: 'md.news', reason: 'tombstone', errorCode: 'TOMBSTONE', value: null }),
      dl(3, { topic: 'md.options' }),
    ];
    const lines: string[] = [];
    const source = ArraySource.of(dls, 10);
    const summary = await replay(
      { dryRun: true, filter: { topics: ['md.bars', 'md.news'] } },
      { source, output: (l) => lines.push(l) },
    );
    assert.deepEqual(lines, [
      'md.bars/0/0 -> md.bars reason=validation error=SCHEMA_INVALID failedAt=2024-05-01T00:00:00.000Z',
      'md.bars/1/1 -> md.bars reason=decode error=JSON_INVALID failedAt=2024-05-01T00:00:01.000Z',
      'md.news/2/2 -> md.news reason=tombstone error=TOMBSTONE failedAt=2024-05-01T00:00:02.000Z',
    ]);
    assert.equal(
      formatSummary(summary),
      'replay dry run done: entries=4 distinct=4 duplicates=0 earlier=0 read=4 matched=3 replayed=0 alreadySent=0 resent=0 skipped=1 invalid=0 by reason: validation=1 decode=1 tombstone=1',
    );
  });

  void it('counts undecodable entries as invalid, logs them and goes on', async () => {
    const source = new ArraySource(
      [
        { ok: false, where: 'f.ndjson:1', error: 'dead-letter line: expected JSON' },
        { ok: true, where: 'f.ndjson:2', deadLetter: dl(1) },
      ],
      10,
    );
    const warnings: unknown[] = [];
    const logger = { warn: (o: unknown) => warnings.push(o) } as unknown as import('pino').Logger;
    const target = new MemoryTarget();
    const summary = await replay({}, { source, target, logger });
    assert.equal(summary.invalid, 1);
    assert.equal(summary.replayed, 1);
    assert.deepEqual(warnings, [{ where: 'f.ndjson:1', error: 'dead-letter line: expected JSON' }]);
  });

  void it('stops on abort after acknowledging what was sent', async () => {
    const abort = new AbortController();
    const source = ArraySource.of(
      Array.from({ length: 8 }, (_, i) => dl(i)),
      4,
    );
    const target = {
      sends: 0,
      send(messages: readonly ReplayMessage[]): Promise<SentRecord[]> {
        this.sends += messages.length;
        abort.abort();
        return Promise.resolve(place(messages, new Map()));
      },
    };
    const summary = await replay({ signal: abort.signal, maxSendBatch: 2 }, { source, target });
    assert.equal(summary.stoppedBy, 'abort');
    assert.equal(target.sends, 2);
    assert.deepEqual(source.acks, [
      [0, 2],
      [0, 2],
    ]);
  });

  void it('sends each source record once however often it was dead-lettered, and counts the whole DLQ', async () => {
    const dls = [dl(0), dl(1), dl(2), dl(1, { failedAt: T0 + 99_000 }), dl(0), dl(3, { reason: 'decode' })];
    const target = new MemoryTarget();
    const summary = await replay(
      { filter: { reasons: ['validation'] } },
      { source: ArraySource.of(dls, 2), target },
    );
    assert.deepEqual(
      target.messages.map((m) => m.headers['mds.replay.source']),
      ['md.bars/0/0', 'md.bars/1/1', 'md.bars/2/2'],
    );
    assert.deepEqual(
      [
        summary.entries,
        summary.distinct,
        summary.duplicates,
        summary.matched,
        summary.replayed,
        summary.alreadySent,
      ],
      [6, 4, 2, 5, 3, 2],
    );
    const lines: string[] = [];
    const dry = await replay(
      { dryRun: true },
      { source: ArraySource.of(dls, 2), output: (l) => lines.push(l) },
    );
    assert.equal(lines.length, 4, 'one dry-run line per distinct source record');
    assert.deepEqual([dry.entries, dry.distinct, dry.duplicates, dry.alreadySent], [6, 4, 2, 2]);
  });

  void it('entries behind the source position are counted, not sent, and their duplicates are not sent again', async () => {
    const entries: SourceEntry[] = [
      { ok: true, where: 'a', deadLetter: dl(0), earlier: true },
      { ok: true, where: 'b', deadLetter: dl(1, { reason: 'decode' }), earlier: true },
      { ok: true, where: 'c', deadLetter: dl(2) },
      { ok: true, where: 'd', deadLetter: dl(0) },
      { ok: true, where: 'e', deadLetter: dl(1, { reason: 'decode' }) },
    ];
    const target = new MemoryTarget();
    const source = new ArraySource(entries, 5);
    const summary = await replay({}, { source, target });
    // dl(1)'s earlier copy counts as sent too: an earlier run moved the position past it.
    assert.deepEqual(
      target.messages.map((m) => m.headers['mds.replay.source']),
      ['md.bars/2/2'],
    );
    assert.deepEqual(
      [
        summary.entries,
        summary.distinct,
        summary.earlier,
        summary.read,
        summary.replayed,
        summary.alreadySent,
      ],
      [5, 3, 2, 3, 1, 2],
    );
    assert.deepEqual(source.acks, [[0, 5]]);
  });

  void it('sends again what the target cannot confirm before acknowledging, a bounded number of times', async () => {
    const acksAtConfirm: number[] = [];
    const source = ArraySource.of([dl(0), dl(1), dl(2), dl(3)], 4);
    let lose = 2;
    const target = {
      log: [] as (string | undefined)[],
      sends: [] as number[],
      send(messages: readonly ReplayMessage[]): Promise<SentRecord[]> {
        this.sends.push(messages.length);
        return Promise.resolve(
          messages.map((message) => {
            const offset = this.log.length;
            // The client resolves the send, yet the broker failover loses the first record.
            this.log.push(
              message === messages[0] && lose-- > 0
                ? undefined
                : (message.headers['mds.replay.source'] as string),
            );
            return { message, partition: 0, offset };
          }),
        );
      },
      confirm: (sent: readonly SentRecord[]): Promise<SentRecord[]> => {
        acksAtConfirm.push(source.acks.length);
        return Promise.resolve(
          sent.filter((r) => target.log[r.offset] !== r.message.headers['mds.replay.source']),
        );
      },
    };
    const summary = await replay({}, { source, target });
    assert.deepEqual(target.sends, [4, 1, 1]);
    assert.deepEqual(acksAtConfirm, [0, 0, 0], 'nothing acknowledged before every record is confirmed');
    assert.deepEqual(source.acks, [[0, 4]]);
    assert.deepEqual([summary.replayed, summary.resent], [4, 2]);
    assert.deepEqual(
      new Set(target.log.filter((x) => x !== undefined)),
      new Set(['md.bars/0/0', 'md.bars/1/1', 'md.bars/2/2', 'md.bars/0/3']),
    );

    const never = {
      send: (messages: readonly ReplayMessage[]) =>
        Promise.resolve(messages.map((message) => ({ message, partition: 0, offset: -1 }))),
      confirm: (sent: readonly SentRecord[]) => Promise.resolve([...sent]),
    };
    const stuck = ArraySource.of([dl(0)], 1);
    await assert.rejects(replay({ maxResends: 2 }, { source: stuck, target: never }), {
      code: 'REPLAY_UNCONFIRMED',
    });
    assert.deepEqual(stuck.acks, [], 'the position does not move past an unconfirmed record');
  });

  void it('needs a target unless dry run, and a positive integer limit', async () => {
    await assert.rejects(replay({}, { source: ArraySource.of([]) }), { code: 'REPLAY_NO_TARGET' });
    await assert.rejects(
      replay({ limit: 0 }, { source: ArraySource.of([]), target: new MemoryTarget() }),
      RangeError,
    );
  });
});

void describe('replay-dlq arguments', () => {
  function parse(args: string[]): { result: ReturnType<typeof parseArgs>; err: string } {
    let err = '';
    const io: CliIo = { out: () => undefined, err: (s) => (err += s) };
    return { result: parseArgs(['node', 'replay-dlq', ...args], io), err };
  }

  void it('defaults: the replay group; brokers, DLQ topic, files and log level left to the settings', () => {
    const { result } = parse([]);
    assert.deepEqual(result, {
      kind: 'run',
      options: {
        mode: 'replay',
        repair: false,
        files: undefined,
        source: { kind: 'topic' },
        filter: {},
        limit: undefined,
        dryRun: false,
        rate: undefined,
        toTopic: undefined,
        group: 'market-data-sink-replay',
        brokers: undefined,
        dlqTopic: undefined,
        idleTimeoutMs: 5000,
        logLevel: undefined,
      },
    });
  });

  void it('--reconcile: files from --from-files, --dlq-dir or DLQ_DIR; --repair only with it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-reconcile-'));
    const ok = (args: string[]) => {
      const { result } = parse(args);
      assert.equal(result.kind, 'run');
      return result.kind === 'run' ? result.options : undefined;
    };
    assert.deepEqual(
      [ok(['--reconcile', '--dlq-dir', dir])?.files, ok(['--reconcile', '--dlq-dir', dir])?.mode],
      [[dir], 'reconcile'],
    );
    assert.deepEqual(ok(['--reconcile', '--repair'])?.files, undefined);
    assert.deepEqual(
      [ok(['--brokers', 'b1:9092,b2:9093', '--dlq-topic', 'x.dlq', '--log-level', 'debug'])].map((o) => [
        o?.brokers,
        o?.dlqTopic,
        o?.logLevel,
      ]),
      [[['b1:9092', 'b2:9093'], 'x.dlq', 'debug']],
    );
    assert.deepEqual(ok(['--reconcile', '--repair', '--from-files', dir])?.repair, true);
    for (const [args, message] of [
      [['--repair'], /--repair: only with --reconcile/],
      [['--dlq-dir', dir], /--dlq-dir: only with --reconcile/],
      [['--reconcile', '--dlq-dir', dir, '--dry-run'], /--dry-run: does not apply to --reconcile/],
      [['--reconcile', '--dlq-dir', dir, '--to-topic', 'x'], /--to-topic: does not apply/],
      [['--reconcile', '--dlq-dir', path.join(dir, 'nope')], /--dlq-dir: no such directory/],
    ] as const) {
      const { result, err } = parse([...args]);
      assert.deepEqual(result, { kind: 'exit', code: 2 }, args.join(' '));
      assert.match(err, message);
    }
    await fs.rm(dir, { recursive: true });
  });

  void it('parses filters, limits and files', () => {
    const { result } = parse([
      '--from-files',
      '.',
      '--topic',
      'md.bars, md.news',
      '--reason',
      'decode,database',
      '--error-code',
      'DB_22P02',
      '--since',
      '2024-05-01',
      '--until',
      '2024-05-02T12:00:00+02:00',
      '--limit',
      '10',
      '--rate',
      '2.5',
      '--dry-run',
      '--to-topic',
      'md.retry',
    ]);
    assert.equal(result.kind, 'run');
    if (result.kind !== 'run') return;
    assert.deepEqual(result.options.source, { kind: 'files', paths: ['.'] });
    assert.deepEqual(result.options.filter, {
      topics: ['md.bars', 'md.news'],
      reasons: ['decode', 'database'],
      errorCodes: ['DB_22P02'],
      since: Date.parse('2024-05-01T00:00:00Z'),
      until: Date.parse('2024-05-02T10:00:00Z'),
    });
    assert.equal(result.options.limit, 10);
    assert.equal(result.options.rate, 2.5);
    assert.equal(result.options.dryRun, true);
    assert.equal(result.options.toTopic, 'md.retry');
  });

  const bad: [string, string[], RegExp][] = [
    ['unknown option', ['--frm-topic'], /unknown option '--frm-topic'/],
    [
      'unknown reason',
      ['--reason', 'decode,bogus'],
      /expected reasons among decode,validation,database,overflow,tombstone, got "bogus"/,
    ],
    ['time without zone', ['--since', '2024-05-01T10:00'], /date-time with zone/],
    [
      'since not before until',
      ['--since', '2024-05-02', '--until', '2024-05-01'],
      /--since must be before --until/,
    ],
    ['limit not a positive integer', ['--limit', '1.5'], /expected an integer > 0, got "1.5"/],
    ['rate zero', ['--rate', '0'], /expected a number > 0, got "0"/],
    ['both sources', ['--from-topic', '--from-files', '.'], /cannot be used with/],
    ['missing file', ['--from-files', '/nonexistent/dlq'], /no such file or directory: \/nonexistent\/dlq/],
    ['bad topic', ['--to-topic', 'a/b'], /expected a Kafka topic name/],
    ['bad brokers flag', ['--brokers', 'localhost'], /expected host:port/],
    ['bad log level', ['--log-level', 'loud'], /--log-level: expected/],
  ];
  for (const [name, args, message] of bad) {
    void it(`exit 2: ${name}`, () => {
      const { result, err } = parse(args);
      assert.deepEqual(result, { kind: 'exit', code: 2 });
      assert.match(err, message);
    });
  }

  void it('the script runs a dry run from NDJSON files end to end (exit 0), and exits 2 on a bad flag', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mds-replay-cli-'));
    try {
      const sink = new NdjsonDeadLetterSink({ dir, maxFileBytes: 1 << 20, clock: { now: () => T0 } });
      await sink.write([dl(1), dl(2, { reason: 'decode', errorCode: 'JSON_INVALID' })]);
      await sink.close();
      const script = path.join(__dirname, '..', '..', '..', 'scripts', 'replay-dlq');
      const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
        new Promise((resolve) => {
          execFile(script, args, { cwd: os.tmpdir() }, (error, stdout, stderr) => {
            resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
          });
        });
      const ok = await run(['--from-files', dir, '--dry-run', '--reason', 'decode']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(
        ok.stdout,
        'md.bars/2/2 -> md.bars reason=decode error=JSON_INVALID failedAt=2024-05-01T00:00:02.000Z\n' +
          'replay dry run done: entries=2 distinct=2 duplicates=0 earlier=0 read=2 matched=1 replayed=0 alreadySent=0 resent=0 skipped=1 invalid=0 by reason: decode=1\n',
      );
      // Off a terminal, the progress line carries every count, as the summary does.
      assert.match(
        ok.stderr,
        /^replay progress: 2 \(\d+\/s\) \| entries=2 distinct=2 duplicates=0 .* skipped=1 invalid=0 by reason: decode=1$/m,
      );
      const usage = await run(['--from-files', dir, '--limit', 'many']);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--limit <n>' argument 'many' is invalid\. expected an integer > 0/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
