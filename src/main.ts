// Process entry: load config, start the sink, handle signals, choose the exit code.
// `main.js migrate` only runs the migrations. Exit codes: 0 clean stop, 1 runtime failure,
// 2 bad configuration, 3 queue overflow with queue.overflow=error.
import pg from 'pg';
import { loadConfig, type LoadedConfig } from './config/load-config.js';
import { createLogger, redactUrl, type Logger } from './logger.js';
import { startSink } from './app.js';
import { migrate } from './sink/migrate.js';
import { ConfigError, SinkError, toError } from './errors.js';

function exitCodeFor(e: unknown): number {
  if (e instanceof ConfigError) return 2;
  if (e instanceof SinkError && e.code === 'QUEUE_OVERFLOW') return 3;
  return 1;
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
  const client = new pg.Client({
    connectionString: loaded.config.database.url,
    connectionTimeoutMillis: loaded.config.database.connectTimeoutMs,
  });
  await client.connect();
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

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const command = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : 'run';
  const args = command === 'run' && argv[0] !== 'run' ? argv : argv.slice(1);
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ args });
  } catch (e) {
    die(null, e, 'invalid configuration');
  }
  const log = createLogger(loaded.config.log.level);
  if (command === 'migrate') {
    try {
      await runMigrate(loaded, log);
      return;
    } catch (e) {
      die(log, e, `migration failed (database ${redactUrl(loaded.config.database.url)})`);
    }
  }
  if (command !== 'run')
    die(log, new ConfigError(`unknown command ${JSON.stringify(command)}; expected run or migrate`), 'usage');

  log.info({ config: loaded.redacted }, 'starting');
  let handle;
  try {
    handle = await startSink(loaded, { log });
  } catch (e) {
    die(log, e, 'could not start');
  }
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // Safe: nothing uncommitted is acknowledged anywhere; it is re-read on restart.
      log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(130);
    }
    log.info({ signal: sig }, 'draining and stopping (send again to exit at once)');
    void handle.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await handle.done;
    process.exit(0);
  } catch (e) {
    die(log, e, 'stopped');
  }
}

void main();
