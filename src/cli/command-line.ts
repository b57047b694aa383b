// Reads the worker's command line before anything else runs: `--help` and `--version` print
// and return without loading config or touching Kafka or PostgreSQL; unknown commands and
// flags are refused naming them. Each setting's flag is its env name in kebab case
// (--sink-workers for SINK_WORKERS); the dotted-key flag convict knows (--sink-workers,
// --breaker-open-ms for CB_OPEN_MS) stays accepted as an alias.
import { ConfigError } from '../core/errors.js';
import { envFlag } from '../config/flag-names.js';

export const COMMANDS = ['run', 'migrate'] as const;
export type Command = (typeof COMMANDS)[number];

export interface FlagSetting {
  /** The dotted config key, e.g. breaker.openMs. */
  readonly key: string;
  /** The env name, e.g. CB_OPEN_MS. */
  readonly env: string;
  /** convict's flag (the dotted key in kebab case), without dashes. */
  readonly arg: string;
  readonly doc: string;
}

export type CommandLine =
  | { readonly kind: 'help'; readonly command: Command | null }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly command: Command; readonly args: string[] };

export { envFlag };

/**
 * Splits argv into the command and convict's arguments (env-named flags rewritten to
 * convict's). Throws ConfigError (exit 2) naming an unknown command or flag.
 */
export function parseCommandLine(argv: readonly string[], settings: readonly FlagSetting[]): CommandLine {
  if (argv.includes('--version') || argv.includes('-V')) return { kind: 'version' };
  const first = argv[0];
  const named = first !== undefined && !first.startsWith('-');
  if (named && !(COMMANDS as readonly string[]).includes(first)) {
    if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', command: null };
    throw new ConfigError(`unknown command ${JSON.stringify(first)}; expected one of ${COMMANDS.join(', ')}`);
  }
  const command: Command = named ? (first as Command) : 'run';
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', command };

  const byFlag = new Map<string, string>();
  for (const s of settings) {
    byFlag.set(s.arg, s.arg);
    byFlag.set(envFlag(s.env), s.arg);
  }
  const rest = named ? argv.slice(1) : argv;
  const args: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(a)}; see --help`);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const arg = byFlag.get(name);
    if (arg === undefined) throw new ConfigError(`unknown flag --${name}; see --help for the flags`);
    if (eq >= 0) {
      args.push(`--${arg}=${a.slice(eq + 1)}`);
    } else {
      const value = rest[i + 1];
      if (value === undefined || value.startsWith('--'))
        throw new ConfigError(`flag --${name} (${name.toUpperCase().replace(/-/g, '_')}) needs a value`);
      args.push(`--${arg}`, value);
      i++;
    }
  }
  return { kind: 'run', command, args };
}

export function helpText(command: Command | null, settings: readonly FlagSetting[], version: string): string {
  const lines = [
    `market-data-sink ${version}: Kafka market data into PostgreSQL/TimescaleDB, exactly once`,
    '',
    'Usage: market-data-sink [run|migrate] [--flag value ...]',
    '',
    'Commands:',
    '  run       consume and write (the default)',
    '  migrate   apply the database migrations and exit',
    '',
    'Every setting is read from its env name, or from the flag of the same name in kebab',
    'case; a flag wins over the environment. --help and --version touch nothing.',
    '',
    'Flags:',
  ];
  for (const s of settings) {
    const flag = `--${envFlag(s.env)}`;
    const alias = s.arg !== envFlag(s.env) ? ` (also --${s.arg})` : '';
    lines.push(`  ${flag}${alias}`, `      ${s.env}: ${s.doc}`);
  }
  if (command === null) lines.push('', `Commands: ${COMMANDS.join(', ')}.`);
  return lines.join('\n') + '\n';
}
