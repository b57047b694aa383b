// Reads back both DLQ destinations in tests: the NDJSON files and the DLQ topic.
import fs from 'node:fs';
import path from 'node:path';
import { decodeDeadLetterLine } from '../../src/dlq/ndjson-dlq.js';
import { deadLetterFromKafkaMessage } from '../../src/dlq/topic-dlq.js';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import { waitFor, type TestContext } from './sink-harness.js';

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
