// The metrics HTTP server: /metrics from the real registry, /healthz and /readyz answering
// 200 or 503 with the reasons as JSON, 404/405 for anything else, and an idempotent close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsServer, type HealthReport, type HealthSource } from '../../../src/metrics/http-server.js';
import { SinkMetrics } from '../../../src/metrics/sink-metrics.js';

class FakeHealth implements HealthSource {
  live: HealthReport = { ok: true, reasons: [], workers_alive: 4 };
  ready: HealthReport = { ok: true, reasons: [], database: true };
  readyError: Error | null = null;

  liveness(): HealthReport {
    return this.live;
  }

  readiness(): Promise<HealthReport> {
    return this.readyError === null ? Promise.resolve(this.ready) : Promise.reject(this.readyError);
  }
}

interface Running {
  readonly server: MetricsServer;
  readonly metrics: SinkMetrics;
  readonly health: FakeHealth;
  readonly url: (path: string) => string;
}

async function withServer(fn: (s: Running) => Promise<void>): Promise<void> {
  const metrics = new SinkMetrics();
  const health = new FakeHealth();
  const server = new MetricsServer(metrics.registry, health, '127.0.0.1', 0);
  const port = await server.start();
  try {
    await fn({ server, metrics, health, url: (p) => `http://127.0.0.1:${port}${p}` });
  } finally {
    await server.close();
  }
}

async function getJson(url: string): Promise<{ status: number; type: string | null; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
}

void test('start() on port 0 listens on an ephemeral port and returns it', async () => {
  await withServer(async ({ url }) => {
    const port = Number(new URL(url('/')).port);
    assert.ok(port > 0 && port < 65536, `port ${port}`);
    assert.equal((await fetch(url('/metrics'))).status, 200);
  });
});

void test('GET /metrics serves the registry in the Prometheus text format', async () => {
  await withServer(async ({ url, metrics }) => {
    metrics.queueDepth.set({ coord_id: 'market-data-sink' }, 42);
    const res = await fetch(url('/metrics'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), metrics.registry.contentType);
    const lines = (await res.text()).split('\n');
    assert.ok(
      lines.includes(
        '# HELP mds_coord_queue_depth Records held between the consumer and the writers (queued + being written).',
      ),
    );
    assert.ok(lines.includes('# TYPE mds_coord_queue_depth gauge'));
    assert.ok(lines.includes('mds_coord_queue_depth{coord_id="market-data-sink"} 42'));
    assert.ok(lines.some((l) => l.startsWith('# HELP process_resident_memory_bytes ')));

    // A query string does not change the route.
    assert.equal((await fetch(url('/metrics?name[]=mds_ready'))).status, 200);
  });
});

void test('/healthz answers 200 with the report when live and 503 with the reasons when not', async () => {
  await withServer(async ({ url, health }) => {
    assert.deepEqual(await getJson(url('/healthz')), {
      status: 200,
      type: 'application/json',
      body: { ok: true, reasons: [], workers_alive: 4 },
    });

    health.live = { ok: false, reasons: ['1 sink worker(s) died'], workers_alive: 3 };
    assert.deepEqual(await getJson(url('/healthz')), {
      status: 503,
      type: 'application/json',
      body: { ok: false, reasons: ['1 sink worker(s) died'], workers_alive: 3 },
    });
  });
});

void test('/readyz answers 200 when ready, 503 with the reasons when not, 500 when the check throws', async () => {
  await withServer(async ({ url, health }) => {
    assert.deepEqual(await getJson(url('/readyz')), {
      status: 200,
      type: 'application/json',
      body: { ok: true, reasons: [], database: true },
    });

    const reasons = ['not joined to the consumer group', 'circuit breaker open (database writes failing)'];
    health.ready = { ok: false, reasons, database: true };
    assert.deepEqual(await getJson(url('/readyz')), {
      status: 503,
      type: 'application/json',
      body: { ok: false, reasons, database: true },
    });

    health.readyError = new Error('boom');
    assert.deepEqual(await getJson(url('/readyz')), {
      status: 500,
      type: 'application/json',
      body: { error: 'Error: boom' },
    });
  });
});

void test('other paths answer 404 and other methods 405', async () => {
  await withServer(async ({ url }) => {
    for (const p of ['/', '/nope', '/metricsx', '/healthz/extra', '/READYZ']) {
      assert.deepEqual(await getJson(url(p)), {
        status: 404,
        type: 'application/json',
        body: { error: 'not found' },
      });
    }
    const post = await fetch(url('/metrics'), { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await post.arrayBuffer();
  });
});

void test('close() is idempotent, safe before start(), and stops the listener', async () => {
  const idle = new MetricsServer(new SinkMetrics(false).registry, new FakeHealth(), '127.0.0.1', 0);
  await idle.close();

  const server = new MetricsServer(new SinkMetrics(false).registry, new FakeHealth(), '127.0.0.1', 0);
  const port = await server.start();
  // A kept-alive connection must not hold close() open.
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  await Promise.all([server.close(), server.close()]);
  await server.close();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), TypeError);
});
