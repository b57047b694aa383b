// Security against real services on loopback: a private broker with SSL, mTLS and SASL_SSL
// listeners and a private PostgreSQL with ssl=on and hostssl-only pg_hba, both with
// certificates from one private CA. The worker writes through each listener and through a
// verify-full database connection; each misconfiguration stops the process within 15 s with
// exit 1 (connection) or 2 (configuration) and one error line naming the setting, no secret.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startSink } from '../../src/app.js';
import { builtinMappings } from '../../src/config/builtin-mappings.js';
import { pgClientConfig } from '../../src/config/database-connection.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/core/logger.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { SASL_PASSWORD, SASL_USER, startSecureKafka, type SecureKafka } from '../helpers/secure-kafka.js';
import * as harness from '../helpers/sink-harness.js';
import { createTestPki, KEY_PASSPHRASE, type TestPki } from '../helpers/test-pki.js';
import { lastLines, spawnWorker } from '../helpers/worker-process.js';

const BARS = builtinMappings().find((m) => m.table === 'bars')!;
const DB_PASSWORD = 'db-secret-91c4';
const FAIL_WITHIN_MS = 15_000;

let pki: TestPki;
let broker: SecureKafka;
let pgSsl: PrivatePostgres;

before(async () => {
  pki = createTestPki();
  [broker, pgSsl] = await Promise.all([
    startSecureKafka(pki),
    startPrivatePostgres({
      // ssl_ca_file makes the server ask for a client certificate (optional under trust), so
      // pg_stat_ssl shows the one the sink presented.
      conf: [
        'ssl = on',
        "ssl_cert_file = 'server.crt'",
        "ssl_key_file = 'server.key'",
        "ssl_ca_file = 'ca.crt'",
      ],
      // Loopback TCP only with TLS; the socket stays open for the helper's readiness check.
      hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 trust', 'hostssl all all ::1/128 trust'],
      files: { 'server.crt': pki.serverCert, 'server.key': pki.serverKey, 'ca.crt': pki.caCert },
    }),
  ]);
});

after(async () => {
  await broker?.stop();
  await pgSsl?.destroy();
  pki?.remove();
});

/** A namespace on the private broker (topics made over PLAINTEXT) and the shared PostgreSQL. */
async function context(
  t: { after(fn: () => Promise<void>): void },
  name: string,
): Promise<harness.TestContext> {
  const ctx = await harness.createTestContext(name, [broker.listeners.plaintext]);
  t.after(() => ctx.cleanup());
  await ctx.createTopics(['bars'], 2);
  return ctx;
}

const tls = (): Record<string, string> => ({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: pki.caCert });
const sasl = (mechanism: string): Record<string, string> => ({
  ...tls(),
  KAFKA_BROKERS: broker.listeners.saslSsl,
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: SASL_USER,
  KAFKA_SASL_PASSWORD: SASL_PASSWORD,
});

test('the worker consumes and writes through the SSL, mTLS and SASL_SSL listeners', async (t) => {
  const passphraseFile = path.join(pki.dir, 'key-passphrase');
  fs.writeFileSync(passphraseFile, `${KEY_PASSPHRASE}\n`);
  const modes: [string, () => Record<string, string>][] = [
    ['ssl', () => ({ ...tls(), KAFKA_BROKERS: broker.listeners.ssl })],
    // The broker's certificate names localhost and 127.0.0.1; a server-name override must match one.
    [
      'ssl-servername',
      () => ({ ...tls(), KAFKA_BROKERS: broker.listeners.ssl, KAFKA_SSL_SERVERNAME: 'localhost' }),
    ],
    [
      'mtls',
      () => ({
        ...tls(),
        KAFKA_BROKERS: broker.listeners.mtls,
        KAFKA_SSL_CERT_FILE: pki.clientCert,
        KAFKA_SSL_KEY_FILE: pki.clientKeyEncrypted,
        KAFKA_SSL_KEY_PASSPHRASE_FILE: passphraseFile,
      }),
    ],
    ['plain', () => sasl('plain')],
    ['scram256', () => sasl('scram-sha-256')],
    ['scram512', () => sasl('scram-sha-512')],
  ];
  for (const [mode, env] of modes) {
    const ctx = await context(t, `sec${mode}`);
    const msgs = harness.sampleBatch('bars', 60, 20);
    await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
    const sink = await startSink(ctx.config({ KAFKA_TOPICS: 'bars', ...env() }), {
      log: createLogger(ctx.env.LOG_LEVEL ?? 'warn'),
    });
    t.after(() => sink.kill());
    await harness.waitFor(
      () => harness.caughtUp(ctx, [ctx.topic('bars')]),
      `${mode}: sink did not catch up`,
      60_000,
    );
    await sink.stop();
    await sink.done;
    assert.deepEqual(
      await harness.actualRows(ctx.db, ctx.schema, BARS),
      harness.expectedRows(
        BARS,
        msgs.map((m) => m.value),
      ),
      `${mode}: exact rows`,
    );
  }
});

