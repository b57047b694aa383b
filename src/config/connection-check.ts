// Builds the Kafka TLS options and the pg client config once while the config loads, so an
// unreadable certificate, a key that does not match or a bad sslmode is a configuration error
// (exit 2) before anything connects. The factories build them again for each client.
import type { SettingsOf, schema } from './schema.js';
import { kafkaTlsOptions } from './kafka-tls.js';
import { pgClientConfig } from './database-connection.js';

/** `env` is the environment the config was loaded from (libpq's PGSSL* variables). */
export function checkConnectionSettings(c: SettingsOf<typeof schema>, env: NodeJS.ProcessEnv): void {
  kafkaTlsOptions(c.kafka);
  pgClientConfig(c.database, { applicationName: c.kafka.clientId }, env);
}
