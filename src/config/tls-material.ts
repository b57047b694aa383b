// Certificates and keys named by settings, read and checked the same way for Kafka and
// PostgreSQL: unreadable files, non-PEM content, an expired client certificate, a wrong key
// passphrase or a key that does not belong to its certificate are configuration errors
// naming the setting, found when the config loads instead of as a TLS alert later.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { errnoText } from './secret-files.js';

/** Node's error codes for a peer certificate that does not chain to a trusted CA. */
export const UNTRUSTED_CERT_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** A setting as messages name it: `kafka.sslCaFile (KAFKA_SSL_CA_FILE)`. */
export type SettingLabel = string;

export interface TlsFiles {
  readonly ca: { readonly file: string; readonly label: SettingLabel };
  readonly cert: { readonly file: string; readonly label: SettingLabel };
  readonly key: { readonly file: string; readonly label: SettingLabel };
  readonly passphrase?: { readonly value: string; readonly label: SettingLabel };
}

/** PEM text as node:tls takes it; absent when the setting is empty. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
}

function readPem(file: string, label: SettingLabel): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${label}: cannot read ${file}: ${errnoText(e)}`);
  }
  if (!text.includes('-----BEGIN ')) {
    throw new ConfigError(`${label}: expected a PEM file (-----BEGIN …), got ${file} without one`);
  }
  return text;
}

function certificate(pem: string, file: string, label: SettingLabel): crypto.X509Certificate {
  try {
    return new crypto.X509Certificate(pem);
  } catch {
    throw new ConfigError(`${label}: expected a PEM certificate, ${file} does not hold one`);
  }
}

export function loadTlsMaterial(f: TlsFiles, now: Date = new Date()): TlsMaterial {
  const out: TlsMaterial = {};
  if (f.ca.file !== '') {
    out.ca = readPem(f.ca.file, f.ca.label);
    certificate(out.ca, f.ca.file, f.ca.label);
  }
  if ((f.cert.file === '') !== (f.key.file === '')) {
    throw new ConfigError(`${f.cert.label} and ${f.key.label}: expected both set (mutual TLS) or neither`);
  }
  if (f.cert.file === '') return out;
  out.cert = readPem(f.cert.file, f.cert.label);
  out.key = readPem(f.key.file, f.key.label);
  const cert = certificate(out.cert, f.cert.file, f.cert.label);
  if (now.getTime() > Date.parse(cert.validTo)) {
    throw new ConfigError(
      `${f.cert.label}: the client certificate in ${f.cert.file} expired on ${cert.validTo}`,
    );
  }
  if (now.getTime() < Date.parse(cert.validFrom)) {
    throw new ConfigError(
      `${f.cert.label}: the client certificate in ${f.cert.file} is valid only from ${cert.validFrom}`,
    );
  }
  const passphrase = f.passphrase?.value ?? '';
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(passphrase === '' ? out.key : { key: out.key, passphrase });
  } catch (e) {
    const encrypted = /ENCRYPTED/.test(out.key);
    const who = f.passphrase?.label ?? f.key.label;
    // OpenSSL's message ("bad decrypt", "interrupted or cancelled") carries no secret.
    throw new ConfigError(
      encrypted
        ? `${who}: cannot decrypt the key in ${f.key.file} (${passphrase === '' ? 'no passphrase given' : 'wrong passphrase'})`
        : `${f.key.label}: expected a PEM private key in ${f.key.file}: ${errnoText(e)}`,
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError(
      `${f.cert.label} and ${f.key.label}: the key in ${f.key.file} does not belong to the certificate in ${f.cert.file}`,
    );
  }
  if (passphrase !== '') out.passphrase = passphrase;
  return out;
}
