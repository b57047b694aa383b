// The one command line, built with commander: run | migrate | replay-dlq | reset-offsets |
// status | config. Parsing touches nothing: --help and --version print and end here on every
// command, before config is loaded or a connection opened. Unknown commands and flags are
// refused naming them (exit 2). Each setting's flag is its env name in kebab case
// (--sink-workers for SINK_WORKERS); the dotted-key flag convict knows (--breaker-open-ms
// for CB_OPEN_MS) stays accepted as a hidden alias. No command means `run`.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { schemaLeaves } from '../config/load-config.js';
import { envFlag } from '../config/flag-names.js';
import type { ResetTarget } from '../ops/reset-offsets.js';

export interface FlagSetting {
  /** The dotted config key, e.g. breaker.openMs. */
  readonly key: string;
  /** The env name, e.g. CB_OPEN_MS. */
  readonly env: string;
  /** convict's flag (the dotted key in kebab case), without dashes. */
  readonly arg: string;
  readonly doc: string;
}

export interface StatusOptions {
  readonly group: string | undefined;
  readonly topics: readonly string[] | undefined;
  readonly json: boolean;
}

export interface ResetOptions {
  readonly group: string;
  readonly topic: string;
  readonly partition: number | undefined;
  readonly target: ResetTarget;
  readonly execute: boolean;
}

/** What the command line asks for; `args` are convict's arguments for the settings. */
export type CommandLine =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'run' | 'migrate'; readonly args: string[] }
  | { readonly kind: 'replay-dlq'; readonly argv: string[] }
  | { readonly kind: 'status'; readonly args: string[]; readonly options: StatusOptions }
  | { readonly kind: 'config'; readonly args: string[]; readonly json: boolean }
  | { readonly kind: 'reset-offsets'; readonly args: string[]; readonly options: ResetOptions };

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Each setting with its env name and convict's flag, read off the config schema. */
export function flagSettings(): FlagSetting[] {
  const out: FlagSetting[] = [];
  for (const [key, leaf] of schemaLeaves())
    if (leaf.env !== undefined && leaf.arg !== undefined)
      out.push({ key, env: leaf.env, arg: leaf.arg, doc: leaf.doc });
  return out;
}

const HELP_FLAGS = new Set(['-h', '--help', '-V', '--version']);

/**
 * Parses argv (the user's arguments, without node and the script). Help, version and usage
 * errors are written to `io` and come back as { kind: 'exit' } (0, or 2 for a usage error).
 */
