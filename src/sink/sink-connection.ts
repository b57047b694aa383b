// One worker's PostgreSQL connection. A connection that saw a connection-level error is
// marked broken and never reused (node-postgres' own advice for errors during COPY); the
// worker opens a fresh one. Staging tables are created here, outside any transaction, so
// a rolled-back batch cannot take them away.
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { TableSql } from './table-sql.js';

export class SinkConnection {
  private broken = false;
  private closed = false;

  private constructor(readonly client: pg.Client) {
    // An idle connection killed by the server emits 'error'; without a listener Node
    // would crash the process. The next query fails and the worker reconnects.
    client.on('error', () => {
      this.broken = true;
    });
    client.on('end', () => {
      this.broken = true;
    });
  }

  /** `config` comes from config/database-connection.ts's pgClientConfig, as every connection's. */
  static async open(config: pg.ClientConfig, tables: readonly TableSql[]): Promise<SinkConnection> {
    const client = new pg.Client(config);
    const conn = new SinkConnection(client);
    try {
      await client.connect();
      for (const t of tables) {
        if (t.createStaging !== '') await client.query(t.createStaging);
        if (t.createDeleteStaging !== '') await client.query(t.createDeleteStaging);
      }
    } catch (e) {
      conn.markBroken();
      await conn.close();
      throw e;
    }
    return conn;
  }

  get usable(): boolean {
    return !this.broken && !this.closed;
  }

  markBroken(): void {
    this.broken = true;
  }

  async query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    return this.client.query(text, values);
  }

  /**
   * Runs `work` between BEGIN and COMMIT; on error rolls back and rethrows. A connection
   * whose ROLLBACK fails is in an unknown state: it is marked broken, never reused.
   * `opening` (literal SQL, no parameters) goes out with BEGIN as one simple query and
   * `work` gets its last result; `work` may end the transaction itself with
   * `commitWith(sql)`: its last statements and COMMIT go out as one simple query. Each
   * saves a round trip per batch: under load a round trip costs a worker far more than a
   * statement like BEGIN takes to run.
   */
  async transaction<T>(
    work: (commitWith: (sql: string) => Promise<void>, opened: pg.QueryResult | undefined) => Promise<T>,
    opening = '',
  ): Promise<T> {
    let committed = false;
    const commitWith = async (sql: string): Promise<void> => {
      await this.query(sql === '' ? 'COMMIT' : `${sql};\nCOMMIT`);
      committed = true;
    };
    try {
      let opened: pg.QueryResult | undefined;
      if (opening === '') await this.query('BEGIN');
      else opened = lastResult(await this.query(`BEGIN;\n${opening}`));
      const result = await work(commitWith, opened);
      if (!committed) await this.query('COMMIT');
      return result;
    } catch (e) {
      // Also after a failed BEGIN: ROLLBACK outside a transaction only warns.
      await this.query('ROLLBACK').catch(() => this.markBroken());
      throw e;
    }
  }

  /** Streams pre-encoded COPY text, in order, into `sql` (a COPY … FROM STDIN). */
  async copyIn(sql: string, chunks: readonly Buffer[]): Promise<void> {
    const stream: Writable = this.client.query(copyFrom(sql));
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
    await finished(stream);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.end();
    } catch {
      // already gone; nothing to release
    }
  }
}

/** node-postgres returns one result per statement, as an array, for a multi-statement query. */
export function lastResult(r: pg.QueryResult | pg.QueryResult[]): pg.QueryResult {
  return Array.isArray(r) ? r[r.length - 1]! : r;
}
