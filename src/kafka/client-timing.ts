// The timing settings every KafkaJS client of ours gets (createKafka), and what they imply:
// how long KafkaJS 2.2.4 may take before it gives up connecting, so a bound of ours above
// that never cuts a connect KafkaJS would still have retried.

/** KafkaJS's retries of each request and connect; our own loops take over after that. */
export const KAFKA_RETRY = { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 } as const;
/** TCP (and TLS) connect of one broker connection. */
export const KAFKA_CONNECTION_TIMEOUT_MS = 5000;
/** One request's wait for its response (KafkaJS's default, stated so the bound below holds). */
export const KAFKA_REQUEST_TIMEOUT_MS = 30_000;

/** KafkaJS's retrier (src/retry): each wait is the previous one ±factor, times multiplier. */
const RETRY_FACTOR = 0.2;
const RETRY_MULTIPLIER = 2;

/**
 * The longest the waits between KafkaJS's tries can add up to: the first wait is
 * initialRetryTime ±20 %, each next one the previous ±20 % doubled, capped at maxRetryTime;
 * there is one wait before each of the `retries` retries. Taken at +20 % every time.
 */
export function maxRetryBackoffMs(retry: {
  readonly initialRetryTime: number;
  readonly retries: number;
  readonly maxRetryTime: number;
}): number {
  let wait = Math.ceil(retry.initialRetryTime * (1 + RETRY_FACTOR));
  let total = 0;
  for (let i = 0; i < retry.retries; i++) {
    total += wait;
    wait = Math.min(Math.ceil(wait * (1 + RETRY_FACTOR)) * RETRY_MULTIPLIER, retry.maxRetryTime);
  }
  return total;
}

/**
 * SASL requests of one connect, most over the mechanisms KafkaJS has: the handshake, then
 * SCRAM's two SaslAuthenticate round trips (PLAIN, OAUTHBEARER and AWS use one).
 */
const MAX_SASL_REQUESTS = 3;

/**
 * The longest a KafkaJS 2.2.4 connect (admin, producer or consumer: cluster → brokerPool.connect)
 * takes before it fails, with createKafka's settings. brokerPool.connect runs the seed broker's
 * connect under the retrier: retries + 1 tries. One try is the TCP connect (connectionTimeout),
 * ApiVersions (its own timeout is connectionTimeout, but the request queue waits
 * max(requestTimeout, that)), then with SASL the handshake and the authenticate requests
 * (requestTimeout each; authenticationTimeout only bounds waiting for the broker's lock).
 * Plaintext: 9 × 35 s + 25.5 s ≈ 341 s; with SASL (SCRAM): 9 × 125 s + 25.5 s ≈ 1150 s.
 */
export function kafkaConnectGiveUpMs(sasl: boolean): number {
  const apiVersions = Math.max(KAFKA_REQUEST_TIMEOUT_MS, KAFKA_CONNECTION_TIMEOUT_MS);
  const perTry =
    KAFKA_CONNECTION_TIMEOUT_MS + apiVersions + (sasl ? MAX_SASL_REQUESTS * KAFKA_REQUEST_TIMEOUT_MS : 0);
  return (KAFKA_RETRY.retries + 1) * perTry + maxRetryBackoffMs(KAFKA_RETRY);
}
