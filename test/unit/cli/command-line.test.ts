// The worker's command line: help and version before anything loads, flags named as the env
// names (old dotted-key flags kept as aliases), unknown commands and flags refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envFlag, helpText, parseCommandLine, type FlagSetting } from '../../../src/cli/command-line.js';
import { schemaLeaves } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/core/errors.js';

const settings: FlagSetting[] = [...schemaLeaves()].flatMap(([key, l]) =>
  l.env !== undefined && l.arg !== undefined ? [{ key, env: l.env, arg: l.arg, doc: l.doc }] : [],
);

void test('--help and --version win over everything else, for every command', () => {
  assert.deepEqual(parseCommandLine(['--help'], settings), { kind: 'help', command: 'run' });
  assert.deepEqual(parseCommandLine(['migrate', '--help'], settings), { kind: 'help', command: 'migrate' });
  assert.deepEqual(parseCommandLine(['-h', '--no-such-flag'], settings), { kind: 'help', command: 'run' });
  assert.deepEqual(parseCommandLine(['run', '--version'], settings), { kind: 'version' });
  assert.deepEqual(parseCommandLine(['-V'], settings), { kind: 'version' });
});

void test('env-named flags become convict flags; the dotted-key flags stay as aliases', () => {
  assert.equal(envFlag('CB_OPEN_MS'), 'cb-open-ms');
  assert.deepEqual(parseCommandLine(['--cb-open-ms', '500', '--topic-prefix=x.'], settings), {
    kind: 'run',
    command: 'run',
    args: ['--breaker-open-ms', '500', '--kafka-topic-prefix=x.'],
  });
  assert.deepEqual(parseCommandLine(['migrate', '--breaker-open-ms', '500'], settings), {
    kind: 'run',
    command: 'migrate',
    args: ['--breaker-open-ms', '500'],
  });
  assert.deepEqual(parseCommandLine([], settings), { kind: 'run', command: 'run', args: [] });
});

void test('unknown commands, unknown flags and missing values are refused by name', () => {
  const refuses = (argv: string[], text: RegExp): void =>
    assert.throws(
      () => parseCommandLine(argv, settings),
      (e: unknown) => e instanceof ConfigError && text.test(e.message),
    );
  refuses(['--sink-wrokers', '8'], /unknown flag --sink-wrokers/);
  refuses(['serve'], /unknown command "serve"; expected one of run, migrate/);
  refuses(['--sink-workers'], /flag --sink-workers \(SINK_WORKERS\) needs a value/);
  refuses(['--sink-workers', '--log-level', 'debug'], /--sink-workers .* needs a value/);
  refuses(['run', 'extra'], /unexpected argument "extra"/);
});

void test('help lists every setting by its env-named flag, with the old flag where it differs', () => {
  const text = helpText('run', settings, '1.2.3');
  assert.match(text, /^market-data-sink 1\.2\.3/);
  for (const s of settings) assert.ok(text.includes(`--${envFlag(s.env)}`), `${s.env} listed`);
  assert.match(text, /--cb-open-ms \(also --breaker-open-ms\)/);
});
