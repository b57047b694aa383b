// replay-dlq's command line: flags parsed and validated up front (exit 2 naming the flag),
// with the config schema's formats, so the command and the worker agree on what a broker list
// or a topic name is. Settings not given as flags are left to loadConfig (environment, config
// files), as for the worker. cli.ts runs what it returns.
import fs from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { schema } from '../config/schema.js';
import { formats } from '../config/formats.js';
import { toError } from '../core/errors.js';
import { DEAD_LETTER_REASONS, isDeadLetterReason, type DeadLetterReason } from '../core/dead-letter.js';
import type { ReplayFilter } from './filter.js';

export interface ReplayCliOptions {
  /** replay (the default) or reconcile the DLQ topic with the files. */
  readonly mode: 'replay' | 'reconcile';
  /** Reconcile: send the topic's missing entries from the files. */
  readonly repair: boolean;
  /** Reconcile: the NDJSON files (--from-files, else --dlq-dir; undefined: the configured dlq.dir). */
  readonly files: readonly string[] | undefined;
  readonly source: { readonly kind: 'topic' } | { readonly kind: 'files'; readonly paths: readonly string[] };
  readonly filter: ReplayFilter;
  readonly limit: number | undefined;
  readonly dryRun: boolean;
  readonly rate: number | undefined;
  readonly toTopic: string | undefined;
  readonly group: string;
  /**
   * --brokers, --dlq-topic and --log-level as given, else undefined: the environment and the
   * config files supply them then, as they do for the worker (loadConfig).
   */
  readonly brokers: readonly string[] | undefined;
  readonly dlqTopic: string | undefined;
  readonly idleTimeoutMs: number;
  readonly logLevel: string | undefined;
}

export type ParseResult =
  | { readonly kind: 'run'; readonly options: ReplayCliOptions }
  | { readonly kind: 'exit'; readonly code: number };

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const DEFAULT_GROUP = 'market-data-sink-replay';

/** Runs one of the config schema's validators, so the CLI and the service agree on formats. */
function checkFormat(name: string, value: unknown): void {
  const format = formats.find((f) => f.name === name);
  format?.validate?.(value, {} as never);
}

function list(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    throw new InvalidArgumentError(`expected a comma-separated list, got ${JSON.stringify(value)}`);
  return items;
}

function reasons(value: string): DeadLetterReason[] {
  const items = list(value);
  const bad = items.find((r) => !isDeadLetterReason(r));
  if (bad !== undefined)
    throw new InvalidArgumentError(
      `expected reasons among ${DEAD_LETTER_REASONS.join(',')}, got ${JSON.stringify(bad)}`,
    );
  return items as DeadLetterReason[];
}

// A date alone is UTC midnight; a time needs its zone, since Date.parse would read it as local time.
const ISO = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

