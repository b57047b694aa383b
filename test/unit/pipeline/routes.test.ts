// Routes per topic: with tombstones=delete an upsert topic gets a key decoder that takes
// exactly the conflict-key columns, all required; other settings and copy topics get none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinMappings } from '../../../src/config/builtin-mappings.js';
import { buildRoutes } from '../../../src/pipeline/routes.js';
import type { TopicMapping } from '../../../src/core/topic-mapping.js';

const TENANT = '00000000-0000-4000-8000-000000000001';
const bars = (mode: 'upsert' | 'copy'): TopicMapping =>
  builtinMappings(mode).find((m) => m.table === 'bars')!;
const opts = { maxMessageBytes: 1 << 20, defaultTenantId: undefined };
const key = {
  ts: '2024-01-02T03:04:05Z',
  tenant_id: TENANT,
  vendor: 'v',
  symbol: 'aapl',
  timeframe: '1m',
};

test('routes: tombstones=delete gives an upsert topic a decoder of its conflict key', () => {
  const routes = buildRoutes(new Map([['md.bars', bars('upsert')]]), { ...opts, tombstones: 'delete' });
  const route = routes.get('md.bars')!;
  assert.equal(route.mapping.table, 'bars');
  const kd = route.keyDecoder;
  assert.ok(kd !== undefined);
  const ok = kd.decode(Buffer.from(JSON.stringify(key)));
  assert.equal(ok.ok, true);
  assert.equal(ok.ok && ok.row.split('\t').length, 5);
  // Every key column is required, even one the value decoder would default.
  const { tenant_id: _t, ...noTenant } = key;
  const missing = kd.decode(Buffer.from(JSON.stringify(noTenant)));
  assert.equal(missing.ok, false);
  // The value decoder still wants the full record.
  assert.equal(route.decoder.decode(Buffer.from(JSON.stringify(key))).ok, false);
});

test('routes: no key decoder for tombstones=dlq/ignore, nor for a copy topic', () => {
  for (const tombstones of ['dlq', 'ignore'] as const) {
    const r = buildRoutes(new Map([['md.bars', bars('upsert')]]), { ...opts, tombstones });
    assert.equal(r.get('md.bars')!.keyDecoder, undefined);
  }
  const copy = buildRoutes(new Map([['md.bars', bars('copy')]]), { ...opts, tombstones: 'delete' });
  assert.equal(copy.get('md.bars')!.keyDecoder, undefined);
});

test('routes: a key column the mapping does not declare is refused, named', () => {
  const broken = { ...bars('upsert'), key: ['ts', 'nope'] };
  assert.throws(
    () => buildRoutes(new Map([['md.bars', broken]]), { ...opts, tombstones: 'delete' }),
    /key column nope is not among the columns/,
  );
});
