// Builds the KafkaJS client from config, with its logs routed into our pino logger.
import { Kafka, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config.js';
import { kafkaLogCreator, kafkaLogLevel } from '../core/logger.js';
import { KAFKA_CONNECTION_TIMEOUT_MS, KAFKA_REQUEST_TIMEOUT_MS, KAFKA_RETRY } from './client-timing.js';

/** Only the kafka and log settings are read: a command may load just those (scope 'kafka-client'). */
export function createKafka(
  config: Pick<AppConfig, 'kafka' | 'log'>,
  log: Logger,
  clientIdSuffix = '',
): Kafka {
  const k = config.kafka;
  const options: KafkaConfig = {
    clientId: k.clientId + clientIdSuffix,
    brokers: k.brokers,
    logLevel: kafkaLogLevel(config.log.level),
    logCreator: kafkaLogCreator(log),
    // KafkaJS retries each request this often before surfacing an error; our own loops
    // (consumer restart, DLQ write retry) take over after that.
    retry: { ...KAFKA_RETRY },
    connectionTimeout: KAFKA_CONNECTION_TIMEOUT_MS,
    requestTimeout: KAFKA_REQUEST_TIMEOUT_MS,
  };
  if (k.ssl) options.ssl = true;
  if (k.sasl.mechanism !== '') {
    options.sasl = {
      mechanism: k.sasl.mechanism,
      username: k.sasl.username,
      password: k.sasl.password,
    } as SASLOptions;
  }
  return new Kafka(options);
}