function isoTime(value: string): number {
  const ms = Date.parse(value);
  if (!ISO.test(value) || Number.isNaN(ms)) {
    throw new InvalidArgumentError(
      `expected an ISO date (2024-05-01) or date-time with zone (2024-05-01T12:00:00Z), got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`expected an integer > 0, got ${JSON.stringify(value)}`);
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a number > 0, got ${JSON.stringify(value)}`);
  return n;
}

function topicName(value: string): string {
  try {
    checkFormat('topic-name', value);
  } catch (e) {
    throw new InvalidArgumentError(toError(e).message);
  }
  return value;
}

function brokerList(value: string): string[] {
  const brokers = list(value);
  try {
    checkFormat('broker-list', brokers);
  } catch (e) {
    throw new InvalidArgumentError(toError(e).message);
  }
  return brokers;
}

class UsageError extends Error {}

function buildProgram(io: CliIo): Command {
  return new Command('replay-dlq')
    .description('Send dead letters back to their original topics (or --to-topic), with mds.replay headers.')
    .addOption(
      new Option('--from-topic', 'read the DLQ topic with the replay group (default source)').conflicts(
        'fromFiles',
      ),
    )
    .addOption(new Option('--from-files <path...>', 'read NDJSON files; directories are walked for *.ndjson'))
    .option('--topic <topics>', 'only records from these original topics (comma-separated)', list)
    .option('--reason <reasons>', `only these reasons (${DEAD_LETTER_REASONS.join(',')})`, reasons)
    .option('--error-code <codes>', 'only these error codes (comma-separated)', list)
    .option('--since <iso>', 'only records dead-lettered at or after this time', isoTime)
    .option('--until <iso>', 'only records dead-lettered before this time', isoTime)
    .option('--limit <n>', 'stop after this many matching records', positiveInt)
    .option('--dry-run', 'print what would be sent; send and commit nothing')
    .option('--rate <records/s>', 'most records per second (default: unlimited)', positiveNumber)
    .option('--to-topic <topic>', 'send everything to this topic instead of the original ones', topicName)
    .option('--group <id>', 'replay consumer group: where a replay from the topic resumes', DEFAULT_GROUP)
    .option(
      '--brokers <list>',
      `bootstrap brokers (default: $${schema.kafka.brokers.env}, the config files or ${schema.kafka.brokers.default.join(',')})`,
      brokerList,
    )
    .option(
      '--dlq-topic <topic>',
      `DLQ topic (default: $${schema.dlq.topic.env}, the config files or ${schema.dlq.topic.default})`,
      topicName,
    )
    .option(
      '--idle-timeout-ms <n>',
      'fail when reading the DLQ topic makes no progress for this long before its end',
      positiveInt,
      5000,
    )
    .option(
      '--reconcile',
      'compare the DLQ topic with the NDJSON files (in --since/--until and the other filters) and list entries either lacks; exit 3 if any',
    )
    .option(
      '--repair',
      'with --reconcile: send the entries the topic lacks from the files, then read it back',
    )
    .option(
      '--dlq-dir <dir>',
      `with --reconcile, unless --from-files: the NDJSON directory (default: $${schema.dlq.dir.env}, the config files or ${schema.dlq.dir.default})`,
    )
    .option(
      '--log-level <level>',
      `log level of the JSON logs on stderr (default: $${schema.log.level.env}, the config files or ${schema.log.level.default})`,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(see replay-dlq --help)');
}

interface RawOptions {
  fromTopic?: true;
  fromFiles?: string[];
  topic?: string[];
  reason?: DeadLetterReason[];
  errorCode?: string[];
  since?: number;
  until?: number;
  limit?: number;
  dryRun?: true;
  rate?: number;
  toTopic?: string;
  group: string;
  brokers?: string[];
  dlqTopic?: string;
  idleTimeoutMs: number;
  logLevel?: string;
  reconcile?: true;
  repair?: true;
  dlqDir?: string;
}

function validate(raw: RawOptions): ReplayCliOptions {
  if (raw.since !== undefined && raw.until !== undefined && raw.since >= raw.until) {
    throw new UsageError(
      `--since must be before --until, got ${new Date(raw.since).toISOString()} >= ${new Date(raw.until).toISOString()}`,
    );
  }
  if (raw.group.trim() === '') throw new UsageError('--group: expected a consumer group id, got ""');
  const levels: readonly string[] = schema.log.level.format;
  if (raw.logLevel !== undefined && !levels.includes(raw.logLevel)) {
    throw new UsageError(`--log-level: expected ${levels.join('|')}, got ${JSON.stringify(raw.logLevel)}`);
  }
  for (const p of raw.fromFiles ?? []) {
    if (!fs.existsSync(p)) throw new UsageError(`--from-files: no such file or directory: ${p}`);
  }
  if (raw.repair === true && raw.reconcile !== true) throw new UsageError('--repair: only with --reconcile');
  if (raw.dlqDir !== undefined && raw.reconcile !== true)
    throw new UsageError('--dlq-dir: only with --reconcile');
  if (raw.reconcile === true) {
    const clash = (
      [
        ['--dry-run', raw.dryRun],
        ['--limit', raw.limit],
        ['--rate', raw.rate],
        ['--to-topic', raw.toTopic],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (clash !== undefined) throw new UsageError(`${clash[0]}: does not apply to --reconcile`);
  }
  if (raw.reconcile === true && raw.dlqDir !== undefined && !fs.existsSync(raw.dlqDir)) {
    throw new UsageError(`--dlq-dir: no such directory: ${raw.dlqDir}`);
  }
  const filter: { -readonly [K in keyof ReplayFilter]: ReplayFilter[K] } = {};
  if (raw.topic !== undefined) filter.topics = raw.topic;
  if (raw.reason !== undefined) filter.reasons = raw.reason;
  if (raw.errorCode !== undefined) filter.errorCodes = raw.errorCode;
  if (raw.since !== undefined) filter.since = raw.since;
  if (raw.until !== undefined) filter.until = raw.until;
  return {
    mode: raw.reconcile === true ? 'reconcile' : 'replay',
    repair: raw.repair === true,
    files: raw.fromFiles ?? (raw.dlqDir === undefined ? undefined : [raw.dlqDir]),
    source: raw.fromFiles !== undefined ? { kind: 'files', paths: raw.fromFiles } : { kind: 'topic' },
    filter,
    limit: raw.limit,
    dryRun: raw.dryRun === true,
    rate: raw.rate,
    toTopic: raw.toTopic,
    group: raw.group,
    brokers: raw.brokers,
    dlqTopic: raw.dlqTopic,
    idleTimeoutMs: raw.idleTimeoutMs,
    logLevel: raw.logLevel,
  };
}

/** Parses argv (as process.argv: node, script, args…); help and bad arguments end here. */
export function parseArgs(argv: readonly string[], io: CliIo): ParseResult {
  const program = buildProgram(io);
  try {
    program.parse(argv);
    return { kind: 'run', options: validate(program.opts<RawOptions>()) };
  } catch (e) {
    if (e instanceof CommanderError) return { kind: 'exit', code: e.exitCode === 0 ? 0 : 2 };
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n(see replay-dlq --help)\n`);
      return { kind: 'exit', code: 2 };
    }
    throw e;
  }
}
