// The one pg client config: libpq's sslmode meaning (pg 8 alone would verify the host on
// `require`), certificate files read at load with errors naming the setting, Unix sockets.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type tls from 'node:tls';
import { pgClientConfig } from '../../../src/config/database-connection.js';
import { configErrorOf, loadWith } from '../../helpers/config-errors.js';
import { createTestPki, KEY_PASSPHRASE } from '../../helpers/test-pki.js';

const pki = createTestPki();
after(() => pki.remove());

function pgConfig(env: Record<string, string>) {
  return pgClientConfig(loadWith(env).config.database, { applicationName: 'unit' });
}

const errorOf = (env: Record<string, string>): string => configErrorOf(() => pgConfig(env));

/** What the ssl option does: off, encrypt only, chain checked, chain and host checked. */
function verdict(ssl: unknown): string {
  if (ssl === false) return 'off';
  const o = ssl as tls.ConnectionOptions;
  if (o.rejectUnauthorized === false) return `encrypt${o.ca ? '+ca' : ''}`;
  return `${o.checkServerIdentity ? 'verify-ca' : 'verify-full'}${o.ca ? '+ca' : ''}`;
}

test('sslmode has libpq meaning, from DATABASE_SSL_MODE or the URL', () => {
  const base = 'postgres://u:p@db.example:5433/md';
  const cases: [Record<string, string>, string][] = [
    [{ DATABASE_URL: base }, 'off'],
    [{ DATABASE_URL: `${base}?sslmode=disable` }, 'off'],
    [{ DATABASE_URL: `${base}?sslmode=require` }, 'encrypt'],
    [{ DATABASE_URL: base, DATABASE_SSL_MODE: 'require' }, 'encrypt'],
    // libpq: require with a root CA behaves as verify-ca.
    [{ DATABASE_URL: `${base}?sslmode=require&sslrootcert=${pki.caCert}` }, 'verify-ca+ca'],
    [
      { DATABASE_URL: base, DATABASE_SSL_MODE: 'verify-ca', DATABASE_SSL_CA_FILE: pki.caCert },
      'verify-ca+ca',
    ],
    [{ DATABASE_URL: `${base}?sslmode=verify-full` }, 'verify-full'],
    [
      { DATABASE_URL: base, DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: pki.caCert },
      'verify-full+ca',
    ],
  ];
  for (const [env, want] of cases) assert.equal(verdict(pgConfig(env).ssl), want, JSON.stringify(env));
});

test('host, port, user, password and database come from the URL, percent-decoded', () => {
  const c = pgConfig({
    DATABASE_URL: 'postgresql://sink:p%40ss%2Fw@[::1]:6543/market%20data?options=-c%20x%3D1',
  });
  assert.deepEqual(
    {
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      database: c.database,
      options: c.options,
    },
    { host: '::1', port: 6543, user: 'sink', password: 'p@ss/w', database: 'market data', options: '-c x=1' },
  );
  assert.equal(c.application_name, 'unit');
});

test('Unix-socket URLs are accepted; TLS is never used over a socket (as libpq)', () => {
  for (const url of [
    'postgres:///md?host=/var/run/postgresql',
    'postgresql://%2Fvar%2Frun%2Fpostgresql/md',
    'postgres://sink@/md?host=/var/run/postgresql&sslmode=require',
  ]) {
    const c = pgConfig({ DATABASE_URL: url });
    assert.equal(c.host, '/var/run/postgresql', url);
    assert.equal(c.database, 'md', url);
    assert.equal(c.ssl, false, url);
  }
});

test('client certificate files are read; the URL and the env var must agree', () => {
  const c = pgConfig({
    DATABASE_URL: `postgres://u@h/md?sslmode=verify-full&sslcert=${pki.clientCert}&sslkey=${pki.clientKey}`,
    DATABASE_SSL_CA_FILE: pki.caCert,
  });
  const ssl = c.ssl as tls.ConnectionOptions;
  assert.equal(ssl.cert, fs.readFileSync(pki.clientCert, 'utf8'));
  assert.equal(ssl.key, fs.readFileSync(pki.clientKey, 'utf8'));
  assert.equal(
    errorOf({ DATABASE_URL: 'postgres://u@h/md?sslmode=require', DATABASE_SSL_MODE: 'verify-full' }),
    `DATABASE_SSL_MODE and DATABASE_URL's sslmode: expected one of them or the same value, got "verify-full" and "require"`,
  );
});

test('misconfigurations are one line naming the setting', () => {
  assert.match(
    errorOf({ DATABASE_SSL_MODE: 'prefer' }),
    /^database\.sslMode \(DATABASE_SSL_MODE\): prefer is not supported .*expected disable, require, verify-ca or verify-full$/,
  );
  assert.equal(
    errorOf({ DATABASE_URL: 'postgres://u@h/md?sslmode=sometimes' }),
    'database.url (DATABASE_URL): sslmode expected one of disable, allow, prefer, require, verify-ca, verify-full, got "sometimes"',
  );
  assert.equal(
    errorOf({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: '/nonexistent/ca.pem' }),
    'database.sslCaFile (DATABASE_SSL_CA_FILE): cannot read /nonexistent/ca.pem: ENOENT: no such file or directory',
  );
  assert.equal(
    errorOf({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: pki.clientKey }),
    `database.sslCaFile (DATABASE_SSL_CA_FILE): expected a PEM certificate, ${pki.clientKey} does not hold one`,
  );
  assert.equal(
    errorOf({ DATABASE_SSL_MODE: 'require', DATABASE_SSL_CERT_FILE: pki.clientCert }),
    'database.sslCertFile (DATABASE_SSL_CERT_FILE) and database.sslKeyFile (DATABASE_SSL_KEY_FILE): expected both set (mutual TLS) or neither',
  );
  assert.match(
    errorOf({ DATABASE_URL: 'postgres:///md' }),
    /^database\.url \(DATABASE_URL\): expected postgres:\/\//,
  );
});

