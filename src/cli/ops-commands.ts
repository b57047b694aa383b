// The operator commands' process side: load config, open the Kafka admin client and the
// database through the sink's own factories (so TLS/SASL settings apply alike), call src/ops/,
// print, return the exit code. A terminal gets tables, anything else (or --json) gets JSON.
import path from 'node:path';
import pino from 'pino';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { loadConfig, type LoadedConfig } from '../config/load-config.js';
import { createLogger, type Logger } from '../core/logger.js';
import { checkKafkaSecurity, createKafka } from '../kafka/kafka-client.js';
import { withAdmin } from '../kafka/admin.js';
import { createControlPool } from '../app/components.js';
import { projectRoot } from '../util/project-root.js';
import { configFiles, configReport, formatConfigReport } from '../ops/config-report.js';
import { formatGroupStatus, groupStatus } from '../ops/group-status.js';
import { formatMoves, resetOffsets } from '../ops/reset-offsets.js';
import type { CliOutput, ResetOptions, StatusOptions } from './command-line.js';

export interface OpsContext {
  readonly env: NodeJS.ProcessEnv;
  readonly io: CliOutput;
  /** Whether stdout is a terminal: tables there, JSON elsewhere. */
  readonly tty: boolean;
}

export function runConfig(args: string[], json: boolean, c: OpsContext): number {
  const loaded = loadConfig({ env: c.env, args });
  const files = configFiles(path.join(projectRoot(), 'config'), loaded.config.env);
  const entries = configReport(loaded, { env: c.env, args, files });
  c.io.out(
    json || !c.tty ? `${JSON.stringify({ settings: entries }, null, 2)}\n` : formatConfigReport(entries),
  );
  return 0;
}

export async function runStatus(args: string[], o: StatusOptions, c: OpsContext): Promise<number> {
  return withConnections(args, c, async (loaded, admin, db) => {
    const topics = o.topics ?? [...loaded.mappings.keys()];
    const s = await groupStatus(
      admin,
      db,
      loaded.config.database.schema,
      o.group ?? loaded.config.kafka.groupId,
      topics,
    );
    c.io.out(o.json || !c.tty ? `${JSON.stringify(s, null, 2)}\n` : formatGroupStatus(s));
    return 0;
  });
}

export async function runResetOffsets(args: string[], o: ResetOptions, c: OpsContext): Promise<number> {
  return withConnections(args, c, async (loaded, admin, db) => {
    const req = {
      groupId: o.group,
      topic: o.topic,
      partition: o.partition,
      target: o.target,
      execute: o.execute,
    };
    const moves = await resetOffsets(req, { admin, db, schema: loaded.config.database.schema });
    c.io.out(formatMoves(req, moves));
    return 0;
  });
}

/** Runs `fn` with an admin client and a small pool, and closes both whatever happens. */
async function withConnections(
  args: string[],
  c: OpsContext,
  fn: (loaded: LoadedConfig, admin: Admin, db: pg.Pool) => Promise<number>,
): Promise<number> {
  const loaded = loadConfig({ env: c.env, args });
  // Logs go to stderr: stdout is the command's answer, often piped into jq.
  const log: Logger = createLogger(loaded.config.log.level, pino.destination(2));
  // One probe without KafkaJS's retries: a TLS or SASL misconfiguration is one line in about
  // a second instead of the admin client's ~20 s of retries.
  await checkKafkaSecurity(loaded.config, log);
  const db = createControlPool(loaded.config);
  try {
    return await withAdmin(createKafka(loaded.config, log, '-ops'), (admin) => fn(loaded, admin, db));
  } finally {
    await db.end().catch(() => undefined);
  }
}
