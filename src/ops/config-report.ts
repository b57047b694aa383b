// config (the command): every setting's effective value and where it came from, following
// loadConfig's layers (schema default < config/default.json < config/<NODE_ENV>.json <
// environment, where X_FILE stands in for a secret X and a seed MDS_* name for ours <
// command-line flag). Sensitive
// settings are never printed: a URL keeps its host, port and database, other secrets show
// only whether they are set.
import fs from 'node:fs';
import path from 'node:path';
import { schemaLeaves, type LoadedConfig } from '../config/load-config.js';
import { SEED_ALIASES } from '../config/seed-aliases.js';
import { redactUrl } from '../core/logger.js';
import { textTable } from './text-table.js';

export type ConfigSource = 'default' | 'file' | 'env' | 'file secret' | 'seed env' | 'flag';

export interface ConfigEntry {
  readonly key: string;
  readonly env: string | null;
  readonly value: unknown;
  readonly source: ConfigSource;
  /** The file, variable or flag that set it; null for a default. */
  readonly from: string | null;
}

export interface ConfigInputs {
  /** The environment as given (seed names untranslated). */
  readonly env: NodeJS.ProcessEnv;
  /** convict's arguments, as loadConfig got them (--dotted-key value). */
  readonly args: readonly string[];
  /** The config files loadConfig read, in order. */
  readonly files: readonly string[];
}

/** The files loadConfig reads for this config, in order (those that exist). */
export function configFiles(configDir: string, nodeEnv: string): string[] {
  return [path.join(configDir, 'default.json'), path.join(configDir, `${nodeEnv}.json`)].filter((f) =>
    fs.existsSync(f),
  );
}

export function configReport(loaded: LoadedConfig, inputs: ConfigInputs): ConfigEntry[] {
  const files = inputs.files.map((f) => ({ f, data: JSON.parse(fs.readFileSync(f, 'utf8')) as unknown }));
  const out: ConfigEntry[] = [];
  for (const [key, leaf] of schemaLeaves()) {
    const raw = valueAt(loaded.config, key);
    const value = leaf.sensitive === true ? redacted(raw) : raw;
    const env = leaf.env ?? null;
    const flag = leaf.arg === undefined ? undefined : `--${leaf.arg}`;
    const seed = SEED_ALIASES.find((a) => a.ours === env && inputs.env[a.seed] !== undefined);
    // A sensitive setting also reads X_FILE (config/secret-files.ts): the variable that holds
    // the path is the source; the path itself is not secret but the report does not need it.
    const secretFile =
      leaf.sensitive === true && env !== null && (inputs.env[`${env}_FILE`] ?? '') !== ''
        ? `${env}_FILE`
        : undefined;
    const file = [...files].reverse().find(({ data }) => valueAt(data, key) !== undefined);
    const [source, from]: [ConfigSource, string | null] =
      flag !== undefined && inputs.args.some((a) => a === flag || a.startsWith(`${flag}=`))
        ? ['flag', flag]
        : env !== null && inputs.env[env] !== undefined
          ? ['env', env]
          : secretFile !== undefined
            ? ['file secret', secretFile]
            : seed !== undefined
              ? ['seed env', seed.seed]
              : file !== undefined
                ? ['file', file.f]
                : ['default', null];
    out.push({ key, env, value, source, from });
  }
  return out;
}

export function formatConfigReport(entries: readonly ConfigEntry[]): string {
  const rows = entries.map((e) => [
    e.key,
    e.env ?? '',
    typeof e.value === 'string' ? e.value : JSON.stringify(e.value),
    e.from === null || e.source === 'file' ? e.source : `${e.source} ${e.from}`,
  ]);
  return textTable(['setting', 'env', 'value', 'source'], rows);
}

function redacted(value: unknown): unknown {
  if (value === '' || value === undefined) return value;
  // A connection URL: which server is worth seeing, the password is not.
  if (typeof value === 'string' && /^[a-z]+:\/\//i.test(value)) return redactUrl(value);
  return '[redacted]';
}

function valueAt(tree: unknown, key: string): unknown {
  let node: unknown = tree;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object' || !(part in node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
