// Liveness and readiness, with the fields the seed coordinator's health() exposed
// (workers_alive, queue_size, capacity, circuit_state) next to ours.
import type pg from 'pg';
import type { BoundedQueue } from '../pipeline/bounded-queue.js';
import type { SinkRecord } from '../core/sink-record.js';
import type { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { Classified } from '../resilience/classify-error.js';
import type { SinkWorker } from '../sink/sink-worker.js';
import type { SinkConsumer } from '../kafka/sink-consumer.js';
import type { HealthReport, HealthSource } from './http-server.js';
import { toError } from '../core/errors.js';

/** One cause that holds writes: the environment, not a record (e.g. SQLSTATE 42P01). */
export interface EnvironmentHold {
  /** The SQLSTATE, or our error code when the database gave none. */
  readonly sqlState: string;
  readonly code: string;
  readonly message: string;
  readonly workers: number;
}

/**
 * Which environment error holds which worker's writes, as the workers report it (set on
 * the failure, cleared by the next write that succeeds). `onChange` gets the distinct holds
 * after every change, for the metric.
 */
export class EnvironmentHolds {
  private readonly byWorker = new Map<number, Classified>();

  constructor(private readonly onChange: (holds: readonly EnvironmentHold[]) => void = () => undefined) {}

  set(workerId: number, error: Classified | null): void {
    if (error === null) this.byWorker.delete(workerId);
    else this.byWorker.set(workerId, error);
    this.onChange(this.list());
  }

  list(): EnvironmentHold[] {
    const out = new Map<string, EnvironmentHold>();
    for (const e of this.byWorker.values()) {
      const sqlState = e.sqlState ?? e.code;
      const seen = out.get(sqlState);
      out.set(sqlState, { sqlState, code: e.code, message: e.message, workers: (seen?.workers ?? 0) + 1 });
    }
    return [...out.values()];
  }
}

export interface HealthDeps {
  readonly workers: readonly SinkWorker[];
  readonly queue: BoundedQueue<SinkRecord>;
  readonly breaker: CircuitBreaker;
  readonly consumer: () => SinkConsumer | null;
  readonly control: pg.Pool;
  readonly isStopping: () => boolean;
  readonly fatal: () => Error | null;
  readonly environment: EnvironmentHolds;
}

export class SinkHealth implements HealthSource {
  private dbCheck: { at: number; ok: boolean; error: string | null } = {
    at: 0,
    ok: false,
    error: 'not checked yet',
  };

  constructor(private readonly d: HealthDeps) {}

  private common(): Record<string, unknown> {
    const s = this.d.queue.stats();
    const c = this.d.consumer();
    return {
      workers_alive: this.d.workers.filter((w) => w.isAlive).length,
      workers: this.d.workers.length,
      queue_size: s.records,
      queue_bytes: s.bytes,
      capacity: s.capacityRecords,
      capacity_bytes: s.capacityBytes,
      circuit_state: this.d.breaker.state,
      joined: c?.isJoined ?? false,
      paused: c?.isPaused ?? false,
      assigned_partitions: c?.assignment.size ?? 0,
      environment_errors: this.d.environment.list(),
    };
  }

  liveness(): HealthReport {
    const reasons: string[] = [];
    const fatal = this.d.fatal();
    if (fatal !== null) reasons.push(`fatal: ${fatal.message}`);
    const alive = this.d.workers.filter((w) => w.isAlive).length;
    if (!this.d.isStopping() && alive < this.d.workers.length)
      reasons.push(`${this.d.workers.length - alive} sink worker(s) died`);
    return { ok: reasons.length === 0, reasons, ...this.common() };
  }

  async readiness(): Promise<HealthReport> {
    const reasons: string[] = [];
    const c = this.d.consumer();
    if (this.d.isStopping()) reasons.push('stopping');
    if (!(c?.isJoined ?? false)) reasons.push('not joined to the consumer group');
    if (this.d.breaker.state === 'open') reasons.push('circuit breaker open (database writes failing)');
    for (const h of this.d.environment.list())
      reasons.push(
        `database refuses writes (the environment, not a record): SQLSTATE ${h.sqlState} (${h.code}) on ${h.workers} worker(s): ${h.message}`,
      );
    const db = await this.database();
    if (!db.ok) reasons.push(`database unreachable: ${db.error ?? 'unknown'}`);
    return { ok: reasons.length === 0, reasons, database: db.ok, ...this.common() };
  }

  /** SELECT 1 at most once a second, with a short timeout, so probes can't pile up. */
  private async database(): Promise<{ ok: boolean; error: string | null }> {
    const now = Date.now();
    if (now - this.dbCheck.at < 1000) return this.dbCheck;
    try {
      await Promise.race([
        this.d.control.query('SELECT 1'),
        new Promise((_, rej) => setTimeout(() => rej(new Error('timeout after 2000 ms')), 2000).unref()),
      ]);
      this.dbCheck = { at: now, ok: true, error: null };
    } catch (e) {
      this.dbCheck = { at: now, ok: false, error: toError(e).message };
    }
    return this.dbCheck;
  }
}