test('PostgreSQL: verify-full through hostssl-only pg_hba; require means encrypted without verification; Unix socket', async (t) => {
  const ctx = await context(t, 'secpg');
  const url = `postgres://postgres:${DB_PASSWORD}@localhost:${pgSsl.port}/postgres`;
  const env = {
    DATABASE_URL: `${url}?sslmode=verify-full`,
    DATABASE_SSL_CA_FILE: pki.caCert,
    KAFKA_TOPICS: 'bars',
  };
  const loaded = ctx.config(env);
  const db = new pg.Pool(pgClientConfig(loaded.config.database, { applicationName: 'test-reader' }));
  t.after(() => db.end());
  await db.query(`DROP SCHEMA IF EXISTS ${ctx.schema} CASCADE`);

  const msgs = harness.sampleBatch('bars', 40, 10);
  await ctx.produce(ctx.topic('bars'), harness.toKafka(msgs));
  const sink = await startSink(loaded, { log: createLogger(ctx.env.LOG_LEVEL ?? 'warn') });
  t.after(() => sink.kill());
  await harness.waitFor(
    async () => (await harness.actualRows(db, ctx.schema, BARS)).length === 40,
    'sink did not write the 40 bars over TLS',
    60_000,
  );
  // Every connection of the sink (control pool and workers) is encrypted.
  const r = await db.query<{ ssl: boolean; n: number }>(
    `SELECT s.ssl, count(*)::int AS n FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
      WHERE a.application_name LIKE $1 GROUP BY s.ssl`,
    [`${loaded.config.kafka.clientId}:%`],
  );
  assert.deepEqual(
    r.rows.map((x) => x.ssl),
    [true],
  );
  await sink.stop();
  await sink.done;
  assert.deepEqual(
    await harness.actualRows(db, ctx.schema, BARS),
    harness.expectedRows(
      BARS,
      msgs.map((m) => m.value),
    ),
  );
  await db.query(`DROP SCHEMA IF EXISTS ${ctx.schema} CASCADE`);

  // libpq's require: encrypted, certificate not checked (pg 8 alone would refuse 127.0.0.1
  // here: it treats require as verify-full and has no CA).
  const requireOnly = loadConfig({
    env: { NODE_ENV: 'test', DATABASE_URL: `${url.replace('localhost', '127.0.0.1')}?sslmode=require` },
  });
  const c = new pg.Client(pgClientConfig(requireOnly.config.database, { applicationName: 'test-require' }));
  await c.connect();
  const ssl = await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  await c.end();
  assert.equal(ssl.rows[0]?.ssl, true);

  // A client certificate whose key is encrypted: DATABASE_SSL_KEY_PASSPHRASE_FILE decrypts it.
  const passphraseFile = path.join(pki.dir, 'pg-key-passphrase');
  fs.writeFileSync(passphraseFile, `${KEY_PASSPHRASE}\n`);
  const mtls = loadConfig({
    env: {
      NODE_ENV: 'test',
      DATABASE_URL: `${url}?sslmode=verify-full`,
      DATABASE_SSL_CA_FILE: pki.caCert,
      DATABASE_SSL_CERT_FILE: pki.clientCert,
      DATABASE_SSL_KEY_FILE: pki.clientKeyEncrypted,
      DATABASE_SSL_KEY_PASSPHRASE_FILE: passphraseFile,
    },
  });
  const m = new pg.Client(pgClientConfig(mtls.config.database, { applicationName: 'test-mtls' }));
  await m.connect();
  const dn = await m.query<{ dn: string | null }>(
    'SELECT client_dn AS dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
  );
  await m.end();
  assert.match(dn.rows[0]?.dn ?? '', /CN=mds-client/);

  // A Unix-socket URL connects over the socket; sslmode does not apply there (as libpq).
  const socket = loadConfig({
    env: {
      NODE_ENV: 'test',
      DATABASE_URL: `postgres://postgres@/postgres?host=${pgSsl.socketDir}&port=${pgSsl.port}&sslmode=verify-full`,
    },
  });
  const s = new pg.Client(pgClientConfig(socket.config.database, { applicationName: 'test-socket' }));
  await s.connect();
  const viaSocket = await s.query<{ addr: string | null; ssl: boolean }>(
    'SELECT inet_client_addr()::text AS addr, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
  );
  await s.end();
  assert.deepEqual(viaSocket.rows, [{ addr: null, ssl: false }]);
});

