// The four market-data topics and their tables: the wire format producers rely on.
// Column names, types and keys follow the seed models; keep them (add, don't rename).
import type { TopicMapping, WriteMode } from '../core/topic-mapping.js';

const SYMBOL = { name: 'symbol', type: 'text', required: true, maxLength: 20, upperCase: true } as const;
const TENANT = { name: 'tenant_id', type: 'uuid', required: true, defaultTenant: true } as const;
const VENDOR = { name: 'vendor', type: 'text', required: true, maxLength: 64 } as const;
const PRICE = (name: string, required = false) => ({ name, type: 'numeric', required, min: 0 }) as const;

export function builtinMappings(mode: WriteMode = 'upsert'): TopicMapping[] {
  return [
    {
      topicSuffix: 'bars',
      table: 'bars',
      mode,
      key: ['ts', 'tenant_id', 'vendor', 'symbol', 'timeframe'],
      columns: [
        TENANT,
        VENDOR,
        SYMBOL,
        { name: 'timeframe', type: 'text', required: true, maxLength: 16 },
        { name: 'ts', type: 'timestamptz', required: true },
        PRICE('open_price'),
        PRICE('high_price'),
        PRICE('low_price'),
        PRICE('close_price', true),
        { name: 'volume', type: 'bigint', min: 0 },
      ],
    },
    {
      topicSuffix: 'options',
      table: 'options_snap',
      mode,
      key: ['ts', 'tenant_id', 'vendor', 'symbol', 'expiry', 'option_type', 'strike'],
      columns: [
        TENANT,
        VENDOR,
        SYMBOL,
        { name: 'expiry', type: 'date', required: true },
        { name: 'option_type', type: 'text', required: true, enum: ['C', 'P'], maxLength: 1 },
        PRICE('strike', true),
        { name: 'ts', type: 'timestamptz', required: true },
        { name: 'iv', type: 'double', min: 0 },
        { name: 'delta', type: 'double', min: -1, max: 1 },
        { name: 'gamma', type: 'double' },
        { name: 'oi', type: 'bigint', min: 0 },
        { name: 'volume', type: 'bigint', min: 0 },
        PRICE('spot'),
      ],
    },
    {
      topicSuffix: 'fundamentals',
      table: 'fundamentals',
      mode,
      key: ['asof', 'tenant_id', 'vendor', 'symbol'],
      columns: [
        TENANT,
        VENDOR,
        SYMBOL,
        { name: 'asof', type: 'timestamptz', required: true },
        { name: 'total_assets', type: 'numeric' },
        { name: 'total_liabilities', type: 'numeric' },
        { name: 'net_income', type: 'numeric' },
        { name: 'eps', type: 'numeric' },
      ],
    },
    {
      topicSuffix: 'news',
      table: 'news',
      mode,
      key: ['published_at', 'tenant_id', 'vendor', 'id'],
      columns: [
        TENANT,
        VENDOR,
        { name: 'id', type: 'text', required: true, maxLength: 200 },
        { name: 'published_at', type: 'timestamptz', required: true },
        { name: 'title', type: 'text', required: true, maxLength: 1000 },
        { name: 'url', type: 'text', maxLength: 2048 },
        { ...SYMBOL, required: false },
        { name: 'sentiment_score', type: 'double', min: -1, max: 1 },
      ],
    },
  ];
}
