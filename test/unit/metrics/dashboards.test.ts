// The Grafana dashboard and the Prometheus alert rules only help if every metric they name
// is one the sink exports: each PromQL expression is checked against the real registry, so
// renaming a metric in src/metrics/sink-metrics.ts without updating config/ fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import client from 'prom-client';
import YAML from 'yaml';
import { SinkMetrics } from '../../../src/metrics/sink-metrics.js';
import { projectRoot } from '../../../src/util/project-root.js';

interface Target {
  readonly refId?: string;
  readonly expr?: unknown;
  readonly datasource?: { readonly uid?: unknown };
}
interface ValueMapping {
  readonly type: string;
  readonly options: Record<string, { readonly text?: string }>;
}
interface Panel {
  readonly id?: unknown;
  readonly type?: unknown;
  readonly title?: unknown;
  readonly datasource?: { readonly uid?: unknown };
  readonly gridPos?: { readonly x: number; readonly w: number };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
  readonly fieldConfig?: { readonly defaults?: { readonly mappings?: readonly ValueMapping[] } };
}
interface Dashboard {
  readonly uid?: unknown;
  readonly schemaVersion?: unknown;
  readonly panels?: readonly Panel[];
  readonly templating?: {
    readonly list?: readonly { readonly name?: unknown; readonly definition?: unknown }[];
  };
}
interface AlertRule {
  readonly alert?: unknown;
  readonly expr?: unknown;
  readonly for?: unknown;
  readonly labels?: { readonly severity?: unknown };
  readonly annotations?: {
    readonly summary?: unknown;
    readonly description?: unknown;
    readonly runbook_url?: unknown;
  };
}
interface AlertFile {
  readonly groups?: readonly { readonly name?: unknown; readonly rules?: readonly AlertRule[] }[];
}

const root = projectRoot();
const read = (rel: string): string => fs.readFileSync(path.join(root, rel), 'utf8');
const dashboard = JSON.parse(read('config/grafana/dashboards/market-data-sink.json')) as Dashboard;
const alertFile = YAML.parse(read('config/alerts.yml')) as AlertFile;
const registry = new SinkMetrics().registry;

// --- the extractor under test -----------------------------------------------------------

const OUR_PREFIXES = ['mds_', 'process_', 'nodejs_'];

/**
 * Metric names in a PromQL expression. Rather than know every PromQL function, keyword and
 * label name, keep only identifiers in the namespaces we export (plus Prometheus' own `up`);
 * quoted strings (label values) and Grafana variables ($job, $__rate_interval) go first so
 * a label value that looks like a metric name is not taken for one.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  const names = new Set<string>();
  for (const [id] of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (id === 'up' || OUR_PREFIXES.some((p) => id.startsWith(p))) names.add(id);
  }
  return [...names].sort();
}

/** Whether the registry exports `name`, counting a histogram's _bucket/_sum/_count series. */
function exported(name: string, reg: client.Registry = registry): boolean {
  if (name === 'up') return true; // written by Prometheus for every scrape target
  if (reg.getSingleMetric(name) !== undefined) return true;
  const m = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (m === null) return false;
  const base = reg.getSingleMetric(m[1]!);
  return base instanceof client.Histogram || (base instanceof client.Summary && m[2] !== 'bucket');
}

function unknownIn(exprs: readonly { where: string; expr: string }[]): string[] {
  return exprs.flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((n) => !exported(n))
      .map((n) => `${where}: ${n}`),
  );
}

// --- dashboard --------------------------------------------------------------------------

/** Panels outside rows and inside collapsed rows; rows themselves carry no queries. */
function queryPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => (p.type === 'row' ? queryPanels(p.panels ?? []) : [p]));
}

const panels = queryPanels(dashboard.panels ?? []);
const panelExprs = panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ where: `panel "${String(p.title)}"`, expr: String(t.expr) })),
);
const variableExprs = (dashboard.templating?.list ?? []).map((v) => ({
  where: `variable $${String(v.name)}`,
  expr: String(v.definition),
}));

void test('the dashboard has at least 12 panels, each with a Prometheus query scoped by $job', () => {
  assert.equal(dashboard.uid, 'market-data-sink');
  assert.equal(typeof dashboard.schemaVersion, 'number');
  assert.ok(Number(dashboard.schemaVersion) >= 36, `schemaVersion ${String(dashboard.schemaVersion)}`);
  assert.deepEqual(
    (dashboard.templating?.list ?? []).map((v) => v.name),
    ['job'],
  );
  assert.ok(panels.length >= 12, `expected at least 12 panels, got ${panels.length}`);

  const ids = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels) {
    const title = String(p.title);
    assert.ok(typeof p.title === 'string' && p.title !== '', 'every panel has a title');
    assert.equal(p.datasource?.uid, 'prometheus', `${title}: datasource`);
    assert.ok(
      p.gridPos !== undefined && p.gridPos.x + p.gridPos.w <= 24,
      `${title}: fits the 24-column grid`,
    );
    const targets = p.targets ?? [];
    assert.ok(targets.length > 0, `${title}: has no targets`);
    for (const t of targets) {
      assert.ok(
        typeof t.expr === 'string' && t.expr.trim() !== '',
        `${title}: target ${t.refId} has no expr`,
      );
      assert.equal(t.datasource?.uid, 'prometheus', `${title}: target datasource`);
      assert.match(t.expr, /job=~"\$job"/, `${title}: ${t.expr} is not scoped by $job`);
    }
  }
});

