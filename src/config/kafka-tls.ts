// The TLS options of every Kafka connection (consumer, DLQ producer, admin, CLIs), built from
// the kafka.ssl* settings. Called once when the config loads, so bad files stop the start
// with exit 2, and again by the one Kafka client factory.
import type tls from 'node:tls';
import { ConfigError } from '../core/errors.js';
import type { SettingsOf, schema } from './schema.js';
import { loadTlsMaterial } from './tls-material.js';

type KafkaSettings = SettingsOf<typeof schema>['kafka'];

/** Options for node:tls (as KafkaJS's `ssl`), or undefined for plaintext. */
export function kafkaTlsOptions(k: KafkaSettings): tls.ConnectionOptions | undefined {
  if (!k.ssl) {
    const set = (
      [
        [k.sslCaFile, 'KAFKA_SSL_CA_FILE'],
        [k.sslCertFile, 'KAFKA_SSL_CERT_FILE'],
        [k.sslKeyFile, 'KAFKA_SSL_KEY_FILE'],
        [k.sslServername, 'KAFKA_SSL_SERVERNAME'],
      ] as const
    ).find(([v]) => v !== '');
    // A CA without TLS is a deployment that believes it is encrypted and is not.
    if (set !== undefined)
      throw new ConfigError(`kafka.ssl (KAFKA_SSL): expected true when ${set[1]} is set, got false`);
    return undefined;
  }
  const material = loadTlsMaterial({
    ca: { file: k.sslCaFile, label: 'kafka.sslCaFile (KAFKA_SSL_CA_FILE)' },
    cert: { file: k.sslCertFile, label: 'kafka.sslCertFile (KAFKA_SSL_CERT_FILE)' },
    key: { file: k.sslKeyFile, label: 'kafka.sslKeyFile (KAFKA_SSL_KEY_FILE)' },
    passphrase: { value: k.sslKeyPassphrase, label: 'kafka.sslKeyPassphrase (KAFKA_SSL_KEY_PASSPHRASE)' },
  });
  return {
    ...material,
    ...(k.sslServername !== '' ? { servername: k.sslServername } : {}),
    rejectUnauthorized: k.sslRejectUnauthorized,
  };
}
