// GET /metrics (Prometheus), /healthz (liveness) and /readyz (readiness), JSON bodies that
// say why, and /status: the member's partitions, pauses and their causes, breaker and queue. Liveness fails only when restarting the process can help (event loop stuck,
// consumer crashed for good, a worker died); readiness also covers the group, the database
// and the breaker, so traffic routing and alerts see a paused or cut-off member.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthReport {
  readonly ok: boolean;
  readonly reasons: string[];
  readonly [field: string]: unknown;
}

export interface HealthSource {
  liveness(): HealthReport;
  readiness(): Promise<HealthReport>;
}

/** The running member's state for GET /status (read-only, cheap: no I/O). */
export interface StatusSource {
  status(): Record<string, unknown>;
}

export class MetricsServer {
  private server: http.Server | null = null;

  constructor(
    private readonly registry: Registry,
    private readonly health: HealthSource,
    private readonly host: string,
    private readonly port: number,
    private readonly statusSource: StatusSource | null = null,
  ) {}

  async start(): Promise<number> {
    const server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
      } else if (path === '/metrics') {
        const body = await this.registry.metrics();
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
      } else if (path === '/healthz') {
        json(res, this.health.liveness());
      } else if (path === '/readyz') {
        json(res, await this.health.readiness());
      } else if (path === '/status' && this.statusSource !== null) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(this.statusSource.status()));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      }
    } catch (e) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(e) }));
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

function json(res: http.ServerResponse, report: HealthReport): void {
  res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report));
}
