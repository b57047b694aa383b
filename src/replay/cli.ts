// `replay-dlq`: the operator's command to send dead letters back to their topics, or with
// --reconcile to compare the DLQ topic with the NDJSON files (and --repair the topic). Wires
// the sources to the replay or reconcile core (flags: cli-args.ts), shows progress and prints
// the summary. Exit 0 done, 1 failed (or undecodable dead letters), 2 bad arguments or
// settings, 3 the destinations differ (reconcile), 130 interrupted (what was sent is committed).
import type { Kafka } from 'kafkajs';
import fs from 'node:fs';
import pino from 'pino';
import { loadConfig, type KafkaClientConfig } from '../config/load-config.js';
import { schema } from '../config/schema.js';
import { ConfigError, toError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { NdjsonDeadLetterSource } from '../dlq/file/reader.js';
import type { DeadLetterSource } from '../dlq/source.js';
import { TopicDeadLetterSource } from '../dlq/topic/reader.js';
import { KafkaTopicDeadLetterSink } from '../dlq/topic/writer.js';
import { createKafka } from '../kafka/kafka-client.js';
import { progress, type Progress } from '../util/progress.js';
import { parseArgs, type CliIo, type ReplayCliOptions } from './cli-args.js';
import { formatCounts, formatSummary } from './format.js';
import { KafkaReplayTarget } from './kafka-target.js';
import { formatDiff, formatMissing, reconcile, topicReader } from './reconcile.js';
import { replay, type ReplayCounts } from './replay.js';

/** No progress output at all (a dry run's lines on a terminal would be torn up by a bar). */
const NO_PROGRESS: Progress = { update: () => undefined, stop: () => undefined };

/**
 * A bar's line has room for the main counts; a plain line (a log, a pipe) is read later and
 * gets all of them, as the summary has.
 */
function showCounts(p: Progress, c: Readonly<ReplayCounts>, terminal: boolean): void {
  p.update(c.entries, {
    ...(c.expected === undefined ? {} : { total: c.expected }),
    detail: terminal
      ? `matched ${c.matched} | replayed ${c.replayed} | skipped ${c.skipped}`
      : formatCounts(c),
  });
}

/**
 * The worker's Kafka settings (config files, environment) with this command's flags on top:
 * the Kafka client is the worker's, so every connection setting (TLS, SASL) applies here too.
 * A flag is passed only when given: a convict argument outranks the config files. Only the
 * kafka, dlq and log settings are read and checked (scope 'kafka-client'): one this command
 * does not use must not stop it. A bad one is reported as one line; undefined then (exit 2).
 */
function kafkaSettings(
  o: ReplayCliOptions,
  env: NodeJS.ProcessEnv,
  io: CliIo,
  configDir: string | undefined,
): KafkaClientConfig | undefined {
  const args: string[] = [];
  if (o.brokers !== undefined) args.push('--kafka-brokers', o.brokers.join(','));
  if (o.dlqTopic !== undefined) args.push('--dlq-topic', o.dlqTopic);
  if (o.logLevel !== undefined) args.push('--log-level', o.logLevel);
  try {
    return loadConfig({ env, args, scope: 'kafka-client', ...(configDir === undefined ? {} : { configDir }) })
      .config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.err(`error: ${e.message}\n`);
    return undefined;
  }
}

/** The replay's client: the worker's factory, its client id suffixed so broker logs tell them apart. */
function replayKafka(config: KafkaClientConfig, logger: Logger): Kafka {
  return createKafka(config, logger, '-replay');
}

export interface ReplayMainOptions {
  /** The config files' directory (default: the project's config/). */
  readonly configDir?: string;
  /** Where the output and the error lines go (default: stdout, stderr). */
  readonly io?: CliIo;
}

/**
 * Runs replay-dlq and resolves with its exit code. `argv` is as process.argv (node, script,
 * flags…); settings not given as flags come from `env` and the config files.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  options: ReplayMainOptions = {},
): Promise<number> {
  const io: CliIo = options.io ?? {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  };
  const parsed = parseArgs(argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const o = parsed.options;
  if (o.mode === 'reconcile') {
    const config = kafkaSettings(o, env, io, options.configDir);
    if (config === undefined) return 2;
    if (o.files === undefined && !fs.existsSync(config.dlq.dir)) {
      io.err(`error: dlq.dir (${schema.dlq.dir.env}): no such directory: ${config.dlq.dir}\n`);
      return 2;
    }
    const root = createLogger(config.log.level, pino.destination(2));
    const files = o.files ?? [config.dlq.dir];
    return runReconcile({ ...o, files }, config.dlq.topic, io, replayKafka(config, root), root);
  }
  // A dry run from files talks to no broker, so it reads no settings at all.
  let config: KafkaClientConfig | undefined;
  if (o.source.kind === 'topic' || !o.dryRun) {
    config = kafkaSettings(o, env, io, options.configDir);
    if (config === undefined) return 2;
  }
  const root = createLogger(config?.log.level ?? o.logLevel ?? schema.log.level.default, pino.destination(2));
  const logger = root.child({ component: 'replay-dlq' });
  // config (and so kafka) is there whenever the source is the topic or the run sends.
  const kafka = config === undefined ? undefined : replayKafka(config, root);
  const source: DeadLetterSource =
    o.source.kind === 'files'
      ? new NdjsonDeadLetterSource({ paths: o.source.paths })
      : new TopicDeadLetterSource({
          kafka: kafka!,
          topic: config!.dlq.topic,
          groupId: o.group,
          logger,
          idleTimeoutMs: o.idleTimeoutMs,
          commit: !o.dryRun,
        });
  const target = o.dryRun ? undefined : new KafkaReplayTarget({ kafka: kafka!, logger });

  // This is a process entry like main.ts: the first signal stops after the record in
  // progress (what was sent is committed), a second one exits at once.
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (abort.signal.aborted) process.exit(130);
    io.err(`${signal}: stopping after the current record (again to exit now)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Dry-run lines on a terminal would be torn up by a bar redrawing on the same screen.
  const bar =
    o.dryRun && process.stdout.isTTY === true
      ? NO_PROGRESS
      : progress('replay progress', undefined, process.stderr);
  const terminal = process.stderr.isTTY === true;
  try {
    await target?.start();
    const summary = await replay(
      {
        filter: o.filter,
        dryRun: o.dryRun,
        signal: abort.signal,
        ...(o.limit === undefined ? {} : { limit: o.limit }),
        ...(o.rate === undefined ? {} : { rate: o.rate }),
        ...(o.toTopic === undefined ? {} : { toTopic: o.toTopic }),
      },
      {
        source,
        ...(target === undefined ? {} : { target }),
        logger,
        progress: (c) => showCounts(bar, c, terminal),
        output: (line) => io.out(`${line}\n`),
      },
    );
    bar.stop();
    io.out(`${formatSummary(summary)}\n`);
    // Interrupted: what was sent is committed, but the run is not complete (shell convention).
    if (summary.stoppedBy === 'abort') return 130;
    if (summary.invalid > 0) {
      io.err(
        `error: ${summary.invalid} dead letters could not be decoded and were not replayed (see the warnings)\n`,
      );
      return 1;
    }
    return 0;
  } catch (e) {
    bar.stop();
    logger.error({ err: toError(e) }, 'replay failed');
    io.err(`error: ${toError(e).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await target?.close().catch(() => undefined);
  }
}

/** --reconcile: compare, list, optionally repair; 0 when both hold every record, 3 when not. */
async function runReconcile(
  o: ReplayCliOptions & { readonly files: readonly string[] },
  dlqTopic: string,
  io: CliIo,
  kafka: Kafka,
  root: Logger,
): Promise<number> {
  const logger = root.child({ component: 'replay-dlq-reconcile' });
  const topicSink = o.repair ? new KafkaTopicDeadLetterSink({ kafka, topic: dlqTopic, logger }) : undefined;
  try {
    await topicSink?.start();
    const result = await reconcile(
      { filter: o.filter, repair: o.repair },
      {
        // A whole-topic read joins a group of its own first: give it more than the idle timeout.
        readTopic: topicReader(kafka, dlqTopic, logger, Math.max(o.idleTimeoutMs, 30_000)),
        files: new NdjsonDeadLetterSource({ paths: o.files }),
        ...(topicSink === undefined ? {} : { topicSink }),
        logger,
      },
    );
    const { first, last } = result;
    for (const d of first.missingFromTopic) io.out(`${formatMissing('topic', d)}\n`);
    for (const d of first.missingFromFiles) io.out(`${formatMissing('files', d)}\n`);
    io.out(`reconcile: ${formatDiff(first)}\n`);
    if (o.repair) {
      io.out(`repair: ${result.repaired} entries sent to ${dlqTopic}; read back: ${formatDiff(last)}\n`);
    }
    if (last.missingFromTopic.length > 0 || last.missingFromFiles.length > 0) {
      if (last.missingFromFiles.length > 0)
        io.err(`error: ${last.missingFromFiles.length} entries of the topic are not in the files\n`);
      if (last.missingFromTopic.length > 0)
        io.err(
          `error: ${last.missingFromTopic.length} entries of the files are not in the topic${o.repair ? ' after the repair' : ' (--repair sends them)'}\n`,
        );
      return 3;
    }
    if (first.topic.invalid + first.files.invalid > 0) {
      io.err('error: some dead letters could not be decoded and were not compared (see the warnings)\n');
      return 1;
    }
    return 0;
  } catch (e) {
    io.err(`error: ${toError(e).message}\n`);
    return 1;
  } finally {
    await topicSink?.close().catch(() => undefined);
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
    // A lingering socket must not keep a finished command alive.
    setTimeout(() => process.exit(code), 2000).unref();
  });
}
