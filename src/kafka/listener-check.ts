// What kind of listener a broker address is, asked directly with one bounded connection each:
// does it complete a TLS handshake, does it answer a plaintext Kafka request, does it speak
// SASL. The start-up probe uses these only after a plain hang-up, which a healthy broker also
// gives (per-IP connection limit, controlled shutdown, a load balancer without a backend):
// only a positive answer in the other mode is evidence of a misconfiguration.
import net from 'node:net';
import tls from 'node:tls';

/** Each check is one connection, given up after this long. */
const LISTENER_CHECK_TIMEOUT_MS = 3000;

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
/** SaslHandshake error codes a SASL listener gives: none, or a mechanism it does not enable. */
const SASL_ANSWERS: ReadonlySet<number> = new Set([0, 33]);
const CORRELATION_ID = 0x6d6473; // any value: one request per connection

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** "host:port" or "[v6]:port" as KafkaJS names a broker; undefined when it is not one. */
export function brokerAddress(hostPort: string): BrokerAddress | undefined {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(hostPort.trim());
  if (m === null || m[1] === undefined || m[1] === '') return undefined;
  return { host: m[1], port: Number(m[2]) };
}

/** A Kafka request frame (header v1, no tagged fields) with the given body. */
function request(apiKey: number, apiVersion: number, body: Buffer): Buffer {
  const clientId = Buffer.from('market-data-sink:listener-check');
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(CORRELATION_ID, 4);
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

/**
 * Runs `talk` on a socket opened by `open`, settled by the first of its result, an error,
 * the peer closing or the timeout; the socket is always destroyed.
 */
function withSocket<T>(
  open: () => net.Socket,
  readyEvent: 'connect' | 'secureConnect',
  onReady: (socket: net.Socket, finish: (v: T) => void) => void,
  fallback: T,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve) => {
    const socket = open();
    let settled = false;
    const finish = (v: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(fallback), timeoutMs);
    socket.once(readyEvent, () => onReady(socket, finish));
    socket.once('error', () => finish(fallback));
    socket.once('close', () => finish(fallback));
  });
}

/** The body of the response to `frame`, or undefined when none came. */
function exchange(
  open: () => net.Socket,
  readyEvent: 'connect' | 'secureConnect',
  frame: Buffer,
  timeoutMs: number,
): Promise<Buffer | undefined> {
  return withSocket<Buffer | undefined>(
    open,
    readyEvent,
    (socket, finish) => {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 8) return;
        const size = buffered.readInt32BE(0);
        // A reply that is not a Kafka frame for our request is no answer.
        if (buffered.readInt32BE(4) !== CORRELATION_ID || size < 4 || size > 1 << 20)
          return finish(undefined);
        if (buffered.length >= 4 + size) finish(buffered.subarray(8, 4 + size));
      });
      socket.write(frame);
    },
    undefined,
    timeoutMs,
  );
}

/** True when a TLS handshake with the address completes (no certificate check: only the protocol is asked). */
export function completesTlsHandshake(
  a: BrokerAddress,
  timeoutMs = LISTENER_CHECK_TIMEOUT_MS,
): Promise<boolean> {
  return withSocket(
    () => tls.connect({ host: a.host, port: a.port, rejectUnauthorized: false }),
    'secureConnect',
    (_socket, finish) => finish(true),
    false,
    timeoutMs,
  );
}

/** True when the address answers a plaintext ApiVersions request: a PLAINTEXT listener. */
export async function answersPlaintextKafka(
  a: BrokerAddress,
  timeoutMs = LISTENER_CHECK_TIMEOUT_MS,
): Promise<boolean> {
  const reply = await exchange(
    () => net.connect({ host: a.host, port: a.port }),
    'connect',
    request(API_VERSIONS, 0, Buffer.alloc(0)),
    timeoutMs,
  );
  return reply !== undefined;
}

/**
 * True when the address, over TLS with `options`, answers a SaslHandshake as a SASL listener
 * does; a listener without SASL answers it with ILLEGAL_SASL_STATE.
 */
export async function speaksSaslOverTls(
  a: BrokerAddress,
  options: tls.ConnectionOptions,
  timeoutMs = LISTENER_CHECK_TIMEOUT_MS,
): Promise<boolean> {
  const mechanism = Buffer.from('PLAIN');
  const body = Buffer.alloc(2 + mechanism.length);
  body.writeInt16BE(mechanism.length, 0);
  mechanism.copy(body, 2);
  const reply = await exchange(
    () => tls.connect({ ...options, host: a.host, port: a.port }),
    'secureConnect',
    request(SASL_HANDSHAKE, 1, body),
    timeoutMs,
  );
  return reply !== undefined && reply.length >= 2 && SASL_ANSWERS.has(reply.readInt16BE(0));
}