interface Misconfig {
  name: string;
  env: () => Record<string, string>;
  exit: 1 | 2;
  /** The one error line must match this (it names the setting). */
  line: RegExp;
}

const MISCONFIGS: Misconfig[] = [
  {
    name: 'Kafka: a CA that did not sign the broker certificate',
    env: () => ({ ...tls(), KAFKA_BROKERS: broker.listeners.ssl, KAFKA_SSL_CA_FILE: pki.otherCaCert }),
    exit: 1,
    line: /kafka\.sslCaFile \(KAFKA_SSL_CA_FILE\): the certificate of 127\.0\.0\.1:\d+ is not signed by a trusted CA/,
  },
  {
    name: 'Kafka: a server name the broker certificate does not hold',
    env: () => ({ ...tls(), KAFKA_BROKERS: broker.listeners.ssl, KAFKA_SSL_SERVERNAME: 'kafka.example' }),
    exit: 1,
    line: /kafka\.sslServername \(KAFKA_SSL_SERVERNAME\): the certificate of 127\.0\.0\.1:\d+ does not name the host/,
  },
  {
    name: 'Kafka: TLS without SASL to the SASL_SSL listener',
    env: () => ({ ...tls(), KAFKA_BROKERS: broker.listeners.saslSsl }),
    exit: 1,
    line: /kafka\.sasl\.mechanism \(KAFKA_SASL_MECHANISM\): 127\.0\.0\.1:\d+ closed the TLS connection at the first request/,
  },
  {
    name: 'Kafka: no client certificate on the mTLS listener',
    env: () => ({ ...tls(), KAFKA_BROKERS: broker.listeners.mtls }),
    exit: 1,
    line: /kafka\.sslCertFile \(KAFKA_SSL_CERT_FILE\): 127\.0\.0\.1:\d+ refused the client certificate/,
  },
  {
    name: 'Kafka: a client key that does not match its certificate',
    env: () => ({
      ...tls(),
      KAFKA_BROKERS: broker.listeners.mtls,
      KAFKA_SSL_CERT_FILE: pki.clientCert,
      KAFKA_SSL_KEY_FILE: pki.expiredClientKey,
    }),
    exit: 2,
    line: /KAFKA_SSL_CERT_FILE\) and kafka\.sslKeyFile \(KAFKA_SSL_KEY_FILE\): the key in .* does not belong to the certificate/,
  },
  {
    name: 'Kafka: an expired client certificate',
    env: () => ({
      ...tls(),
      KAFKA_BROKERS: broker.listeners.mtls,
      KAFKA_SSL_CERT_FILE: pki.expiredClientCert,
      KAFKA_SSL_KEY_FILE: pki.expiredClientKey,
    }),
    exit: 2,
    line: /kafka\.sslCertFile \(KAFKA_SSL_CERT_FILE\): the client certificate in .* expired on/,
  },
  {
    name: 'Kafka: a wrong key passphrase',
    env: () => ({
      ...tls(),
      KAFKA_BROKERS: broker.listeners.mtls,
      KAFKA_SSL_CERT_FILE: pki.clientCert,
      KAFKA_SSL_KEY_FILE: pki.clientKeyEncrypted,
      KAFKA_SSL_KEY_PASSPHRASE: 'wrong-passphrase-5e1d',
    }),
    exit: 2,
    line: /kafka\.sslKeyPassphrase \(KAFKA_SSL_KEY_PASSPHRASE\): cannot decrypt the key in .* \(wrong passphrase\)/,
  },
  {
    name: 'Kafka: a wrong SCRAM password',
    env: () => ({ ...sasl('scram-sha-512'), KAFKA_SASL_PASSWORD: 'wrong-sasl-password-0b7e' }),
    exit: 1,
    line: /kafka\.sasl \(KAFKA_SASL_USERNAME\/KAFKA_SASL_PASSWORD\): 127\.0\.0\.1:\d+ refused the scram-sha-512 login of user "mds-sink"/,
  },
  {
    name: 'Kafka: TLS to the plaintext listener',
    env: () => ({ ...tls(), KAFKA_BROKERS: broker.listeners.plaintext }),
    exit: 1,
    line: /kafka\.ssl \(KAFKA_SSL\): the TLS handshake with 127\.0\.0\.1:\d+ failed .*set KAFKA_SSL=false/,
  },
  {
    name: 'Kafka: plaintext to the TLS listener',
    env: () => ({ KAFKA_BROKERS: broker.listeners.ssl }),
    exit: 1,
    line: /kafka\.ssl \(KAFKA_SSL\): 127\.0\.0\.1:\d+ closed a plaintext connection without answering .*set KAFKA_SSL=true/,
  },
  {
    name: 'PostgreSQL: verify-full with a CA that did not sign the server certificate',
    env: () => ({
      DATABASE_URL: `postgres://postgres:${DB_PASSWORD}@localhost:${pgSsl.port}/postgres?sslmode=verify-full`,
      DATABASE_SSL_CA_FILE: pki.otherCaCert,
    }),
    exit: 1,
    line: /database\.sslCaFile \(DATABASE_SSL_CA_FILE\): the server's certificate is not signed by a trusted CA/,
  },
  {
    name: 'PostgreSQL: sslmode=disable against hostssl-only pg_hba',
    env: () => ({
      DATABASE_URL: `postgres://postgres:${DB_PASSWORD}@127.0.0.1:${pgSsl.port}/postgres?sslmode=disable`,
    }),
    exit: 1,
    line: /database\.sslMode \(DATABASE_SSL_MODE\): the server refuses unencrypted connections and sslmode is disable/,
  },
  {
    // The shared server runs with ssl = off.
    name: 'PostgreSQL: sslmode=require against a server without TLS',
    env: () => ({ DATABASE_SSL_MODE: 'require' }),
    exit: 1,
    line: /database\.sslMode \(DATABASE_SSL_MODE\): require needs TLS and the server does not offer it/,
  },
  {
    name: 'a secret given both as X and as X_FILE',
    env: () => ({ ...sasl('scram-sha-256'), KAFKA_SASL_PASSWORD_FILE: pki.caCert }),
    exit: 2,
    line: /KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE: expected one of them, got both/,
  },
];