void test('every metric the dashboard queries is exported by SinkMetrics', () => {
  assert.deepEqual(unknownIn([...panelExprs, ...variableExprs]), []);
});

void test('the dashboard covers what an operator needs at a glance', () => {
  const used = new Set([...panelExprs, ...variableExprs].flatMap(({ expr }) => metricNames(expr)));
  const needed = [
    'mds_coord_items_submitted_total',
    'mds_rows_written_total',
    'mds_consumer_lag',
    'mds_consumer_paused_partitions',
    'mds_consumer_pause_events_total',
    'mds_coord_queue_depth',
    'mds_coord_queue_capacity',
    'mds_queue_bytes',
    'mds_coord_circuit_state',
    'mds_coord_workers_alive',
    'mds_worker_write_latency_seconds_bucket',
    'mds_end_to_end_latency_seconds_bucket',
    'mds_batch_size_records_bucket',
    'mds_worker_write_errors_total',
    'mds_retry_attempts_total',
    'mds_dlq_records_total',
    'mds_coord_items_dropped_total',
    'mds_kafka_commit_latency_seconds_bucket',
    'mds_consumer_rebalances_total',
    'mds_consumer_assigned_partitions',
    'mds_ready',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
  ];
  assert.deepEqual(
    needed.filter((n) => !used.has(n)),
    [],
  );
  const quantiles = panelExprs.filter(({ expr }) => expr.startsWith('histogram_quantile('));
  for (const metric of ['mds_worker_write_latency_seconds', 'mds_end_to_end_latency_seconds']) {
    for (const p of ['0.5', '0.99']) {
      assert.ok(
        quantiles.some(
          ({ expr }) => expr.startsWith(`histogram_quantile(${p},`) && expr.includes(`${metric}_bucket`),
        ),
        `no p${Number(p) * 100} panel for ${metric}`,
      );
    }
  }
});

void test('circuit state panels map 0/1/2 to closed/open/half-open', () => {
  const circuit = panels.filter((p) =>
    (p.targets ?? []).some((t) => String(t.expr).includes('mds_coord_circuit_state')),
  );
  assert.ok(circuit.length > 0);
  for (const p of circuit) {
    const options = (p.fieldConfig?.defaults?.mappings ?? []).find((m) => m.type === 'value')?.options ?? {};
    assert.deepEqual(
      Object.fromEntries(Object.entries(options).map(([v, o]) => [v, o.text])),
      { 0: 'closed', 1: 'open', 2: 'half-open' },
      `panel "${String(p.title)}"`,
    );
  }
});

// --- alerts -----------------------------------------------------------------------------

const rules = (alertFile.groups ?? []).flatMap((g) => g.rules ?? []);

void test('every alert rule has expr, for, severity, summary, description and a runbook', () => {
  assert.ok((alertFile.groups ?? []).length > 0, 'alerts.yml has groups');
  for (const r of rules) {
    const name = String(r.alert);
    assert.ok(typeof r.alert === 'string' && /^MarketDataSink[A-Z]\w+$/.test(r.alert), `alert name ${name}`);
    assert.ok(typeof r.expr === 'string' && r.expr.trim() !== '', `${name}: expr`);
    assert.ok(
      typeof r.for === 'string' && /^\d+[smh]$/.test(r.for),
      `${name}: for is a duration, got ${String(r.for)}`,
    );
    assert.ok(
      r.labels?.severity === 'critical' || r.labels?.severity === 'warning',
      `${name}: labels.severity`,
    );
    assert.ok(
      typeof r.annotations?.summary === 'string' && r.annotations.summary.trim() !== '',
      `${name}: summary`,
    );
    assert.ok(
      typeof r.annotations.description === 'string' && r.annotations.description.trim() !== '',
      `${name}: description`,
    );
    assert.equal(r.annotations.runbook_url, 'docs/operations.md#alerts', `${name}: runbook_url`);
  }
  assert.deepEqual(rules.map((r) => r.alert).sort(), [
    'MarketDataSinkCircuitOpen',
    'MarketDataSinkDlqRateHigh',
    'MarketDataSinkDown',
    'MarketDataSinkLagGrowing',
    'MarketDataSinkNoWritesWithLag',
    'MarketDataSinkNotReady',
    'MarketDataSinkWorkerDown',
  ]);
});

