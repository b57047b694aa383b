// drop_oldest support: records pushed out of a full queue are dead-lettered here. Until
// every dropped record is durable in both DLQ destinations, no worker may commit (its
// offsets could move past a dropped record that is not yet stored), so the batch writer
// awaits `settled()` before COMMIT. A DLQ failure is retried; nothing is skipped.
import type { Logger } from 'pino';
import { toDeadLetter, type DeadLetter, type DeadLetterSink } from '../dlq/dead-letter.js';
import type { SinkRecord } from './sink-record.js';
import type { Clock } from '../util/clock.js';
import { toError } from '../errors.js';

export class OverflowGate {
  private chain: Promise<void> = Promise.resolve();
  private buffer: SinkRecord[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly dlq: DeadLetterSink,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Called once the entries are durable in both DLQ destinations. */
    private readonly onDropped: (entries: readonly DeadLetter[]) => void,
  ) {}

  drop(records: readonly SinkRecord[]): void {
    for (const r of records) this.buffer.push(r);
    if (this.scheduled) return;
    this.scheduled = true;
    // Collect one tick's drops into one DLQ write.
    this.chain = this.chain.then(async () => {
      await new Promise<void>((r) => setImmediate(r));
      this.scheduled = false;
      const batch = this.buffer;
      this.buffer = [];
      await this.writeUntilDone(batch);
    });
  }

  /** Resolves when every record dropped so far is durable in the DLQ. */
  settled(): Promise<void> {
    return this.chain;
  }

  close(): void {
    this.closed = true;
  }

  private async writeUntilDone(records: readonly SinkRecord[]): Promise<void> {
    if (records.length === 0) return;
    const now = this.clock.now();
    const entries: DeadLetter[] = records.map((r) =>
      toDeadLetter(r, {
        reason: 'overflow',
        errorCode: 'QUEUE_OVERFLOW',
        errorMessage:
          'dropped as the oldest queued record while the queue was full (queue.overflow=drop_oldest)',
        attempts: 0,
        workerId: 'dispatcher',
        failedAt: now,
      }),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        await this.dlq.write(entries);
        this.onDropped(entries);
        return;
      } catch (e) {
        if (this.closed) throw e;
        this.log.warn(
          { err: toError(e), attempt, records: entries.length },
          'overflow DLQ write failed; retrying',
        );
        await this.clock.sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }
}
