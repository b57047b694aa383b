// Realistic market-data messages for the demo, tests and the benchmark: bars, option
// snapshots, fundamentals and news for a universe of symbols, deterministic for a seed so a
// test can compute the exact rows it expects.

export const SAMPLE_TENANT = '6f1c1b9e-3a59-4f4e-9d43-2a1f0c7b8e01';

/** Small fast PRNG (mulberry32): deterministic per seed, no dependency. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function symbols(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    let x = i;
    do {
      s = String.fromCharCode(65 + (x % 26)) + s;
      x = Math.floor(x / 26) - 1;
    } while (x >= 0);
    out.push(`S${s}`);
  }
  return out;
}

export type Kind = 'bars' | 'options' | 'fundamentals' | 'news';

export interface SampleMessage {
  readonly kind: Kind;
  /** Kafka key: the instrument, so one instrument's updates stay in order in one partition. */
  readonly key: string;
  readonly value: Record<string, unknown>;
}

const BASE_TS = Date.UTC(2026, 0, 5, 14, 30, 0);

function price(r: () => number, base: number): string {
  return (base * (0.95 + r() * 0.1)).toFixed(4);
}

/** Every kind's value starts with the tenant and vendor; the key is the instrument. */
function message(kind: Kind, symbol: string, fields: Record<string, unknown>): SampleMessage {
  return { kind, key: symbol, value: { tenant_id: SAMPLE_TENANT, vendor: 'demo', ...fields } };
}

/** The i-th message of a kind; same (kind, i, symbols, seed) gives the same message. */
export function sampleMessage(kind: Kind, i: number, universe: readonly string[], seed = 1): SampleMessage {
  const r = prng(seed * 1_000_003 + i * 7 + kind.length);
  const symbol = universe[i % universe.length]!;
  const step = Math.floor(i / universe.length);
  const base = 20 + (i % universe.length) * 1.7;
  switch (kind) {
    case 'bars': {
      const o = Number(price(r, base));
      const c = Number(price(r, base));
      return message(kind, symbol, {
        symbol,
        timeframe: '1m',
        ts: new Date(BASE_TS + step * 60_000).toISOString(),
        open_price: o.toFixed(4),
        high_price: (Math.max(o, c) * 1.01).toFixed(4),
        low_price: (Math.min(o, c) * 0.99).toFixed(4),
        close_price: c.toFixed(4),
        volume: Math.floor(r() * 100_000),
      });
    }
    case 'options': {
      const strike = (Math.round(base / 5) * 5 + (step % 5) * 5).toFixed(2);
      return message(kind, symbol, {
        symbol,
        expiry: '2026-03-20',
        option_type: step % 2 === 0 ? 'C' : 'P',
        strike,
        ts: BASE_TS + Math.floor(step / 10) * 1000,
        iv: Number((0.1 + r() * 0.6).toFixed(4)),
        delta: Number((r() * 2 - 1).toFixed(4)),
        gamma: Number((r() * 0.1).toFixed(5)),
        oi: Math.floor(r() * 50_000),
        volume: Math.floor(r() * 5_000),
        spot: price(r, base),
      });
    }
    case 'fundamentals':
      return message(kind, symbol, {
        symbol,
        asof: new Date(Date.UTC(2025, step % 12, 1)).toISOString(),
        total_assets: (1e9 * (1 + r())).toFixed(2),
        total_liabilities: (5e8 * (1 + r())).toFixed(2),
        net_income: (1e8 * (r() - 0.2)).toFixed(2),
        eps: (r() * 10).toFixed(4),
      });
    case 'news':
      return message(kind, symbol, {
        id: `demo-${symbol}-${step}`,
        published_at: new Date(BASE_TS + step * 3_600_000).toISOString(),
        title: `${symbol} ${r() > 0.5 ? 'beats' : 'misses'} expectations (item ${step})`,
        url: `https://news.example/${symbol}/${step}`,
        symbol,
        sentiment_score: Number((r() * 2 - 1).toFixed(3)),
      });
  }
}
