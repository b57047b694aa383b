// The DLQ the pipeline writes to: the Kafka topic and the local NDJSON files together. A
// record counts as dead-lettered only when both have it; after a partial failure the caller
// retries the whole write, so one destination may hold a record twice (replay is idempotent).
import type { DeadLetter, DeadLetterSink } from '../core/dead-letter.js';
import { SinkError, toError } from '../core/errors.js';

export interface DualDeadLetterSinkOptions {
  readonly topic: DeadLetterSink;
  readonly file: DeadLetterSink;
}

export class DualDeadLetterSink implements DeadLetterSink {
  private readonly topic: DeadLetterSink;
  private readonly file: DeadLetterSink;
  private closing: Promise<void> | undefined;

  constructor(options: DualDeadLetterSinkOptions) {
    this.topic = options.topic;
    this.file = options.file;
  }

  /** Starts the file first (cheap, local); if the topic then fails, the file is closed again. */
  async start(): Promise<void> {
    await this.file.start();
    try {
      await this.topic.start();
    } catch (e) {
      await this.file.close().catch(() => undefined);
      throw e;
    }
  }

  async write(entries: readonly DeadLetter[]): Promise<void> {
    if (entries.length === 0) return;
    // Both in parallel: the slower destination sets the latency, not the sum of both.
    const [topic, file] = await Promise.allSettled([this.topic.write(entries), this.file.write(entries)]);
    const failed: string[] = [];
    const causes: Error[] = [];
    if (topic.status === 'rejected') {
      const e = toError(topic.reason);
      failed.push(`topic: ${e.message}`);
      causes.push(e);
    }
    if (file.status === 'rejected') {
      const e = toError(file.reason);
      failed.push(`file: ${e.message}`);
      causes.push(e);
    }
    if (causes.length === 0) return;
    throw new SinkError(
      'DLQ_WRITE_FAILED',
      `dead-letter write of ${entries.length} records failed (${failed.join('; ')}); retry the whole write`,
      {
        retriable: true,
        cause: causes.length === 1 ? causes[0] : new AggregateError(causes, failed.join('; ')),
      },
    );
  }

  /** Reverse start order; the file is closed even if closing the topic fails. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let failure: unknown;
      try {
        await this.topic.close();
      } catch (e) {
        failure = e;
      }
      try {
        await this.file.close();
      } catch (e) {
        failure ??= e;
      }
      if (failure !== undefined) throw toError(failure);
    })();
    return this.closing;
  }
}
