// A throw-away PKI for the security tests, made with the openssl and keytool on the machine in
// a temp dir: a CA, a server certificate for localhost/127.0.0.1 (broker and PostgreSQL), a
// client certificate (plain and passphrase-encrypted key), an expired client certificate, a
// second unrelated CA, and the PKCS12 key and trust stores a Kafka broker reads.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const STORE_PASSWORD = 'changeit';
export const KEY_PASSPHRASE = 'pki-key-passphrase';

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly otherCaCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** clientKey's key encrypted with KEY_PASSPHRASE. */
  readonly clientKeyEncrypted: string;
  readonly expiredClientCert: string;
  readonly expiredClientKey: string;
  /** PKCS12 keystore of the server certificate, password STORE_PASSWORD. */
  readonly serverKeystore: string;
  /** PKCS12 truststore holding the CA, password STORE_PASSWORD. */
  readonly truststore: string;
  remove(): void;
}

/** openssl with space-separated arguments (none of ours contains a space). */
function ossl(dir: string, args: string): void {
  execFileSync('openssl', args.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, name: string): void {
  ossl(dir, `genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${name}.key`);
}

function selfSignedCa(dir: string, name: string, cn: string): void {
  newKey(dir, name);
  ossl(
    dir,
    `req -x509 -new -key ${name}.key -out ${name}.pem -days 30 -subj /CN=${cn} -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign`,
  );
}

/** A leaf signed by ca; `dates` gives an explicit validity (openssl ca), else 30 days from now. */
function leaf(
  dir: string,
  name: string,
  cn: string,
  ext: string,
  dates?: { start: string; end: string },
): void {
  newKey(dir, name);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  ossl(dir, `req -new -key ${name}.key -out ${name}.csr -subj /CN=${cn}`);
  if (dates === undefined) {
    ossl(
      dir,
      `x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${name}.pem -days 30 -extfile ${name}.ext`,
    );
    return;
  }
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'serial'), '1000\n');
  fs.writeFileSync(
    path.join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = d',
      '[d]',
      'database = index.txt',
      'new_certs_dir = .',
      'serial = serial',
      'default_md = sha256',
      'policy = p',
      'unique_subject = no',
      '[p]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  ossl(
    dir,
    `ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in ${name}.csr -out ${name}.pem -startdate ${dates.start} -enddate ${dates.end} -notext -extfile ${name}.ext`,
  );
}

export function createTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-pki-'));
  // PostgreSQL (possibly another OS user) must read the server files; keys stay 0600 below.
  fs.chmodSync(dir, 0o755);
  const f = (name: string): string => path.join(dir, name);
  try {
    selfSignedCa(dir, 'ca', 'mds-test-CA');
    selfSignedCa(dir, 'other-ca', 'mds-unrelated-CA');
    leaf(
      dir,
      'server',
      'localhost',
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
    );
    leaf(dir, 'client', 'mds-client', 'extendedKeyUsage=clientAuth\n');
    leaf(dir, 'expired', 'mds-expired', 'extendedKeyUsage=clientAuth\n', {
      start: '20200101000000Z',
      end: '20200201000000Z',
    });
    ossl(
      dir,
      `pkcs8 -topk8 -in client.key -out client-enc.key -v2 aes-256-cbc -passout pass:${KEY_PASSPHRASE}`,
    );
    ossl(
      dir,
      `pkcs12 -export -in server.pem -inkey server.key -name broker -out server.p12 -passout pass:${STORE_PASSWORD}`,
    );
    execFileSync(
      'keytool',
      [
        '-importcert',
        '-noprompt',
        '-alias',
        'ca',
        '-file',
        f('ca.pem'),
        '-keystore',
        f('trust.p12'),
        '-storetype',
        'PKCS12',
        '-storepass',
        STORE_PASSWORD,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    for (const name of fs.readdirSync(dir)) fs.chmodSync(f(name), name.endsWith('.key') ? 0o600 : 0o644);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`test PKI: ${(e as Error).message.split('\n')[0]} ${stderr}`, { cause: e });
  }
  return {
    dir,
    caCert: f('ca.pem'),
    otherCaCert: f('other-ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    clientKeyEncrypted: f('client-enc.key'),
    expiredClientCert: f('expired.pem'),
    expiredClientKey: f('expired.key'),
    serverKeystore: f('server.p12'),
    truststore: f('trust.p12'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
