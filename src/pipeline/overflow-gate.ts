// drop_oldest support: records pushed out of a full queue wait here until they are durable in
// both DLQ destinations. Until then no worker may commit (its offsets could move past a
// dropped record not yet stored), so the batch writer awaits `settled()` before COMMIT.
// Invariants: the gate holds at most maxRecords records and maxBytes bytes (one record larger
// than maxBytes is taken alone); a full gate refuses records and asks the consumer to pause
// (onFull) until it is back under half its bound (onRoom); a failed DLQ write is retried with
// bounded backoff until close(); nothing is skipped, and close() never leaves a waiter hanging.
import type { Logger } from 'pino';
import { toDeadLetter, type DeadLetter, type DeadLetterSink } from '../core/dead-letter.js';
import type { SinkRecord } from '../core/sink-record.js';
import type { Clock } from '../core/clock.js';
import { classifyError } from '../resilience/classify-error.js';
import { SinkError, toError } from '../core/errors.js';

export interface OverflowGateOptions {
  readonly dlq: DeadLetterSink;
  readonly clock: Clock;
  readonly log: Logger;
  readonly maxRecords: number;
  readonly maxBytes: number;
  /** Delay before retry number `attempt` (1 = after the first failure) of a DLQ write. */
  readonly backoffMs: (attempt: number) => number;
  /** Called once the entries are durable in both DLQ destinations. */
  readonly onDropped: (entries: readonly DeadLetter[]) => void;
  /** The gate refused a record: stop fetching. */
  readonly onFull: () => void;
  /** Back under half the bound after onFull: fetching may resume. */
  readonly onRoom: () => void;
  /** A DLQ write failed and will be retried (for metrics). */
  readonly onWriteFailed?: (code: string) => void;
}

export interface OverflowGateStats {
  /** Records (bytes) dropped and not yet durable in the DLQ. */
  readonly records: number;
  readonly bytes: number;
  /** The most the gate ever held. */
  readonly peakRecords: number;
  readonly peakBytes: number;
  readonly full: boolean;
}

/** Rejects settled() for records that will never reach the DLQ: their offsets must not be committed. */
export class OverflowGateClosedError extends SinkError {
  constructor(records: number) {
    super(
      'OVERFLOW_GATE_CLOSED',
      `${records} dropped record(s) were not stored in the DLQ before the overflow gate closed; their offsets stay uncommitted and they are read again after restart`,
      { retriable: false },
    );
  }
}

interface Waiter {
  /** Resolves once this many records (counted since start) are durable. */
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class OverflowGate {
  private waiting: SinkRecord[] = [];
  private records = 0;
  private bytes = 0;
  private peakRecords = 0;
  private peakBytes = 0;
  /** Records taken since start; records durable since start (writes are in order). */
  private taken = 0;
  private durable = 0;
  private waiters: Waiter[] = [];
  private writing = false;
  private full = false;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly o: OverflowGateOptions) {
    if (!Number.isInteger(o.maxRecords) || o.maxRecords < 1)
      throw new RangeError(`maxRecords: expected an integer >= 1, got ${o.maxRecords}`);
    if (!(o.maxBytes >= 1)) throw new RangeError(`maxBytes: expected >= 1, got ${o.maxBytes}`);
  }

  /**
   * Whether the gate takes one more record of `bytes`. When it does not, it is full: the
   * caller keeps the record queued, and onFull has asked the consumer to stop fetching.
   */
  admits(bytes: number): boolean {
    const fits =
      !this.closed &&
      (this.records === 0 ||
        (this.records + 1 <= this.o.maxRecords && this.bytes + bytes <= this.o.maxBytes));
    if (!fits && !this.full && !this.closed) {
      this.full = true;
      this.o.onFull();
    }
    return fits;
  }

  /** Takes records out of the queue's hands; call only after admits() said yes for each. */
  drop(records: readonly SinkRecord[]): void {
    for (const r of records) {
      this.waiting.push(r);
      this.records++;
      this.bytes += r.bytes;
    }
    this.taken += records.length;
    if (this.records > this.peakRecords) this.peakRecords = this.records;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    if (!this.writing && !this.closed && this.waiting.length > 0) {
      this.writing = true;
      void this.writeLoop();
    }
  }

  /** Resolves when every record dropped so far is durable in the DLQ; rejects if it never will be. */
  settled(): Promise<void> {
    if (this.durable >= this.taken) return Promise.resolve();
    if (this.closed) return Promise.reject(new OverflowGateClosedError(this.taken - this.durable));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo: this.taken, resolve, reject });
    });
  }

  stats(): OverflowGateStats {
    return {
      records: this.records,
      bytes: this.bytes,
      peakRecords: this.peakRecords,
      peakBytes: this.peakBytes,
      full: this.full,
    };
  }

  /**
   * Ends retries and refuses further records. Waiters whose records are not durable are
   * rejected at once (a write still in flight may yet land; its records are then in the DLQ
   * and also read again after restart). Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.settleWaiters();
  }

  /** One write at a time, in drop order; a tick's drops go out together. */
  private async writeLoop(): Promise<void> {
    try {
      await new Promise<void>((r) => setImmediate(r));
      while (this.waiting.length > 0 && !this.closed) {
        const batch = this.waiting;
        this.waiting = [];
        const entries = batch.map((r) => this.deadLetter(r));
        if (!(await this.writeUntilDone(entries))) return;
        let bytes = 0;
        for (const r of batch) bytes += r.bytes;
        this.records -= batch.length;
        this.bytes -= bytes;
        this.durable += batch.length;
        try {
          this.o.onDropped(entries);
        } finally {
          this.settleWaiters();
          if (
            this.full &&
            !this.closed &&
            this.records * 2 <= this.o.maxRecords &&
            this.bytes * 2 <= this.o.maxBytes
          ) {
            this.full = false;
            this.o.onRoom();
          }
        }
      }
    } finally {
      // Runs in the same turn as the loop's exit, so a drop() after it starts a new loop.
      this.writing = false;
    }
  }

  /** true once written; false when the gate closed first. */
  private async writeUntilDone(entries: readonly DeadLetter[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.dlq.write(entries);
        return true;
      } catch (e) {
        if (this.closed) return false;
        const c = classifyError(e);
        this.o.onWriteFailed?.(c.code);
        const delay = this.o.backoffMs(attempt);
        this.o.log.warn(
          { err: toError(e), code: c.code, attempt, records: entries.length, retryInMs: Math.round(delay) },
          'overflow DLQ write failed; retrying (fetching pauses while the overflow gate is full)',
        );
        await this.o.clock.sleep(delay, this.abort.signal);
        if (this.closed) return false;
      }
    }
  }

  private settleWaiters(): void {
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.durable) w.resolve();
      else if (this.closed) w.reject(new OverflowGateClosedError(w.upTo - this.durable));
      else keep.push(w);
    }
    this.waiters = keep;
  }

  private deadLetter(r: SinkRecord): DeadLetter {
    return toDeadLetter(r, {
      reason: 'overflow',
      errorCode: 'QUEUE_OVERFLOW',
      errorMessage:
        'dropped as the oldest queued record while the queue was full (queue.overflow=drop_oldest)',
      attempts: 0,
      workerId: 'dispatcher',
      failedAt: this.o.clock.now(),
    });
  }
}