test('verify-ca without a CA file is refused: the system store would accept any public certificate', () => {
  const want =
    'database.sslMode (DATABASE_SSL_MODE): verify-ca needs DATABASE_SSL_CA_FILE or sslrootcert; with a public CA use verify-full';
  assert.equal(errorOf({ DATABASE_SSL_MODE: 'verify-ca' }), want);
  assert.equal(errorOf({ DATABASE_URL: 'postgres://u@h/md?sslmode=verify-ca' }), want);
});

test('a password with an unencoded / ? # or @ is refused, never parsed into host and port', () => {
  for (const url of [
    'postgres://u:12345/abc@h/db',
    'postgres://u:12#3@h/db',
    'postgres://u:123?x@h/db',
    'postgres://u:a@b/c@h/db',
  ]) {
    const message = errorOf({ DATABASE_URL: url });
    assert.match(
      message,
      /^database\.url \(DATABASE_URL\): .*\/ \? # @ in a password must be percent-encoded/,
      url,
    );
    for (const part of ['12345', 'abc', '12#3', 'b/c'])
      assert.ok(!message.includes(part), `${url}: ${message}`);
  }
  assert.equal(pgConfig({ DATABASE_URL: 'postgres://u:12345%2Fabc%40@h/db' }).password, '12345/abc@');
});

test('PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY are the lowest-precedence values, as in libpq', () => {
  const base = 'postgres://u:p@db.example:5433/md';
  const withPg = (env: Record<string, string>, pgEnv: Record<string, string>) =>
    pgClientConfig(loadWith({ ...env, ...pgEnv }).config.database, { applicationName: 'unit' }, pgEnv);
  assert.equal(verdict(withPg({ DATABASE_URL: base }, { PGSSLMODE: 'require' }).ssl), 'encrypt');
  // The URL and our own env vars win over them.
  assert.equal(
    verdict(withPg({ DATABASE_URL: `${base}?sslmode=disable` }, { PGSSLMODE: 'require' }).ssl),
    'off',
  );
  assert.equal(
    verdict(withPg({ DATABASE_URL: base, DATABASE_SSL_MODE: 'verify-full' }, { PGSSLMODE: 'require' }).ssl),
    'verify-full',
  );
  const ssl = withPg(
    { DATABASE_URL: base },
    {
      PGSSLMODE: 'verify-ca',
      PGSSLROOTCERT: pki.caCert,
      PGSSLCERT: pki.clientCert,
      PGSSLKEY: pki.clientKey,
    },
  ).ssl as tls.ConnectionOptions;
  assert.equal(verdict(ssl), 'verify-ca+ca');
  assert.equal(ssl.cert, fs.readFileSync(pki.clientCert, 'utf8'));
  // A bad value is named by the variable that was set.
  assert.match(
    configErrorOf(() => withPg({ DATABASE_URL: base }, { PGSSLMODE: 'prefer' })),
    /^PGSSLMODE: prefer is not supported .*expected disable, require, verify-ca or verify-full/,
  );
  assert.equal(
    configErrorOf(() =>
      withPg({ DATABASE_URL: base }, { PGSSLMODE: 'verify-full', PGSSLROOTCERT: '/nonexistent/ca.pem' }),
    ),
    'PGSSLROOTCERT: cannot read /nonexistent/ca.pem: ENOENT: no such file or directory',
  );
});

test('an encrypted client key takes DATABASE_SSL_KEY_PASSPHRASE; a wrong one is named, never printed', () => {
  const mtls = {
    DATABASE_URL: 'postgres://u@h/md?sslmode=verify-full',
    DATABASE_SSL_CA_FILE: pki.caCert,
    DATABASE_SSL_CERT_FILE: pki.clientCert,
    DATABASE_SSL_KEY_FILE: pki.clientKeyEncrypted,
  };
  const ssl = pgConfig({ ...mtls, DATABASE_SSL_KEY_PASSPHRASE: KEY_PASSPHRASE }).ssl as tls.ConnectionOptions;
  assert.equal(ssl.key, fs.readFileSync(pki.clientKeyEncrypted, 'utf8'));
  assert.equal(ssl.passphrase, KEY_PASSPHRASE);
  const wrong = errorOf({ ...mtls, DATABASE_SSL_KEY_PASSPHRASE: 'not-the-passphrase' });
  assert.equal(
    wrong,
    `database.sslKeyPassphrase (DATABASE_SSL_KEY_PASSPHRASE): cannot decrypt the key in ${pki.clientKeyEncrypted} (wrong passphrase)`,
  );
  assert.equal(
    errorOf(mtls),
    `database.sslKeyPassphrase (DATABASE_SSL_KEY_PASSPHRASE): cannot decrypt the key in ${pki.clientKeyEncrypted} (no passphrase given)`,
  );
});
