// The one place a PostgreSQL connection is described: DATABASE_URL and the database.ssl*
// settings become a pg client config, used by the control pool, every worker connection and
// `migrate`. The URL is parsed here, not by node-postgres, because pg 8 gives sslmode=require
// the meaning of verify-full and reads certificate files itself; we give sslmode libpq's
// meaning and read the files once, with errors naming the setting.
import type tls from 'node:tls';
import type pg from 'pg';
import { ConfigError, DatabaseError } from '../core/errors.js';
import type { SettingsOf, schema } from './schema.js';
import { loadTlsMaterial, UNTRUSTED_CERT_CODES } from './tls-material.js';

type DatabaseSettings = SettingsOf<typeof schema>['database'];
type SslMode = Exclude<DatabaseSettings['sslMode'], ''>;
const SSL_MODES: readonly string[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

interface ParsedUrl {
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
  database: string | undefined;
  options: string | undefined;
  params: URLSearchParams;
}

const URL_FORM = 'postgres://user[:password]@host[:port]/database or postgres:///database?host=/socket/dir';

/**
 * libpq's URL forms: a TCP host, a Unix-socket directory as ?host=/dir or as a
 * percent-encoded host (postgresql://%2Fvar%2Frun%2Fpostgresql/db). Throws without echoing
 * the URL, which may hold a password.
 */
export function parseDatabaseUrl(url: string): ParsedUrl {
  // A password holding / ? # or @ unencoded ends the authority early: postgres://u:12345/abc@h/db
  // would parse as host u, port 12345 and no password, and the password would be logged as
  // part of the path. An @ after the authority means exactly that.
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*[/?#].*@/is.test(url)) {
    throw new Error(
      `expected ${URL_FORM}; characters / ? # @ in a password must be percent-encoded (%2F %3F %23 %40)`,
    );
  }
  let u: URL;
  // WHATWG URLs refuse user info without a host (postgres://user@/db?host=/dir), libpq takes it.
  const hostless = /^postgres(?:ql)?:\/\/[^/@]*@\//.test(url);
  try {
    u = new URL(hostless ? url.replace('@/', '@hostless.invalid/') : url);
  } catch {
    throw new Error(`expected ${URL_FORM}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`expected ${URL_FORM}`);
  const q = u.searchParams;
  const urlHost = hostless ? '' : decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1');
  const host = q.get('host') ?? urlHost;
  if (host === '') throw new Error(`expected ${URL_FORM}`);
  const port = Number(q.get('port') ?? (u.port || '5432'));
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`expected ${URL_FORM} (a port 1-65535)`);
  const opt = (v: string | null): string | undefined => (v === null || v === '' ? undefined : v);
  return {
    host,
    port,
    user: opt(decodeURIComponent(u.username)) ?? opt(q.get('user')),
    password: opt(decodeURIComponent(u.password)) ?? opt(q.get('password')),
    database: opt(decodeURIComponent(u.pathname.slice(1))) ?? opt(q.get('dbname')),
    options: opt(q.get('options')),
    params: q,
  };
}

/** One TLS setting: our env var, the URL's parameter, and libpq's env var read by psql & co. */
interface SslSetting {
  readonly ours: string;
  readonly label: string;
  readonly urlParam: string;
  /** Absent where libpq has none (sslpassword, the secret one). */
  readonly pgEnv?: string;
  /** A conflict is reported without the values. */
  readonly secret?: boolean;
}

/** The setting `database.<key>` read from `ours`, the URL's `urlParam` and libpq's `pgEnv`. */
function sslSetting(key: string, ours: string, urlParam: string, pgEnv?: string): SslSetting {
  const base = { ours, label: `database.${key} (${ours})`, urlParam };
  return pgEnv === undefined ? { ...base, secret: true } : { ...base, pgEnv };
}

const MODE = sslSetting('sslMode', 'DATABASE_SSL_MODE', 'sslmode', 'PGSSLMODE');
const CA = sslSetting('sslCaFile', 'DATABASE_SSL_CA_FILE', 'sslrootcert', 'PGSSLROOTCERT');
const CERT = sslSetting('sslCertFile', 'DATABASE_SSL_CERT_FILE', 'sslcert', 'PGSSLCERT');
const KEY = sslSetting('sslKeyFile', 'DATABASE_SSL_KEY_FILE', 'sslkey', 'PGSSLKEY');
// libpq has no variable for sslpassword; it is the one secret among these.
const PASSPHRASE = sslSetting('sslKeyPassphrase', 'DATABASE_SSL_KEY_PASSPHRASE', 'sslpassword');

/**
 * A setting's value and the name to blame for it. Our env var and the URL's parameter must
 * agree when both are given; libpq's PG* variable is the lowest precedence, as in libpq (the
 * URL wins over it), so an environment set up for psql means the same here.
 */
function resolve(
  s: SslSetting,
  value: string,
  url: ParsedUrl,
  env: NodeJS.ProcessEnv,
): { value: string; label: string } {
  const fromUrl = url.params.get(s.urlParam) ?? '';
  if (value !== '' && fromUrl !== '' && fromUrl !== value) {
    const got =
      s.secret === true ? 'two different values' : `${JSON.stringify(value)} and ${JSON.stringify(fromUrl)}`;
    throw new ConfigError(
      `${s.ours} and DATABASE_URL's ${s.urlParam}: expected one of them or the same value, got ${got}`,
    );
  }
  if (value !== '' || fromUrl !== '') return { value: value || fromUrl, label: s.label };
  const pgValue = s.pgEnv === undefined ? '' : (env[s.pgEnv] ?? '');
  return { value: pgValue, label: pgValue === '' || s.pgEnv === undefined ? s.label : s.pgEnv };
}

/** The ssl option of pg: false, or node:tls options with libpq's sslmode semantics. */
function sslOptions(
  db: DatabaseSettings,
  url: ParsedUrl,
  env: NodeJS.ProcessEnv,
): false | tls.ConnectionOptions {
  const chosen = resolve(MODE, db.sslMode, url, env);
  const mode = chosen.value || 'disable';
  if (!SSL_MODES.includes(mode)) {
    const who = chosen.label === MODE.label ? 'database.url (DATABASE_URL): sslmode' : chosen.label + ':';
    throw new ConfigError(`${who} expected one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  if (mode === 'prefer' || mode === 'allow') {
    throw new ConfigError(
      `${chosen.label}: ${mode} is not supported (node-postgres cannot fall back between TLS and plaintext); expected disable, require, verify-ca or verify-full`,
    );
  }
  const file = (s: SslSetting, value: string): { file: string; label: string } => {
    const r = resolve(s, value, url, env);
    return { file: r.value, label: r.label };
  };
  const material = loadTlsMaterial({
    ca: file(CA, db.sslCaFile),
    cert: file(CERT, db.sslCertFile),
    key: file(KEY, db.sslKeyFile),
    passphrase: { value: resolve(PASSPHRASE, db.sslKeyPassphrase, url, env).value, label: PASSPHRASE.label },
  });
  // libpq never uses TLS over a Unix socket; the kernel already authenticates the peer.
  if (mode === 'disable' || url.host.startsWith('/')) return false;
  if (mode === 'verify-ca' && material.ca === undefined) {
    // Without a CA of its own, verify-ca would trust the system store and check no host name:
    // any publicly trusted certificate for any domain would pass. libpq refuses it too.
    throw new ConfigError(
      'database.sslMode (DATABASE_SSL_MODE): verify-ca needs DATABASE_SSL_CA_FILE or sslrootcert; with a public CA use verify-full',
    );
  }
  return tlsFor(mode as SslMode, material);
}

function tlsFor(mode: SslMode, material: tls.ConnectionOptions): tls.ConnectionOptions {
  const skipHostCheck = { checkServerIdentity: (): undefined => undefined };
  // libpq: require with a root CA behaves as verify-ca.
  if (mode === 'require' && material.ca === undefined) return { ...material, rejectUnauthorized: false };
  if (mode === 'require' || mode === 'verify-ca')
    return { ...material, rejectUnauthorized: true, ...skipHostCheck };
  return { ...material, rejectUnauthorized: true };
}

export interface ConnectionPurpose {
  /** application_name, seen in pg_stat_activity. */
  readonly applicationName: string;
  /** Set statement_timeout from database.statementTimeoutMs (the sink's writers). */
  readonly statementTimeout?: boolean;
}

/**
 * The pg client config of every connection the sink opens. Throws ConfigError. `env` is where
 * libpq's PGSSL* variables are read, the process environment as pg reads PGUSER and PGPASSWORD.
 */
export function pgClientConfig(
  db: DatabaseSettings,
  purpose: ConnectionPurpose,
  env: NodeJS.ProcessEnv = process.env,
): pg.ClientConfig {
  let url: ParsedUrl;
  try {
    url = parseDatabaseUrl(db.url);
  } catch (e) {
    throw new ConfigError(`database.url (DATABASE_URL): ${(e as Error).message}`);
  }
  const config: pg.ClientConfig = {
    host: url.host,
    port: url.port,
    ssl: sslOptions(db, url, env),
    connectionTimeoutMillis: db.connectTimeoutMs,
    application_name: purpose.applicationName,
  };
  if (url.user !== undefined) config.user = url.user;
  if (url.password !== undefined) config.password = url.password;
  if (url.database !== undefined) config.database = url.database;
  if (url.options !== undefined) config.options = url.options;
  if (purpose.statementTimeout === true && db.statementTimeoutMs > 0)
    config.statement_timeout = db.statementTimeoutMs;
  return config;
}

/**
 * A failed connect caused by the TLS settings or pg_hba's encryption rules, as a
 * non-retriable DatabaseError whose one line names the setting; any other error unchanged.
 */
export function explainDatabaseConnectError(e: unknown, db: DatabaseSettings): unknown {
  if (!(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  let mode: string = db.sslMode;
  try {
    mode ||= parseDatabaseUrl(db.url).params.get('sslmode') ?? '';
  } catch {
    // an unparseable URL never got as far as connecting
  }
  mode ||= 'disable';
  let why: string | undefined;
  if (typeof code === 'string' && UNTRUSTED_CERT_CODES.has(code)) {
    why = `database.sslCaFile (DATABASE_SSL_CA_FILE): the server's certificate is not signed by a trusted CA (${e.message})`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    why = `database.sslMode (DATABASE_SSL_MODE): verify-full, and the server's certificate does not name the host (${e.message}); connect by a name it holds or use verify-ca`;
  } else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    why = `database.url (DATABASE_URL): the server's certificate is not valid now (${e.message})`;
  } else if (/does not support SSL/i.test(e.message)) {
    why = `database.sslMode (DATABASE_SSL_MODE): ${mode} needs TLS and the server does not offer it (${e.message})`;
  } else if (code === '28000' && /no encryption/.test(e.message)) {
    why = `database.sslMode (DATABASE_SSL_MODE): the server refuses unencrypted connections and sslmode is ${mode} (${e.message}); expected require, verify-ca or verify-full`;
  } else if (code === '28000' && /certificate/i.test(e.message)) {
    why = `database.sslCertFile (DATABASE_SSL_CERT_FILE): the server wants a valid client certificate (${e.message})`;
  }
  return why === undefined
    ? e
    : new DatabaseError('DATABASE_SECURITY', why, false, typeof code === 'string' ? code : undefined, e);
}
