// The bench's picture, written beside its JSON so two runs compare by eye: rows/s over time
// for each phase (left) and the latency distribution of the steady-rate run (right). Plain
// SVG text built here (no charting package for two panels); pure, so it is unit-tested.

/** Cumulative progress of a phase: `n` records done `t` ms after the phase started. */
export interface Progress {
  readonly t: number;
  readonly n: number;
}

export interface RatePoint {
  /** Seconds since the phase started (end of the window). */
  readonly s: number;
  readonly rate: number;
}

/**
 * Rows/s per window of `windowMs`, from cumulative samples sorted by time; the last window
 * ends at the last sample and its rate is over its own length.
 */
export function ratesOverTime(samples: readonly Progress[], windowMs = 1000): RatePoint[] {
  const out: RatePoint[] = [];
  const last = samples[samples.length - 1]?.t ?? 0;
  let i = -1;
  let prev = 0;
  for (let start = 0; start < last; start += windowMs) {
    const end = Math.min(start + windowMs, last);
    while (i + 1 < samples.length && samples[i + 1]!.t <= end) i++;
    const n = i >= 0 ? samples[i]!.n : 0;
    out.push({ s: end / 1000, rate: ((n - prev) / (end - start)) * 1000 });
    prev = n;
  }
  return out;
}

export interface Histogram {
  /** Width of each bucket in ms; bucket i holds [i·bucketMs, (i+1)·bucketMs). */
  readonly bucketMs: number;
  readonly counts: number[];
  /** Samples above the last bucket (past the 99.9th percentile). */
  readonly over: number;
}

/** Linear buckets up to the 99.9th percentile (a few outliers must not flatten the picture). */
export function latencyHistogram(sorted: readonly number[], buckets = 50): Histogram {
  if (sorted.length === 0) return { bucketMs: 1, counts: [], over: 0 };
  const top = sorted[Math.min(sorted.length - 1, Math.floor(0.999 * sorted.length))]!;
  const bucketMs = Math.max(1, Math.ceil((top + 1) / buckets));
  const counts = new Array<number>(buckets).fill(0);
  let over = 0;
  for (const v of sorted) {
    const b = Math.floor(Math.max(0, v) / bucketMs);
    if (b < buckets) counts[b]!++;
    else over++;
  }
  return { bucketMs, counts, over };
}

export interface PlotInput {
  readonly title: string;
  readonly phases: Readonly<Record<string, readonly RatePoint[]>>;
  readonly latency?:
    | { readonly histogram: Histogram; readonly p50: number; readonly p99: number; readonly rate: number }
    | undefined;
}

const W = 480;
const H = 300;
const M = { l: 64, r: 16, t: 36, b: 44 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round step for about `ticks` ticks over [0, max]: 1, 2 or 5 × 10^k. */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

const fmt = (v: number): string =>
  v >= 1000 ? `${Number((v / 1000).toFixed(1))}k` : String(Number(v.toFixed(1)));

/** Axes, grid and tick labels of one panel at horizontal offset `x0`. */
function axes(
  x0: number,
  xMax: number,
  yMax: number,
  xLabel: string,
  yLabel: string,
  title: string,
): string[] {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const out = [
    `<text x="${x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
    `<line x1="${x0 + M.l}" y1="${M.t + ph}" x2="${x0 + M.l + pw}" y2="${M.t + ph}" stroke="#000"/>`,
    `<line x1="${x0 + M.l}" y1="${M.t}" x2="${x0 + M.l}" y2="${M.t + ph}" stroke="#000"/>`,
    `<text x="${x0 + M.l + pw / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text x="${x0 + 14}" y="${M.t + ph / 2}" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${M.t + ph / 2})">${escapeXml(yLabel)}</text>`,
  ];
  const xs = niceStep(xMax);
  for (let v = 0; v <= xMax + 1e-9; v += xs) {
    const x = x0 + M.l + (v / xMax) * pw;
    out.push(`<text x="${x.toFixed(1)}" y="${M.t + ph + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  const ys = niceStep(yMax);
  for (let v = 0; v <= yMax + 1e-9; v += ys) {
    const y = M.t + ph - (v / yMax) * ph;
    out.push(
      `<line x1="${x0 + M.l}" y1="${y.toFixed(1)}" x2="${x0 + M.l + pw}" y2="${y.toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${x0 + M.l - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  return out;
}

export function renderSvg(input: PlotInput): string {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const parts: string[] = [];
  // Left: rows/s over time, one polyline per phase.
  const series = Object.entries(input.phases).filter(([, pts]) => pts.length > 0);
  const xMax = Math.max(1, ...series.flatMap(([, pts]) => pts.map((p) => p.s)));
  const yMax = Math.max(1, ...series.flatMap(([, pts]) => pts.map((p) => p.rate))) * 1.05;
  parts.push(
    ...axes(0, xMax, yMax, 'seconds since phase start', 'rows/s', `${input.title}: rows/s per phase`),
  );
  series.forEach(([name, pts], i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = pts
      .map((p) => `${(M.l + (p.s / xMax) * pw).toFixed(1)},${(M.t + ph - (p.rate / yMax) * ph).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"><title>${escapeXml(name)}</title></polyline>`,
      `<text x="${M.l + pw - 4}" y="${M.t + 14 + 14 * i}" text-anchor="end" fill="${color}">${escapeXml(name)}</text>`,
    );
  });
  // Right: latency histogram.
  const lat = input.latency;
  if (lat !== undefined && lat.histogram.counts.length > 0) {
    const h = lat.histogram;
    const x0 = W;
    const lxMax = h.bucketMs * h.counts.length;
    const lyMax = Math.max(1, ...h.counts) * 1.05;
    parts.push(
      ...axes(x0, lxMax, lyMax, 'commit − record timestamp, ms', 'records', `latency at ${lat.rate}/s`),
    );
    const bw = pw / h.counts.length;
    h.counts.forEach((c, i) => {
      const bh = (c / lyMax) * ph;
      parts.push(
        `<rect x="${(x0 + M.l + i * bw).toFixed(1)}" y="${(M.t + ph - bh).toFixed(1)}" width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="#1f77b4"/>`,
      );
    });
    for (const [label, v, color] of [
      ['p50', lat.p50, '#2ca02c'],
      ['p99', lat.p99, '#d62728'],
    ] as const) {
      if (!(v <= lxMax)) continue;
      const x = x0 + M.l + (v / lxMax) * pw;
      parts.push(
        `<line x1="${x.toFixed(1)}" y1="${M.t}" x2="${x.toFixed(1)}" y2="${M.t + ph}" stroke="${color}" stroke-dasharray="4 3"/>`,
        `<text x="${(x + 3).toFixed(1)}" y="${M.t + 12}" fill="${color}">${label} ${Math.round(v)} ms</text>`,
      );
    }
    if (h.over > 0)
      parts.push(
        `<text x="${x0 + M.l + pw}" y="${M.t + 28}" text-anchor="end">${h.over} above ${lxMax} ms</text>`,
      );
  }
  const width = lat === undefined ? W : 2 * W;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${H}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
