// The one Kafka client factory: the options each security mode gives every client (worker,
// DLQ producer, admin, replay, status, reset-offsets), and the certificate problems found
// when the config loads, each a ConfigError naming the setting without the secret.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { checkKafkaSecurity, kafkaClientConfig } from '../../../src/kafka/kafka-client.js';
import { KafkaError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/logger.js';
import { configErrorOf, loadWith } from '../../helpers/config-errors.js';
import { createTestPki, KEY_PASSPHRASE } from '../../helpers/test-pki.js';

const pki = createTestPki();
after(() => pki.remove());
const log = createLogger('silent');

function clientConfig(env: Record<string, string>) {
  return kafkaClientConfig(loadWith(env).config, log);
}

const errorOf = (env: Record<string, string>): string => configErrorOf(() => clientConfig(env));

test('plaintext: no ssl, no sasl', () => {
  const c = clientConfig({});
  assert.equal(c.ssl, undefined);
  assert.equal(c.sasl, undefined);
});

test('TLS with the system CAs, or a CA file, a server name and reject-unauthorized', () => {
  assert.deepEqual(clientConfig({ KAFKA_SSL: 'true' }).ssl, { rejectUnauthorized: true });
  const ssl = clientConfig({
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: pki.caCert,
    KAFKA_SSL_SERVERNAME: 'kafka.internal',
    KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
  }).ssl as tls.ConnectionOptions;
  assert.equal(ssl.ca, fs.readFileSync(pki.caCert, 'utf8'));
  assert.equal(ssl.servername, 'kafka.internal');
  assert.equal(ssl.rejectUnauthorized, false);
});

test('mutual TLS: certificate, key and its passphrase (also from a _FILE)', () => {
  const passFile = path.join(pki.dir, 'passphrase.txt');
  fs.writeFileSync(passFile, `${KEY_PASSPHRASE}\n`);
  const ssl = clientConfig({
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: pki.caCert,
    KAFKA_SSL_CERT_FILE: pki.clientCert,
    KAFKA_SSL_KEY_FILE: pki.clientKeyEncrypted,
    KAFKA_SSL_KEY_PASSPHRASE_FILE: passFile,
  }).ssl as tls.ConnectionOptions;
  assert.equal(ssl.cert, fs.readFileSync(pki.clientCert, 'utf8'));
  assert.equal(ssl.key, fs.readFileSync(pki.clientKeyEncrypted, 'utf8'));
  assert.equal(ssl.passphrase, KEY_PASSPHRASE);
});

test('SASL plain and SCRAM carry the credentials; oauthbearer reads its token file on each login', async () => {
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
    const c = clientConfig({
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: 'sink',
      KAFKA_SASL_PASSWORD: 'pw',
    });
    assert.deepEqual(c.sasl, { mechanism, username: 'sink', password: 'pw' });
  }
  const tokenFile = path.join(pki.dir, 'token');
  fs.writeFileSync(tokenFile, 'token-1\n');
  const c = clientConfig({
    KAFKA_SASL_MECHANISM: 'oauthbearer',
    KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: tokenFile,
  });
  const sasl = c.sasl;
  assert.ok(sasl !== undefined && 'oauthBearerProvider' in sasl, 'oauthbearer options');
  assert.deepEqual(await sasl.oauthBearerProvider(), { value: 'token-1' });
  fs.writeFileSync(tokenFile, 'token-2\n');
  assert.deepEqual(await sasl.oauthBearerProvider(), { value: 'token-2' });
  assert.equal(
    errorOf({ KAFKA_SASL_MECHANISM: 'oauthbearer' }),
    'kafka.sasl.oauthbearerTokenFile (KAFKA_SASL_OAUTHBEARER_TOKEN_FILE): expected a token file when KAFKA_SASL_MECHANISM is oauthbearer',
  );
  // Unreadable at load is a configuration error now, not a login failure at the first connect.
  assert.equal(
    errorOf({ KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: '/nonexistent/token' }),
    'kafka.sasl.oauthbearerTokenFile (KAFKA_SASL_OAUTHBEARER_TOKEN_FILE): cannot read /nonexistent/token: ENOENT: no such file or directory',
  );
});

