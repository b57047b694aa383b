// The Python write coordinator's MDS_* variables, accepted in their own units (seconds
// where the seed used seconds) and translated to our env names before convict reads them.
// A seed name and our name that are both set and disagree stop the start: silently
// preferring one would hide a misconfiguration.
import { ConfigError } from '../core/errors.js';

type Convert = (raw: string, seedName: string) => string;

const same: Convert = (raw) => raw;
const secondsToMs: Convert = (raw, seedName) => {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new ConfigError(
      `${seedName}: expected a number of seconds > 0 (e.g. 0.25), got ${JSON.stringify(raw)}`,
    );
  }
  return String(Math.round(n * 1000));
};

export interface SeedAlias {
  readonly seed: string;
  readonly ours: string;
  readonly convert: Convert;
  readonly note: string;
}

export const SEED_ALIASES: readonly SeedAlias[] = [
  { seed: 'MDS_COORDINATOR_CAPACITY', ours: 'QUEUE_CAPACITY_RECORDS', convert: same, note: 'records' },
  { seed: 'MDS_COORDINATOR_WORKERS', ours: 'SINK_WORKERS', convert: same, note: 'workers' },
  { seed: 'MDS_COORDINATOR_BATCH_SIZE', ours: 'SINK_BATCH_SIZE', convert: same, note: 'records' },
  {
    seed: 'MDS_COORDINATOR_FLUSH_INTERVAL',
    ours: 'SINK_FLUSH_INTERVAL_MS',
    convert: secondsToMs,
    note: 'seconds → ms',
  },
  {
    seed: 'MDS_COORDINATOR_OVERFLOW',
    ours: 'QUEUE_OVERFLOW',
    convert: same,
    note: 'block | drop_oldest | error',
  },
  { seed: 'MDS_RETRY_MAX_ATTEMPTS', ours: 'RETRY_MAX_ATTEMPTS', convert: same, note: 'attempts' },
  { seed: 'MDS_RETRY_INITIAL_BACKOFF_MS', ours: 'RETRY_INITIAL_BACKOFF_MS', convert: same, note: 'ms' },
  { seed: 'MDS_RETRY_MAX_BACKOFF_MS', ours: 'RETRY_MAX_BACKOFF_MS', convert: same, note: 'ms' },
  { seed: 'MDS_RETRY_BACKOFF_MULTIPLIER', ours: 'RETRY_BACKOFF_MULTIPLIER', convert: same, note: 'factor' },
  { seed: 'MDS_RETRY_JITTER', ours: 'RETRY_JITTER', convert: same, note: 'true | false' },
  { seed: 'MDS_CB_FAILURE_THRESHOLD', ours: 'CB_FAILURE_THRESHOLD', convert: same, note: 'failures' },
  { seed: 'MDS_CB_HALF_OPEN_AFTER_SEC', ours: 'CB_OPEN_MS', convert: secondsToMs, note: 'seconds → ms' },
  {
    seed: 'MDS_METRICS_QUEUE_POLL_SEC',
    ours: 'METRICS_QUEUE_POLL_MS',
    convert: secondsToMs,
    note: 'seconds → ms',
  },
  { seed: 'MDS_DSN', ours: 'DATABASE_URL', convert: same, note: 'URL' },
  { seed: 'MDS_TENANT_ID', ours: 'DEFAULT_TENANT_ID', convert: same, note: 'UUID' },
];

function normalise(v: string): string {
  const s = v.trim();
  const lower = s.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower;
  if (s !== '' && Number.isFinite(Number(s))) return String(Number(s));
  return s;
}

/** Returns a copy of env with the seed names translated; throws ConfigError on a conflict. */
export function applySeedAliases(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const a of SEED_ALIASES) {
    const raw = env[a.seed];
    if (raw === undefined) continue;
    const converted = a.convert(raw, a.seed);
    const ours = env[a.ours];
    if (ours !== undefined && normalise(ours) !== normalise(converted)) {
      const secret = a.ours === 'DATABASE_URL';
      const detail = secret
        ? ''
        : ` (${a.seed}=${JSON.stringify(raw)} means ${JSON.stringify(converted)}, ${a.ours}=${JSON.stringify(ours)})`;
      throw new ConfigError(`${a.seed} and ${a.ours} are both set and disagree${detail}; set only one`);
    }
    out[a.ours] = converted;
  }
  return out;
}