/** Values that must never reach the output, whatever the failure. */
const SECRETS = [
  SASL_PASSWORD,
  KEY_PASSPHRASE,
  DB_PASSWORD,
  'wrong-passphrase-5e1d',
  'wrong-sasl-password-0b7e',
];

test('each misconfiguration: exit 1 or 2 within 15 s, one error line naming the setting, no secret', async (t) => {
  const ctx = await context(t, 'secbad');
  for (const m of MISCONFIGS) {
    const started = Date.now();
    const w = spawnWorker({ ...ctx.env, KAFKA_TOPICS: 'bars', LOG_LEVEL: 'info', ...m.env() });
    const timer = setTimeout(() => w.kill('SIGKILL'), 60_000);
    const { code } = await w.exited;
    clearTimeout(timer);
    const ms = Date.now() - started;
    const out = w.output();
    assert.equal(code, m.exit, `${m.name}: exit code\n${lastLines(out)}`);
    assert.ok(ms < FAIL_WITHIN_MS, `${m.name}: took ${ms} ms\n${lastLines(out)}`);
    // The start line (info) may precede it; the error is one line at error level or above.
    const errors = out
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{') || (JSON.parse(l) as { level: number }).level >= 50);
    assert.equal(errors.length, 1, `${m.name}: one error line\n${lastLines(out)}`);
    const line = errors[0]!.startsWith('{') ? (JSON.parse(errors[0]!) as { msg: string }).msg : errors[0]!;
    assert.match(line, m.line, m.name);
    assert.ok(
      !/\n\s+at /.test(out) && !out.includes('"stack"'),
      `${m.name}: no stack trace\n${lastLines(out)}`,
    );
    for (const s of SECRETS) assert.ok(!out.includes(s), `${m.name}: secret printed\n${lastLines(out)}`);
  }
});