test('certificate problems are configuration errors naming the setting, never the passphrase', () => {
  const mtls = { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: pki.caCert };
  assert.equal(
    errorOf({ KAFKA_SSL_CA_FILE: pki.caCert }),
    'kafka.ssl (KAFKA_SSL): expected true when KAFKA_SSL_CA_FILE is set, got false',
  );
  assert.equal(
    errorOf({ ...mtls, KAFKA_SSL_CERT_FILE: pki.clientCert, KAFKA_SSL_KEY_FILE: pki.expiredClientKey }),
    `kafka.sslCertFile (KAFKA_SSL_CERT_FILE) and kafka.sslKeyFile (KAFKA_SSL_KEY_FILE): the key in ${pki.expiredClientKey} does not belong to the certificate in ${pki.clientCert}`,
  );
  assert.equal(
    errorOf({
      ...mtls,
      KAFKA_SSL_CERT_FILE: pki.expiredClientCert,
      KAFKA_SSL_KEY_FILE: pki.expiredClientKey,
    }),
    `kafka.sslCertFile (KAFKA_SSL_CERT_FILE): the client certificate in ${pki.expiredClientCert} expired on Feb  1 00:00:00 2020 GMT`,
  );
  const wrong = errorOf({
    ...mtls,
    KAFKA_SSL_CERT_FILE: pki.clientCert,
    KAFKA_SSL_KEY_FILE: pki.clientKeyEncrypted,
    KAFKA_SSL_KEY_PASSPHRASE: 'not-the-passphrase',
  });
  assert.equal(
    wrong,
    `kafka.sslKeyPassphrase (KAFKA_SSL_KEY_PASSPHRASE): cannot decrypt the key in ${pki.clientKeyEncrypted} (wrong passphrase)`,
  );
  assert.equal(
    errorOf({ ...mtls, KAFKA_SSL_CERT_FILE: pki.clientCert, KAFKA_SSL_KEY_FILE: pki.clientKeyEncrypted }),
    `kafka.sslKeyPassphrase (KAFKA_SSL_KEY_PASSPHRASE): cannot decrypt the key in ${pki.clientKeyEncrypted} (no passphrase given)`,
  );
  assert.equal(
    errorOf({ ...mtls, KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }),
    'kafka.sslCaFile (KAFKA_SSL_CA_FILE): cannot read /nonexistent/ca.pem: ENOENT: no such file or directory',
  );
});

/** A loopback listener on a free port, closed after the test. */
async function listen(t: { after(fn: () => Promise<void>): void }, server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as net.AddressInfo;
  return `127.0.0.1:${port}`;
}

test('the start-up probe: a broker that only hangs up is left to the normal retries, in either mode', async (t) => {
  // What a healthy broker at its per-IP connection limit, in controlled shutdown, or a load
  // balancer without a backend does: accept and close. Neither TLS nor Kafka answers.
  const hangUp = net.createServer((socket) => socket.destroy());
  const broker = await listen(t, hangUp);
  for (const env of [{}, { KAFKA_SSL: 'true' }]) {
    await checkKafkaSecurity(loadWith({ KAFKA_BROKERS: broker, ...env }).config, log);
  }
});

test('the start-up probe: plaintext to a listener that completes a TLS handshake names KAFKA_SSL', async (t) => {
  const tlsOnly = tls.createServer(
    { cert: fs.readFileSync(pki.serverCert), key: fs.readFileSync(pki.serverKey) },
    (socket) => socket.on('error', () => undefined),
  );
  tlsOnly.on('tlsClientError', () => undefined);
  const broker = await listen(t, tlsOnly);
  await assert.rejects(
    checkKafkaSecurity(loadWith({ KAFKA_BROKERS: broker }).config, log),
    (e: unknown) =>
      e instanceof KafkaError &&
      e.code === 'KAFKA_SECURITY' &&
      /^kafka\.ssl \(KAFKA_SSL\): 127\.0\.0\.1:\d+ closed a plaintext connection without answering .*set KAFKA_SSL=true/.test(
        e.message,
      ),
  );
});
