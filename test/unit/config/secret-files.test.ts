// X_FILE secrets: read, one trailing newline trimmed, X and X_FILE together refused naming
// both, an unreadable file named by its variable; the secret never in an error or the start line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { configErrorOf, loadWith } from '../../helpers/config-errors.js';

const SECRET = 'file-secret-7f3a';

function tempFile(t: { after(fn: () => void): void }, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-secret-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'secret');
  fs.writeFileSync(file, content);
  return file;
}

test('X_FILE: the value is the file content with one trailing newline trimmed', (t) => {
  const url = `postgres://sink:${SECRET}@db.internal:5432/md`;
  const loaded = loadWith({
    DATABASE_URL_FILE: tempFile(t, `${url}\n`),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'sink',
    KAFKA_SASL_PASSWORD_FILE: tempFile(t, `${SECRET} \r\n`),
  });
  assert.equal(loaded.config.database.url, url);
  // Only the newline goes: a trailing space may be part of a password.
  assert.equal(loaded.config.kafka.sasl.password, `${SECRET} `);
  assert.ok(!JSON.stringify(loaded.redacted).includes(SECRET), 'the start line holds no secret');
});

test('X and X_FILE both set: refused, naming both, without the secret', (t) => {
  const e = configErrorOf(() =>
    loadWith({ KAFKA_SASL_PASSWORD: SECRET, KAFKA_SASL_PASSWORD_FILE: tempFile(t, SECRET) }),
  );
  assert.equal(e, 'KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE: expected one of them, got both');
});

test('an unreadable X_FILE names the variable and the cause', () => {
  const e = configErrorOf(() => loadWith({ KAFKA_SSL_KEY_PASSPHRASE_FILE: '/nonexistent/mds/passphrase' }));
  assert.equal(
    e,
    'KAFKA_SSL_KEY_PASSPHRASE_FILE: cannot read /nonexistent/mds/passphrase: ENOENT: no such file or directory',
  );
});

test('only secrets take _FILE: a non-sensitive setting ignores X_FILE', (t) => {
  const { config } = loadWith({ KAFKA_CLIENT_ID_FILE: tempFile(t, 'from-file') });
  assert.equal(config.kafka.clientId, 'market-data-sink');
});

test('a bad DATABASE_URL is refused without echoing it', () => {
  const e = configErrorOf(() => loadWith({ DATABASE_URL: `mysql://u:${SECRET}@h/db` }));
  assert.match(e, /^database\.url \(DATABASE_URL\): expected postgres:\/\//);
  assert.ok(!e.includes(SECRET));
});

test('the conflict names what was set: a seed name for X, or the command-line flag', (t) => {
  const file = tempFile(t, `postgres://sink:${SECRET}@db.internal/md`);
  assert.equal(
    configErrorOf(() => loadWith({ MDS_DSN: 'postgres://sink@other/md', DATABASE_URL_FILE: file })),
    'MDS_DSN (DATABASE_URL) and DATABASE_URL_FILE: expected one of them, got both',
  );
  assert.equal(
    configErrorOf(() =>
      loadConfig({
        env: { NODE_ENV: 'development', DATABASE_URL_FILE: file },
        args: ['--database-url=postgres://sink@other/md'],
      }),
    ),
    '--database-url and DATABASE_URL_FILE: expected one of them, got both',
  );
});
