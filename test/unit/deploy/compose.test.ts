// The compose stack, checked without a Docker engine: what `docker compose up --scale sink=3`
// needs (topics before the sink, no fixed host port, restart policy, pinned images, every
// replica scraped) and that every setting it passes the sink is one the config knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { schemaLeaves } from '../../../src/config/load-config.js';
import { SEED_ALIASES } from '../../../src/config/seed-aliases.js';
import { builtinMappings } from '../../../src/config/builtin-mappings.js';

const ROOT = path.resolve(__dirname, '../../..');
const read = (f: string): string => fs.readFileSync(path.join(ROOT, f), 'utf8');

interface Service {
  readonly image?: string;
  readonly build?: unknown;
  readonly ports?: readonly string[];
  readonly restart?: string;
  readonly environment?: Record<string, string>;
  readonly depends_on?: Record<string, { condition?: string }>;
  readonly healthcheck?: { test?: readonly string[] };
  readonly command?: readonly string[];
}

const compose = YAML.parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const services = compose.services;

void test('compose: every image is pinned to a version, none to latest', () => {
  const images = Object.entries(services).filter(([, s]) => s.image !== undefined);
  assert.ok(images.length >= 4, 'kafka, timescaledb, prometheus and grafana come from images');
  for (const [name, s] of images) {
    const tag = /:([^:/]+)$/.exec(s.image!)?.[1];
    assert.ok(tag !== undefined && tag !== 'latest' && /\d/.test(tag), `${name}: ${s.image} is pinned`);
  }
  assert.match(read('Dockerfile'), /^FROM node:(22|24)-/m, 'the Dockerfile uses a supported Node LTS');
  assert.doesNotMatch(read('Dockerfile'), /^FROM node:(1\d|20|21|23)-/m);
});

void test('compose: the sink scales (no host port, restarts, starts after its topics exist)', () => {
  const sink = services.sink!;
  assert.equal(sink.ports, undefined, 'a fixed host port would stop --scale sink=3');
  assert.equal(sink.restart, 'unless-stopped');
  assert.equal(sink.depends_on?.['kafka-init']?.condition, 'service_completed_successfully');
  assert.equal(sink.depends_on?.timescaledb?.condition, 'service_healthy');
  assert.equal(services.producer!.depends_on?.['kafka-init']?.condition, 'service_completed_successfully');

  // The init service creates every topic the sink subscribes to with the compose prefix.
  const prefix = sink.environment?.TOPIC_PREFIX ?? 'md.';
  const init = JSON.stringify(services['kafka-init']!.command);
  for (const m of builtinMappings())
    assert.ok(init.includes(prefix + m.topicSuffix), `creates ${prefix}${m.topicSuffix}`);
  assert.ok(init.includes(sink.environment?.DLQ_TOPIC ?? 'md.dlq'), 'creates the DLQ topic');
  assert.ok(init.includes('--if-not-exists'), 'topic creation is idempotent');

  // pg_isready over the socket passes against initdb's temporary server.
  assert.match(String(services.timescaledb!.healthcheck?.test), /pg_isready -h 127\.0\.0\.1/);

  const prom = YAML.parse(read('config/prometheus.yml')) as {
    scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
  };
  const job = prom.scrape_configs.find((j) => j.job_name === 'market-data-sink');
  assert.deepEqual(
    job?.dns_sd_configs?.map((d) => [d.names, d.port]),
    [[['sink'], 9464]],
  );
});

void test('compose: every variable given to the sink is a setting the config knows', () => {
  const known = new Set<string>();
  for (const l of schemaLeaves().values()) if (l.env !== undefined) known.add(l.env);
  for (const a of SEED_ALIASES) known.add(a.seed);
  for (const name of ['sink', 'producer']) {
    for (const env of Object.keys(services[name]!.environment ?? {}))
      assert.ok(known.has(env), `${name}: ${env} is not a known setting`);
  }
});

// Debian's docker-compose 1.29 validates the file against the compose schema offline;
// .ci/run installs it, so CI always runs this check.
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
void test(
  'compose: docker-compose config accepts the file',
  { skip: !hasCompose && 'docker-compose not installed' },
  () => {
    execFileSync('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), 'config', '-q'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const scaled = execFileSync(
      'docker-compose',
      ['-f', path.join(ROOT, 'docker-compose.yml'), 'config', '--services'],
      { encoding: 'utf8' },
    );
    assert.ok(scaled.split('\n').includes('kafka-init'));
  },
);
