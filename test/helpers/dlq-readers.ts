// Reads back both DLQ destinations in tests: the NDJSON files and the DLQ topic.
import fs from 'node:fs';
import path from 'node:path';
import { decodeDeadLetterLine } from '../../src/dlq/file/codec.js';
import { deadLetterFromKafkaMessage } from '../../src/dlq/topic/codec.js';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { waitFor, type TestContext } from './sink-harness.js';
import { randomName } from './services.js';

export function readNdjson(dir: string): DeadLetter[] {
  const out: DeadLetter[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ndjson')) {
        for (const line of fs.readFileSync(p, 'utf8').split('\n'))
          if (line.trim() !== '') out.push(decodeDeadLetterLine(line));
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

export async function readDlqTopic(
  ctx: TestContext,
  expected: number,
  timeoutMs = 60_000,
): Promise<DeadLetter[]> {
  const consumer = ctx.kafka.consumer({ groupId: `${ctx.groupId}-dlq-reader-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: ctx.dlqTopic, fromBeginning: true });
  const out: DeadLetter[] = [];
  await consumer.run({
    eachMessage: ({ message }) => {
      out.push(deadLetterFromKafkaMessage(message));
      return Promise.resolve();
    },
  });
  try {
    const total = async (): Promise<number> =>
      (await ctx.admin.fetchTopicOffsets(ctx.dlqTopic)).reduce((n, p) => n + Number(p.high), 0);
    await waitFor(
      async () => out.length >= (await total()) && out.length >= expected,
      () => `DLQ topic: read ${out.length}, expected ${expected}`,
      timeoutMs,
      100,
    );
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/**
 * Every message of a topic (all partitions) with a throwaway group, read until it holds as many
 * as the partitions do (high minus low watermark: deleted records do not count).
 */
export async function readTopicMessages(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  timeoutMs = 60_000,
): Promise<{ partition: number; message: KafkaMessage }[]> {
  const consumer = kafka.consumer({ groupId: randomName('reader-'), maxWaitTimeInMs: 200 });
  const out: { partition: number; message: KafkaMessage }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        out.push({ partition, message });
        return Promise.resolve();
      },
    });
    let held = -1;
    await waitFor(
      async () => {
        held = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
        return out.length >= held;
      },
      () => `${topic}: read ${out.length} of the ${held} records its partitions hold`,
      timeoutMs,
      100,
    );
  } finally {
    await consumer.disconnect();
  }
  return out;
}