void test('every metric the alert rules use is exported by SinkMetrics', () => {
  const exprs = rules.map((r) => ({ where: `alert ${String(r.alert)}`, expr: String(r.expr) }));
  assert.deepEqual(unknownIn(exprs), []);
  // Each rule reads at least one metric, so the check above is not vacuous.
  for (const { where, expr } of exprs) assert.ok(metricNames(expr).length > 0, `${where}: no metric found`);
});

// --- registry ---------------------------------------------------------------------------

void test('every exported metric has help text', () => {
  const metrics = registry.getMetricsAsArray();
  assert.ok(metrics.length > 20);
  assert.deepEqual(
    metrics.filter((m) => m.help.trim() === '').map((m) => m.name),
    [],
  );
});

// --- the check itself -------------------------------------------------------------------

void test('the extractor finds metric names, skips label values and variables, and rejects unknown names', () => {
  const typo = 'sum by (table) (rate(mds_rows_writen_total{job=~"$job",table="mds_bars"}[$__rate_interval]))';
  assert.deepEqual(metricNames(typo), ['mds_rows_writen_total']);
  assert.deepEqual(unknownIn([{ where: 'synthetic', expr: typo }]), ['synthetic: mds_rows_writen_total']);
  assert.deepEqual(unknownIn([{ where: 'fixed', expr: typo.replace('writen', 'written') }]), []);

  const quantile =
    'histogram_quantile(0.99, sum by (le) (rate(mds_worker_write_latency_seconds_bucket[5m])))';
  assert.deepEqual(metricNames(quantile), ['mds_worker_write_latency_seconds_bucket']);
  assert.ok(exported('mds_worker_write_latency_seconds_bucket'));
  assert.ok(exported('mds_end_to_end_latency_seconds_count'));
  // Suffixes are a histogram's only: a gauge has no _bucket series.
  assert.equal(exported('mds_consumer_lag_bucket'), false);
  assert.equal(exported('mds_coord_queue_depth_sum'), false);

  assert.deepEqual(
    metricNames('up{job="market-data-sink"} == 0 and on (instance) process_resident_memory_bytes > 0'),
    ['process_resident_memory_bytes', 'up'],
  );
  assert.deepEqual(unknownIn([{ where: 'x', expr: 'nodejs_eventloop_lagg_seconds > 1' }]), [
    'x: nodejs_eventloop_lagg_seconds',
  ]);
});

// --- wiring between the files -----------------------------------------------------------

interface PrometheusConfig {
  readonly rule_files?: readonly string[];
  readonly scrape_configs?: readonly {
    readonly job_name?: string;
    readonly scrape_interval?: string;
    readonly dns_sd_configs?: readonly { readonly names?: readonly string[]; readonly port?: number }[];
  }[];
}

void test('Prometheus, Grafana provisioning and docker-compose agree on names and paths', () => {
  const prom = YAML.parse(read('config/prometheus.yml')) as PrometheusConfig;
  assert.deepEqual(prom.rule_files, ['/etc/prometheus/alerts.yml']);
  const job = prom.scrape_configs?.find((s) => s.job_name === 'market-data-sink');
  assert.ok(job !== undefined, 'scrape job market-data-sink');
  assert.equal(job.scrape_interval, '5s');
  // Every replica of the compose service `sink` (docker compose up --scale sink=N).
  assert.deepEqual(
    job.dns_sd_configs?.map((s) => [s.names, s.port]),
    [[['sink'], 9464]],
  );
  const down = rules.find((r) => r.alert === 'MarketDataSinkDown');
  assert.match(String(down?.expr), /up\{job="market-data-sink"\}/);

  const ds = YAML.parse(read('config/grafana/provisioning/datasources/prometheus.yml')) as {
    datasources?: { uid?: string; type?: string; url?: string }[];
  };
  assert.deepEqual(
    ds.datasources?.map((d) => [d.uid, d.type, d.url]),
    [['prometheus', 'prometheus', 'http://prometheus:9090']],
  );
  const providers = YAML.parse(read('config/grafana/provisioning/dashboards/dashboards.yml')) as {
    providers?: { type?: string; options?: { path?: string } }[];
  };
  assert.deepEqual(
    providers.providers?.map((p) => [p.type, p.options?.path]),
    [['file', '/var/lib/grafana/dashboards']],
  );

  const compose = read('docker-compose.yml');
  for (const mount of [
    './config/prometheus.yml:/etc/prometheus/prometheus.yml',
    './config/alerts.yml:/etc/prometheus/alerts.yml',
    './config/grafana/provisioning:/etc/grafana/provisioning',
    './config/grafana/dashboards:/var/lib/grafana/dashboards',
  ]) {
    assert.ok(compose.includes(mount), `docker-compose.yml mounts ${mount}`);
  }
});
