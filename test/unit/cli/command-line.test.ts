// The command line: help and version before anything loads, on every command; flags named as
// the env names (old dotted-key flags kept as aliases); unknown commands and flags refused by
// name with exit 2; reset-offsets' target and mode checked before anything connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  flagSettings,
  parseCommandLine,
  type CliOutput,
  type CommandLine,
} from '../../../src/cli/command-line.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { envFlag } from '../../../src/config/flag-names.js';

const settings = flagSettings();

function parse(argv: string[]): { result: CommandLine; out: string; err: string } {
  let out = '';
  let err = '';
  const io: CliOutput = { out: (s) => (out += s), err: (s) => (err += s) };
  return { result: parseCommandLine(argv, settings, '1.2.3', io), out, err };
}

const COMMANDS = ['run', 'migrate', 'replay-dlq', 'reset-offsets', 'status', 'config'];

void test('--help and --version print and exit 0 on every command, whatever else is given', () => {
  for (const argv of [[], ...COMMANDS.map((c) => [c])]) {
    const v = parse([...argv, '--version']);
    assert.deepEqual(v.result, { kind: 'exit', code: 0 }, argv.join(' '));
    assert.equal(v.out, '1.2.3\n');
    if (argv[0] === 'replay-dlq') continue; // its own help, printed by the replay CLI
    const h = parse([...argv, '--help']);
    assert.deepEqual(h.result, { kind: 'exit', code: 0 }, argv.join(' '));
    assert.match(h.out, /^Usage: market-data-sink/);
  }
  assert.deepEqual(parse(['-h', '--no-such-flag']).result, { kind: 'exit', code: 0 });
  assert.deepEqual(parse(['-V']).result, { kind: 'exit', code: 0 });
  assert.match(parse(['--help']).out, /reset-offsets[\s\S]*status[\s\S]*config/);
});

void test('env-named flags become convict flags; the dotted-key flags stay as aliases', () => {
  assert.equal(envFlag('CB_OPEN_MS'), 'cb-open-ms');
  assert.deepEqual(parse(['--cb-open-ms', '500', '--topic-prefix=x.']).result, {
    kind: 'run',
    args: ['--breaker-open-ms=500', '--kafka-topic-prefix=x.'],
  });
  assert.deepEqual(parse(['migrate', '--breaker-open-ms', '500']).result, {
    kind: 'migrate',
    args: ['--breaker-open-ms=500'],
  });
  assert.deepEqual(parse([]).result, { kind: 'run', args: [] });
  assert.deepEqual(parse(['config', '--sink-workers', '3', '--json']).result, {
    kind: 'config',
    args: ['--sink-workers=3'],
    json: true,
  });
});

void test('the flags reach convict: values as given, a dash-led value included', () => {
  const r = parse(['config', '--dlq-dir', '-odd', '--cb-open-ms=750']);
  assert.ok(r.result.kind === 'config');
  const loaded = loadConfig({ env: { NODE_ENV: 'development' }, args: r.result.args });
  assert.equal(loaded.config.dlq.dir, '-odd');
  assert.equal(loaded.config.breaker.openMs, 750);
});

void test('help lists every setting by its env-named flag, with the old flag where it differs', () => {
  const text = parse(['run', '--help']).out;
  for (const s of settings) assert.ok(text.includes(`--${envFlag(s.env)} <value>`), `${s.env} listed`);
  assert.match(text, /--cb-open-ms <value> +CB_OPEN_MS: [^\n]*\n?[^\n]*\(also --breaker-open-ms\)/);
});

void test('unknown commands, unknown flags and missing values: exit 2, one line naming them', () => {
  const refuses = (argv: string[], text: RegExp): void => {
    const r = parse(argv);
    assert.deepEqual(r.result, { kind: 'exit', code: 2 }, argv.join(' '));
    assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
    assert.match(r.err, text);
  };
  refuses(['--sink-wrokers', '8'], /unknown option '--sink-wrokers'/);
  refuses(['serve'], /unknown command 'serve'/);
  refuses(['--sink-workers'], /option '--sink-workers <value>' argument missing/);
  refuses(['run', 'extra'], /too many arguments/);
  refuses(['status', '--no-such'], /unknown option '--no-such'/);
  refuses(['reset-offsets', '--topic', 't', '--to-latest'], /required option '--group <id>'/);
  refuses(['reset-offsets', '--group', 'g', '--topic', 't'], /exactly one of --to-earliest/);
  refuses(
    ['reset-offsets', '--group', 'g', '--topic', 't', '--to-latest', '--to-offset', '5'],
    /exactly one/,
  );
  refuses(['reset-offsets', '--group', 'g', '--topic', 't', '--to-offset', '-1'], /expected an integer >= 0/);
  refuses(
    ['reset-offsets', '--group', 'g', '--topic', 't', '--to-datetime', '2026-12-04T13:00'],
    /with a zone/,
  );
  refuses(
    ['reset-offsets', '--group', 'g', '--topic', 't', '--to-latest', '--dry-run', '--execute'],
    /cannot be used with/,
  );
});

void test('reset-offsets: the target and the mode, dry run by default', () => {
  const base = ['reset-offsets', '--group', 'g', '--topic', 'md.bars'];
  assert.deepEqual(parse([...base, '--to-datetime', '2026-12-04T13:00:00Z', '--partition', '2']).result, {
    kind: 'reset-offsets',
    args: [],
    options: {
      group: 'g',
      topic: 'md.bars',
      partition: 2,
      target: { kind: 'datetime', at: Date.parse('2026-12-04T13:00:00Z') },
      execute: false,
    },
  });
  const r = parse([...base, '--shift-by', '-10', '--execute', '--database-schema', 's']).result;
  assert.ok(r.kind === 'reset-offsets');
  assert.deepEqual(r.options.target, { kind: 'shift', by: -10 });
  assert.equal(r.options.execute, true);
  assert.deepEqual(r.args, ['--database-schema=s']);
});

void test('replay-dlq --version prints ours and exits 0 wherever it stands, like every command', () => {
  for (const argv of [
    ['replay-dlq', '--dry-run', '--version'],
    ['replay-dlq', '--from-files', 'a', '-V'],
  ]) {
    const v = parse(argv);
    assert.deepEqual(v.result, { kind: 'exit', code: 0 }, argv.join(' '));
    assert.equal(v.out, '1.2.3\n', argv.join(' '));
  }
});

void test('replay-dlq gets its arguments untouched, its own flags included', () => {
  assert.deepEqual(parse(['replay-dlq', '--dry-run', '--from-files', 'a', 'b', '--help']).result, {
    kind: 'replay-dlq',
    argv: ['--dry-run', '--from-files', 'a', 'b', '--help'],
  });
});
