// The one Kafka client factory: every connection the project makes (consumer, DLQ producer,
// admin, replay, status, reset-offsets, sample producer) gets its TLS and SASL options here,
// so a security setting cannot exist for one and be missing for another. Its logs go into our
// pino logger.
import fs from 'node:fs';
import { Kafka, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config.js';
import { kafkaTlsOptions } from '../config/kafka-tls.js';
import { UNTRUSTED_CERT_CODES } from '../config/tls-material.js';
import {
  answersPlaintextKafka,
  brokerAddress,
  completesTlsHandshake,
  speaksSaslOverTls,
} from './listener-check.js';
import { systemClock, type Clock } from '../core/clock.js';
import { KafkaError, toError } from '../core/errors.js';
import { kafkaLogCreator, kafkaLogLevel } from '../core/logger.js';
import { KAFKA_CONNECTION_TIMEOUT_MS, KAFKA_REQUEST_TIMEOUT_MS, KAFKA_RETRY } from './client-timing.js';

type KafkaSettings = AppConfig['kafka'];
/** Only the kafka and log settings are read: a command may load just those (scope 'kafka-client'). */
type ClientSettings = Pick<AppConfig, 'kafka' | 'log'>;

/** KafkaJS's sasl option from the kafka.sasl settings, or undefined without SASL. */
function kafkaSaslOptions(k: KafkaSettings): SASLOptions | undefined {
  const { mechanism, username, password, oauthbearerTokenFile } = k.sasl;
  switch (mechanism) {
    case '':
      return undefined;
    case 'oauthbearer':
      return {
        mechanism,
        // Read at each authentication so a token rotated on disk is picked up on reconnect.
        oauthBearerProvider: async () => ({
          value: (await fs.promises.readFile(oauthbearerTokenFile, 'utf8')).trim(),
        }),
      };
    default:
      return { mechanism, username, password };
  }
}

/** The KafkaJS options of every client: brokers, TLS, SASL, logging, retry bounds. */
export function kafkaClientConfig(config: ClientSettings, log: Logger, clientIdSuffix = ''): KafkaConfig {
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
  const ssl = kafkaTlsOptions(k);
  if (ssl !== undefined) options.ssl = ssl;
  const sasl = kafkaSaslOptions(k);
  if (sasl !== undefined) options.sasl = sasl;
  return options;
}

export function createKafka(config: ClientSettings, log: Logger, clientIdSuffix = ''): Kafka {
  return new Kafka(kafkaClientConfig(config, log, clientIdSuffix));
}

/** A conclusion about a failed connect: `key` says which, `line` explains it naming the setting. */
interface Explanation {
  readonly key: string;
  readonly line: string;
}

/** A plain hang-up: evidence of nothing on its own, since healthy brokers also close connections. */
const HANG_UP = /Closed connection|Connection closed|ECONNRESET|EPIPE|before secure TLS connection/i;

/**
 * A security misconfiguration behind a failed connect, or undefined when there is no evidence
 * of one (a broker that is down, restarting or refusing connections for a while). Definite
 * evidence is a certificate error, a TLS alert, a SASL authentication error or a TLS record
 * that is not TLS; a plain hang-up counts only when the broker answers in the other mode.
 */
async function explainKafkaConnectError(e: unknown, k: KafkaSettings): Promise<Explanation | undefined> {
  // KafkaJS wraps the socket's error (which has the TLS code) once per retry layer.
  let err = toError(e) as Error & { code?: unknown; broker?: unknown };
  for (let i = 0; i < 5 && err.cause instanceof Error; i++) err = err.cause;
  const code = typeof err.code === 'string' ? err.code : '';
  const broker = typeof err.broker === 'string' ? err.broker : (k.brokers[0] ?? '');
  // OpenSSL's text spans lines and names its source file; its reason is what an operator needs.
  const text = err.message.replace(/[0-9A-F]+:error:[0-9A-F]+:SSL routines:\w+:([^:]+):.*$/s, '$1').trim();
  const cause = `${text}${code !== '' && !text.includes(code) ? ` [${code}]` : ''}`;
  const explained = (key: string, line: string): Explanation => ({ key, line });
  if (err.name === 'KafkaJSSASLAuthenticationError') {
    return explained(
      'sasl-login',
      `kafka.sasl (KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD): ${broker} refused the ${k.sasl.mechanism} login of user ${JSON.stringify(k.sasl.username)}: ${err.message.replace(/^SASL .*? authentication failed: /, '')}`,
    );
  }
  const address = brokerAddress(broker);
  if (!k.ssl) {
    // A plaintext request to a TLS listener: the broker reads a TLS record's header as a
    // request, finds no handshake and drops the connection without a Kafka answer.
    if (HANG_UP.test(cause) && address !== undefined && (await completesTlsHandshake(address))) {
      return explained(
        'plaintext-to-tls',
        `kafka.ssl (KAFKA_SSL): ${broker} closed a plaintext connection without answering (${cause}) and completes a TLS handshake; it is a TLS listener: set KAFKA_SSL=true`,
      );
    }
    return undefined;
  }
  if (UNTRUSTED_CERT_CODES.has(code)) {
    return explained(
      'untrusted-ca',
      `kafka.sslCaFile (KAFKA_SSL_CA_FILE): the certificate of ${broker} is not signed by a trusted CA (${cause})`,
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return explained(
      'cert-validity',
      `kafka.brokers (KAFKA_BROKERS): the certificate of ${broker} is not valid now (${cause}); the broker needs a renewed certificate`,
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return explained(
      'cert-name',
      `kafka.sslServername (KAFKA_SSL_SERVERNAME): the certificate of ${broker} does not name the host (${cause}); connect by a name it holds or set KAFKA_SSL_SERVERNAME`,
    );
  }
  if (
    /alert (certificate required|bad certificate|unknown ca|certificate unknown)|CERTIFICATE_REQUIRED|ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE/i.test(
      cause,
    )
  ) {
    return explained(
      'client-cert',
      `kafka.sslCertFile (KAFKA_SSL_CERT_FILE): ${broker} refused the client certificate (${cause}); the listener requires a certificate signed by a CA it trusts`,
    );
  }
  const tlsToPlaintext = `kafka.ssl (KAFKA_SSL): the TLS handshake with ${broker} failed (${cause}); it is a plaintext listener: set KAFKA_SSL=false`;
  // The peer answered the ClientHello with bytes that are not a TLS record.
  if (/wrong version number|packet length too long/i.test(cause))
    return explained('tls-to-plaintext', tlsToPlaintext);
  if (!HANG_UP.test(cause) || address === undefined) return undefined;
  if (await answersPlaintextKafka(address)) return explained('tls-to-plaintext', tlsToPlaintext);
  const tlsOptions = kafkaTlsOptions(k);
  if (k.sasl.mechanism === '' && tlsOptions !== undefined && (await speaksSaslOverTls(address, tlsOptions))) {
    // TLS itself succeeded, then the broker hung up on the first unauthenticated request.
    return explained(
      'sasl-listener',
      `kafka.sasl.mechanism (KAFKA_SASL_MECHANISM): ${broker} closed the TLS connection at the first request (${cause}) and answers a SASL handshake; it is a SASL_SSL listener: set KAFKA_SASL_MECHANISM and its credentials`,
    );
  }
  return undefined;
}

/** One connection attempt per step, each bounded, so a misconfiguration is seen in seconds. */
const PROBE_TIMEOUT_MS = 5000;
/** A broker restarting can look like anything once: a conclusion is believed only when it repeats. */
const PROBE_ATTEMPTS = 2;
const PROBE_PAUSE_MS = 1000;

/** One connect and metadata request without retries: undefined if it worked, else the error. */
async function probeOnce(config: ClientSettings, log: Logger): Promise<unknown> {
  const probe = new Kafka({
    ...kafkaClientConfig(config, log, ':probe'),
    // The probe's own failure is explained by the caller; KafkaJS's log of it would be a second, vaguer line.
    logLevel: kafkaLogLevel('silent'),
    retry: { retries: 0 },
    connectionTimeout: PROBE_TIMEOUT_MS,
    authenticationTimeout: PROBE_TIMEOUT_MS,
    requestTimeout: PROBE_TIMEOUT_MS,
  });
  const admin = probe.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    // Metadata is the first request a SASL or TLS listener refuses to an unauthenticated client.
    await admin.fetchTopicMetadata({ topics: [] });
    return undefined;
  } catch (e) {
    return e ?? new Error('probe failed');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Connects without KafkaJS's retries and turns a security misconfiguration into a
 * non-retriable KafkaError naming the setting: retrying a wrong CA or password for half a
 * minute only hides the cause. Any other failure (a broker that is down or still starting)
 * is left to the caller's own connect and its retries. Every command that connects calls it
 * first (the worker's start; status, reset-offsets and replay likewise).
 */
export async function checkKafkaSecurity(
  config: ClientSettings,
  log: Logger,
  clock: Clock = systemClock,
): Promise<void> {
  let previous: Explanation | undefined;
  for (let attempt = 1; ; attempt++) {
    const failure = await probeOnce(config, log);
    if (failure === undefined) return;
    const why = await explainKafkaConnectError(failure, config.kafka);
    if (why === undefined || (previous !== undefined && why.key !== previous.key)) return;
    if (attempt >= PROBE_ATTEMPTS) throw new KafkaError('KAFKA_SECURITY', why.line, false, failure);
    previous = why;
    await clock.sleep(PROBE_PAUSE_MS);
  }
}