export function parseCommandLine(
  argv: readonly string[],
  settings: readonly FlagSetting[],
  version: string,
  io: CliOutput,
): CommandLine {
  let result: CommandLine | null = null;
  const program = new Command('market-data-sink')
    .description('Kafka market data into PostgreSQL/TimescaleDB, exactly once')
    .version(version, '-V, --version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // One line an operator can act on: commander's "did you mean" goes on the same line.
      outputError: (s, write) => write(`market-data-sink: ${s.trim().replace(/\s*\n\s*/g, ' ')}\n`),
    })
    .addHelpText(
      'after',
      '\nWithout a command: run. Each setting is read from its env name or the flag of the same\n' +
        'name in kebab case (a flag wins); `<command> --help` lists them. --help and --version\n' +
        'touch neither Kafka nor PostgreSQL.',
    );

  /** Per command: option attribute → convict's flag, to hand the settings' values to convict. */
  const settingArgs = new Map<Command, Map<string, string>>();
  const withSettings = (cmd: Command): Command => {
    const byAttribute = new Map<string, string>();
    for (const s of settings) {
      const flag = envFlag(s.env);
      const alias = s.arg !== flag ? ` (also --${s.arg})` : '';
      const main = new Option(`--${flag} <value>`, `${s.env}: ${s.doc}${alias}`);
      cmd.addOption(main);
      byAttribute.set(main.attributeName(), s.arg);
      if (s.arg !== flag && !settings.some((o) => envFlag(o.env) === s.arg)) {
        const old = new Option(`--${s.arg} <value>`).hideHelp();
        cmd.addOption(old);
        byAttribute.set(old.attributeName(), s.arg);
      }
    }
    cmd.version(version, '-V, --version');
    settingArgs.set(cmd, byAttribute);
    return cmd;
  };
  const argsOf = (cmd: Command): string[] => {
    const byAttribute = settingArgs.get(cmd)!;
    const out: string[] = [];
    for (const [attr, value] of Object.entries(cmd.opts<Record<string, unknown>>())) {
      const arg = byAttribute.get(attr);
      // One token with "=": a value that starts with a dash stays a value for convict too.
      if (arg !== undefined && typeof value === 'string') out.push(`--${arg}=${value}`);
    }
    return out;
  };

  withSettings(program.command('run').description('consume and write (the default)')).action(
    (_o, cmd: Command) => {
      result = { kind: 'run', args: argsOf(cmd) };
    },
  );
  withSettings(program.command('migrate').description('apply the database migrations and exit')).action(
    (_o, cmd: Command) => {
      result = { kind: 'migrate', args: argsOf(cmd) };
    },
  );
  program
    .command('replay-dlq')
    .description('send dead letters back to their topics (replay-dlq --help for its flags)')
    .version(version, '-V, --version')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .action((_o, cmd: Command) => {
      // Commander sees --version only before the first pass-through flag; replay's own parser
      // has none, so ours answers wherever it stands, as on every other command.
      if (cmd.args.some((a) => a === '--version' || a === '-V')) {
        io.out(`${version}\n`);
        result = { kind: 'exit', code: 0 };
        return;
      }
      result = { kind: 'replay-dlq', argv: [...cmd.args] };
    });
  withSettings(
    program
      .command('reset-offsets')
      .description(
        "move a stopped group's offsets in PostgreSQL (sink_offsets) and Kafka together; dry run unless --execute",
      )
      .requiredOption('--group <id>', 'consumer group (KAFKA_GROUP_ID of the sink)')
      .requiredOption('--topic <topic>', 'topic, with its prefix (e.g. md.bars)')
      .option('--partition <n>', 'only this partition (default: all)', nonNegativeInt)
      .addOption(new Option('--to-earliest', 'to the first offset still in the log'))
      .addOption(new Option('--to-latest', 'to the log end: skip everything not yet applied'))
      .addOption(
        new Option('--to-offset <n>', 'to this offset (clamped to the log)').argParser(nonNegativeInt),
      )
      .addOption(
        new Option('--to-datetime <iso>', 'to the first record at or after this time').argParser(isoTime),
      )
      .addOption(
        new Option('--shift-by <n>', 'by n from the stored offset (negative: back)').argParser(integer),
      )
      .addOption(new Option('--dry-run', 'print before → after and change nothing (the default)'))
      .addOption(new Option('--execute', 'apply: PostgreSQL first, then Kafka').conflicts('dryRun')),
  ).action((o: Record<string, unknown>, cmd: Command) => {
    const targets: ResetTarget[] = [];
    if (o.toEarliest === true) targets.push({ kind: 'earliest' });
    if (o.toLatest === true) targets.push({ kind: 'latest' });
    if (typeof o.toOffset === 'number') targets.push({ kind: 'offset', offset: o.toOffset });
    if (typeof o.toDatetime === 'number') targets.push({ kind: 'datetime', at: o.toDatetime });
    if (typeof o.shiftBy === 'number') targets.push({ kind: 'shift', by: o.shiftBy });
    if (targets.length !== 1)
      cmd.error(
        'error: reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by',
        { exitCode: 2, code: 'mds.resetTarget' },
      );
    result = {
      kind: 'reset-offsets',
      args: argsOf(cmd),
      options: {
        group: o.group as string,
        topic: o.topic as string,
        partition: typeof o.partition === 'number' ? o.partition : undefined,
        target: targets[0]!,
        execute: o.execute === true,
      },
    };
  });
  withSettings(
    program
      .command('status')
      .description(
        "a group's partitions: next_offset in PostgreSQL, Kafka's committed offset, log end, lag, owner",
      )
      .option('--group <id>', 'consumer group (default: KAFKA_GROUP_ID)')
      .option('--topic <topic...>', 'topics with their prefix (default: the configured ones)')
      .option('--json', 'JSON (the default when stdout is not a terminal)'),
  ).action((o: Record<string, unknown>, cmd: Command) => {
    result = {
      kind: 'status',
      args: argsOf(cmd),
      options: {
        group: typeof o.group === 'string' ? o.group : undefined,
        topics: Array.isArray(o.topic) ? (o.topic as string[]) : undefined,
        json: o.json === true,
      },
    };
  });
  withSettings(
    program
      .command('config')
      .description('the effective configuration, each value with its source; secrets redacted')
      .option('--json', 'JSON (the default when stdout is not a terminal)'),
  ).action((o: Record<string, unknown>, cmd: Command) => {
    result = { kind: 'config', args: argsOf(cmd), json: o.json === true };
  });

  const first = argv[0];
  const implicitRun = first === undefined || (first.startsWith('-') && !HELP_FLAGS.has(first));
  try {
    program.parse(implicitRun ? ['run', ...argv] : [...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return { kind: 'exit', code: e.exitCode === 0 ? 0 : 2 };
    throw e;
  }
  // A bare `help` (commander's implicit help command) prints and runs no action.
  return result ?? { kind: 'exit', code: 0 };
}

function nonNegativeInt(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`expected an integer >= 0, got ${JSON.stringify(raw)}`);
  return n;
}

function integer(raw: string): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(raw)}`);
  return n;
}

function isoTime(raw: string): number {
  // A date alone, or a date-time with a zone: a zoneless time would depend on the host's.
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(raw.trim());
  const ms = Date.parse(raw);
  if (!ok || !Number.isFinite(ms))
    throw new InvalidArgumentError(
      `expected an ISO 8601 time with a zone (2026-12-04T13:00:00Z), got ${JSON.stringify(raw)}`,
    );
  return ms;
}
