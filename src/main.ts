// Process entry: parse the command line, then run the chosen command and choose the exit
// code. `run` (the default) starts the sink, `migrate` applies the migrations; replay-dlq,
// reset-offsets, status and config are the operator tools (src/cli/ops-commands.ts).
// Exit codes: 0 clean stop (also a stop during start-up), 1 runtime failure, 2 bad
// configuration or usage, 3 queue overflow with queue.overflow=error, 4 the drain did not
// finish within SHUTDOWN_TIMEOUT_MS (open transactions rolled back; what was not committed
// is re-read on restart), 5 reset-offsets refused because the group has live members
// (nothing changed; members that appear after sink_offsets moved exit 1), 130 a
// second signal (or a signal during `migrate`): exit at once. replay-dlq keeps its own codes.
// First: replaces KafkaJS's per-record decoder before anything loads kafkajs (see the module).
import './kafka/fast-record-decoder.js';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type LoadedConfig } from './config/load-config.js';
import { explainDatabaseConnectError, pgClientConfig } from './config/database-connection.js';
import { flagSettings, parseCommandLine, type CliOutput, type CommandLine } from './cli/command-line.js';
import { runConfig, runResetOffsets, runStatus, type OpsContext } from './cli/ops-commands.js';
import { main as replayMain } from './cli/replay-dlq.js';
import { EXIT_AT_ONCE, EXIT_DRAIN_TIMED_OUT, exitCodeFor } from './cli/exit-codes.js';
import { projectRoot } from './util/project-root.js';
import { createLogger, redactUrl, type Logger } from './core/logger.js';
import { startSink, type SinkHandle } from './app.js';
import { migrate } from './sink/migrate.js';
import { toError } from './core/errors.js';

/**
 * After a signal the sink bounds its drain by SHUTDOWN_TIMEOUT_MS, then rolls back and
 * leaves the group; this much more is allowed for that before the process exits regardless
 * (a broker or database that does not answer must not keep it alive).
 */
const EXIT_GRACE_MS = 3000;

function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** One line on stderr, no stack trace: what the operator needs to fix it. */
function die(log: Logger | null, e: unknown, what: string): never {
  const err = toError(e);
  const code = exitCodeFor(e);
  if (log) log.fatal({ code: (err as { code?: unknown }).code }, `${what}: ${err.message}`);
  else process.stderr.write(`market-data-sink: ${what}: ${err.message}\n`);
  process.exit(code);
}

async function runMigrate(loaded: LoadedConfig, log: Logger): Promise<void> {
  const { database, kafka } = loaded.config;
  const client = new pg.Client(pgClientConfig(database, { applicationName: `${kafka.clientId}:migrate` }));
  await client.connect().catch((e: unknown) => {
    throw explainDatabaseConnectError(e, database);
  });
  try {
    const applied = await migrate(client, loaded.config.database.schema, log);
    log.info(
      { applied, schema: loaded.config.database.schema },
      applied.length ? 'migrated' : 'schema up to date',
    );
  } finally {
    await client.end();
  }
}

/**
 * Ends after stdout has drained: output piped into another program is written in full. The
 * timer ends the process if a lingering socket would keep it alive.
 */
function finish(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}

/** An operator command: its exit code, or one line on stderr naming what failed. */
async function tool(what: string, fn: () => number | Promise<number>): Promise<void> {
  try {
    finish(await fn());
  } catch (e) {
    die(null, e, what);
  }
}

async function main(): Promise<void> {
  const io: CliOutput = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
  // Parsing touches nothing: --help, --version and usage errors end here.
  const cl = parseCommandLine(process.argv.slice(2), flagSettings(), packageVersion(), io);
  const ops: OpsContext = { env: process.env, io, tty: process.stdout.isTTY === true };
  switch (cl.kind) {
    case 'exit':
      return finish(cl.code);
    case 'replay-dlq':
      return tool('replay-dlq', () => replayMain(['node', 'replay-dlq', ...cl.argv], process.env));
    case 'config':
      return tool('config', () => runConfig(cl.args, cl.json, ops));
    case 'status':
      return tool('status', () => runStatus(cl.args, cl.options, ops));
    case 'reset-offsets':
      return tool('reset-offsets', () => runResetOffsets(cl.args, cl.options, ops));
    case 'run':
    case 'migrate':
      return runWorker(cl);
  }
}

async function runWorker(cl: Extract<CommandLine, { kind: 'run' | 'migrate' }>): Promise<void> {
  // Signals first, before anything starts: one during start-up aborts the start (what was
  // started is closed, the process exits 0) instead of killing the process mid-join.
  const stopRequested = new AbortController();
  let log: Logger | null = null;
  let onFirstSignal = (): void => undefined;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // Safe: nothing uncommitted is acknowledged anywhere; it is re-read on restart.
      if (log) log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(EXIT_AT_ONCE);
    }
    if (log) log.info({ signal: sig }, 'draining and stopping (send again to exit at once)');
    stopRequested.abort();
    onFirstSignal();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { kind: command, args } = cl;
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ args });
  } catch (e) {
    die(null, e, 'invalid configuration');
  }
  const logger = createLogger(loaded.config.log.level);
  log = logger;
  if (command === 'migrate') {
    // Each migration is one transaction: exiting mid-way rolls it back on the server.
    onFirstSignal = () => process.exit(EXIT_AT_ONCE);
    try {
      await runMigrate(loaded, logger);
      return;
    } catch (e) {
      die(logger, e, `migration failed (database ${redactUrl(loaded.config.database.url)})`);
    }
  }
  const timeoutMs = loaded.config.shutdown.timeoutMs;
  let handle: SinkHandle | null = null;
  onFirstSignal = () => {
    setTimeout(() => {
      logger.error(
        { timeoutMs, graceMs: EXIT_GRACE_MS },
        'did not stop within SHUTDOWN_TIMEOUT_MS and its grace: exiting; uncommitted records are re-read',
      );
      process.exit(EXIT_DRAIN_TIMED_OUT);
    }, timeoutMs + EXIT_GRACE_MS).unref();
    void handle?.stop();
  };
  logger.info({ config: loaded.redacted }, 'starting');
  try {
    handle = await startSink(loaded, { log: logger, signal: stopRequested.signal });
  } catch (e) {
    if (stopRequested.signal.aborted) {
      logger.info({ reason: toError(e).message }, 'stopped during start-up');
      process.exit(0);
    }
    die(logger, e, 'could not start');
  }
  try {
    await handle.done;
    process.exit(0);
  } catch (e) {
    die(logger, e, 'stopped');
  }
}

void main();
