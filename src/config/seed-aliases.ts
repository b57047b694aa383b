// The Python write coordinator's MDS_* variables, accepted in their own units (seconds
// where the seed used seconds) and translated to our env names before convict reads them.
// A seed name and our name that are both set and disagree stop the start: silently
// preferring one would hide a misconfiguration. A bad value given through a seed name is
// reported under that name and ours, since the operator only knows the one they set.
import { ConfigError } from '../core/errors.js';

type Convert = (raw: string, seedName: string, ours: string) => string;

const same: Convert = (raw) => raw;
const secondsToMs: Convert = (raw, seedName, ours) => {
  const n = Number(raw.trim());
  const ms = Math.round(n * 1000);
  if (raw.trim() === '' || !Number.isFinite(n) || ms < 1) {
    throw new ConfigError(
      `${seedName} (${ours}): expected a number of seconds >= 0.001 (e.g. 0.25), got ${JSON.stringify(raw)}`,
    );
  }
  return String(ms);
};

export interface SeedAlias {
  readonly seed: string;
  readonly ours: string;
  readonly convert: Convert;
  readonly note: string;
}

// [seed name, our env name, the seed's unit or form, conversion (default: as given)]
const TABLE: readonly (readonly [string, string, string, Convert?])[] = [
  ['MDS_COORDINATOR_CAPACITY', 'QUEUE_CAPACITY_RECORDS', 'records'],
  ['MDS_COORDINATOR_WORKERS', 'SINK_WORKERS', 'workers'],
  ['MDS_COORDINATOR_BATCH_SIZE', 'SINK_BATCH_SIZE', 'records'],
  ['MDS_COORDINATOR_FLUSH_INTERVAL', 'SINK_FLUSH_INTERVAL_MS', 'seconds → ms', secondsToMs],
  ['MDS_COORDINATOR_OVERFLOW', 'QUEUE_OVERFLOW', 'block | drop_oldest | error'],
  ['MDS_RETRY_MAX_ATTEMPTS', 'RETRY_MAX_ATTEMPTS', 'attempts'],
  ['MDS_RETRY_INITIAL_BACKOFF_MS', 'RETRY_INITIAL_BACKOFF_MS', 'ms'],
  ['MDS_RETRY_MAX_BACKOFF_MS', 'RETRY_MAX_BACKOFF_MS', 'ms'],
  ['MDS_RETRY_BACKOFF_MULTIPLIER', 'RETRY_BACKOFF_MULTIPLIER', 'factor'],
  ['MDS_RETRY_JITTER', 'RETRY_JITTER', 'true | false'],
  ['MDS_CB_FAILURE_THRESHOLD', 'CB_FAILURE_THRESHOLD', 'failures'],
  ['MDS_CB_HALF_OPEN_AFTER_SEC', 'CB_OPEN_MS', 'seconds → ms', secondsToMs],
  ['MDS_METRICS_QUEUE_POLL_SEC', 'METRICS_QUEUE_POLL_MS', 'seconds → ms', secondsToMs],
  ['MDS_DSN', 'DATABASE_URL', 'URL'],
  ['MDS_TENANT_ID', 'DEFAULT_TENANT_ID', 'UUID'],
];

export const SEED_ALIASES: readonly SeedAlias[] = TABLE.map(([seed, ours, note, convert]) => ({
  seed,
  ours,
  note,
  convert: convert ?? same,
}));

function normalise(v: string): string {
  const s = v.trim();
  const lower = s.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower;
  if (s !== '' && Number.isFinite(Number(s))) return String(Number(s));
  return s;
}

export interface TranslatedEnv {
  /** A copy of the environment with the seed names translated to ours. */
  readonly env: NodeJS.ProcessEnv;
  /** Our env name → the seed name its value came from. */
  readonly seedOf: ReadonlyMap<string, string>;
}

/** Translates the seed names; throws ConfigError on a conflict or a value in the wrong unit form. */
export function applySeedAliases(env: NodeJS.ProcessEnv): TranslatedEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  const seedOf = new Map<string, string>();
  for (const a of SEED_ALIASES) {
    const raw = env[a.seed];
    if (raw === undefined) continue;
    const converted = a.convert(raw, a.seed, a.ours);
    const ours = env[a.ours];
    if (ours !== undefined && normalise(ours) !== normalise(converted)) {
      const secret = a.ours === 'DATABASE_URL';
      const detail = secret
        ? ''
        : ` (${a.seed}=${JSON.stringify(raw)} means ${JSON.stringify(converted)}, ${a.ours}=${JSON.stringify(ours)})`;
      throw new ConfigError(`${a.seed} and ${a.ours} are both set and disagree${detail}; set only one`);
    }
    out[a.ours] = converted;
    seedOf.set(a.ours, a.seed);
  }
  return { env: out, seedOf };
}

/**
 * Rewrites each "key (OURS)" naming in a validation message as "SEED (OURS)" where the value
 * came through a seed name, so the message names the variable the operator actually set.
 */
export function nameSeedSources(message: string, seedOf: ReadonlyMap<string, string>): string {
  let out = message;
  for (const [ours, seed] of seedOf) {
    out = out.replace(new RegExp(`[A-Za-z0-9_.]+ \\(${ours}\\)`, 'g'), `${seed} (${ours})`);
  }
  return out;
}
