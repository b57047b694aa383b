// The admin requests every Kafka user here shares (DLQ writer, replay, reconcile): a
// short-lived admin client whose connect and disconnect are bounded, whether a topic exists,
// its partitions and watermarks, and creating a topic unless it exists.
import type { Admin, ITopicConfig, Kafka, PartitionMetadata } from 'kafkajs';
import { systemClock, type Clock } from '../core/clock.js';
import { KafkaError, toError } from '../core/errors.js';
import { settlesWithin } from '../util/bounded-wait.js';
import { kafkaConnectGiveUpMs } from './client-timing.js';

/**
 * Longest wait for an admin connect: KafkaJS's own give-up time with createKafka's settings
 * and the slowest SASL exchange (kafkaConnectGiveUpMs, about 19 min), so it never cuts a
 * connect KafkaJS would still retry; it only ends one that hangs past every KafkaJS timeout.
 * A caller that must wait less passes connectTimeoutMs.
 */
const ADMIN_CONNECT_TIMEOUT_MS = kafkaConnectGiveUpMs(true);
/** A disconnect that does not finish in this time is left to the socket's own timeout. */
const ADMIN_DISCONNECT_TIMEOUT_MS = 5_000;

export interface AdminOptions {
  readonly connectTimeoutMs?: number;
  readonly clock?: Clock;
}

/**
 * Runs `work` with a fresh, connected admin client and always disconnects it. A connect
 * that does not settle in time fails as ADMIN_CONNECT_TIMEOUT (retriable).
 */
export async function withAdmin<T>(
  kafka: Kafka,
  work: (admin: Admin) => Promise<T>,
  options: AdminOptions = {},
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.connectTimeoutMs ?? ADMIN_CONNECT_TIMEOUT_MS;
  const admin = kafka.admin();
  try {
    const connected = admin.connect();
    if (!(await settlesWithin(connected, timeoutMs, clock))) {
      throw new KafkaError(
        'ADMIN_CONNECT_TIMEOUT',
        `Kafka admin: not connected within ${timeoutMs} ms`,
        true,
      );
    }
    await connected;
    return await work(admin);
  } finally {
    await settlesWithin(
      admin.disconnect().catch(() => undefined),
      ADMIN_DISCONNECT_TIMEOUT_MS,
      clock,
    );
  }
}

export async function topicExists(admin: Admin, topic: string): Promise<boolean> {
  return (await admin.listTopics()).includes(topic);
}

/**
 * The partitions of each topic. Existence is checked first: for a missing topic KafkaJS
 * retries its metadata request for a while and ends in a vague error.
 */
export async function topicPartitions(
  admin: Admin,
  topics: readonly string[],
): Promise<{ partitions: Map<string, PartitionMetadata[]>; missing: string[] }> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  const present = topics.filter((t) => existing.has(t));
  const partitions = new Map<string, PartitionMetadata[]>();
  if (present.length > 0) {
    const meta = await admin.fetchTopicMetadata({ topics: present });
    for (const t of meta.topics) partitions.set(t.name, t.partitions);
  }
  return { partitions, missing };
}

function isTopicAlreadyExists(e: unknown): boolean {
  const err = e as { type?: unknown; errors?: unknown } | null;
  if (err?.type === 'TOPIC_ALREADY_EXISTS') return true;
  return (
    Array.isArray(err?.errors) && err.errors.length > 0 && err.errors.every((x) => isTopicAlreadyExists(x))
  );
}

/**
 * Creates the topic unless it exists; true when this call created it. Losing a creation race
 * to another member is fine. -1 partitions or replicas means the broker's default.
 */
export async function ensureTopic(
  admin: Admin,
  topic: ITopicConfig & { readonly topic: string },
): Promise<boolean> {
  if (await topicExists(admin, topic.topic)) return false;
  try {
    return await admin.createTopics({ topics: [topic], waitForLeaders: true });
  } catch (e) {
    if (isTopicAlreadyExists(e)) return false;
    throw e;
  }
}

/** How long a watermark fetch keeps trying through a leader failover. */
const WATERMARKS_TIMEOUT_MS = 30_000;
const WATERMARKS_RETRY_MS = 500;

/**
 * Low and high watermark per partition. KafkaJS's admin gives up at once when a leader it
 * knows is gone (BrokerNotFound, connection refused) instead of refreshing its metadata, so a
 * failed fetch is tried again with a fresh admin, whose first request loads current metadata.
 */
export async function topicWatermarks(
  kafka: Kafka,
  topic: string,
  timeoutMs = WATERMARKS_TIMEOUT_MS,
  clock: Clock = systemClock,
): Promise<Map<number, { low: number; high: number }>> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    try {
      const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic), { clock });
      return new Map(offsets.map((w) => [w.partition, { low: Number(w.low), high: Number(w.high) }]));
    } catch (e) {
      const err = toError(e);
      if (clock.now() >= deadline || err.name === 'KafkaJSNonRetriableError') {
        throw new KafkaError(
          'WATERMARKS_FAILED',
          `${topic}: watermarks not fetched within ${timeoutMs} ms: ${err.message}`,
          true,
          e,
        );
      }
    }
    await clock.sleep(WATERMARKS_RETRY_MS);
  }
}
