// The bench's SVG pieces: rates from cumulative progress, the latency histogram, and an SVG
// that holds one line per phase, the histogram's bars and escaped labels.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, latencyHistogram, niceStep, ratesOverTime, renderSvg } from '../../../bench/plot.js';

describe('ratesOverTime', () => {
  it('turns cumulative samples into rows/s per window, the last window over its own length', () => {
    const pts = ratesOverTime([
      { t: 500, n: 100 },
      { t: 1000, n: 1000 },
      { t: 2000, n: 3000 },
      { t: 2500, n: 3500 },
    ]);
    assert.deepEqual(pts, [
      { s: 1, rate: 1000 },
      { s: 2, rate: 2000 },
      { s: 2.5, rate: 1000 },
    ]);
  });

  it('gives a window with no new sample a rate of 0', () => {
    assert.deepEqual(
      ratesOverTime([
        { t: 1000, n: 10 },
        { t: 3000, n: 30 },
      ]),
      [
        { s: 1, rate: 10 },
        { s: 2, rate: 0 },
        { s: 3, rate: 20 },
      ],
    );
  });

  it('is empty without samples', () => {
    assert.deepEqual(ratesOverTime([]), []);
  });
});

describe('latencyHistogram', () => {
  it('uses linear buckets up to the 99.9th percentile and counts the rest as over', () => {
    // 1999 values 0..99 and one outlier: index floor(0.999 × 2000) = 1998 is still 99.
    const sorted = [...Array.from({ length: 1999 }, (_, i) => i % 100), 5000].sort((a, b) => a - b);
    const h = latencyHistogram(sorted, 10);
    assert.equal(h.bucketMs, 10); // (99 + 1) / 10
    assert.equal(h.counts.length, 10);
    assert.equal(h.over, 1);
    assert.equal(
      h.counts.reduce((a, b) => a + b, 0),
      1999,
    );
    assert.equal(h.counts[0], 200); // 0..9, twenty times each
    assert.equal(h.counts[9], 199); // 99 appears 19 times
  });

  it('handles no samples', () => {
    assert.deepEqual(latencyHistogram([]), { bucketMs: 1, counts: [], over: 0 });
  });
});

describe('niceStep', () => {
  it('picks 1, 2 or 5 times a power of ten', () => {
    assert.equal(niceStep(100), 20);
    assert.equal(niceStep(93_000), 20_000);
    assert.equal(niceStep(7), 2);
    assert.equal(niceStep(0), 1);
  });
});

describe('renderSvg', () => {
  it('draws one polyline per phase with data and the histogram with p50/p99 markers', () => {
    const svg = renderSvg({
      title: 'run <1> & co',
      phases: {
        E2E: [
          { s: 1, rate: 50_000 },
          { s: 2, rate: 60_000 },
        ],
        L_db: [{ s: 1, rate: 90_000 }],
        empty: [],
      },
      latency: { histogram: { bucketMs: 10, counts: [1, 5, 2], over: 3 }, p50: 15, p99: 28, rate: 20000 },
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="960"/);
    assert.equal(svg.match(/<polyline /g)?.length, 2);
    assert.equal(svg.match(/<rect x=/g)?.length, 3);
    assert.match(svg, /p50 15 ms/);
    assert.match(svg, /p99 28 ms/);
    assert.match(svg, /3 above 30 ms/);
    assert.ok(svg.includes('run &#60;1&#62; &#38; co'));
    assert.ok(!svg.includes('<1>'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
  });

  it('is one panel wide without a latency run', () => {
    const svg = renderSvg({ title: 't', phases: { E2E: [{ s: 1, rate: 1 }] } });
    assert.match(svg, /width="480"/);
    assert.equal(svg.match(/<rect x=/g), null);
  });
});

describe('escapeXml', () => {
  it('escapes the five XML specials', () => {
    assert.equal(escapeXml(`<a b="c" d='e'>&`), '&#60;a b=&#34;c&#34; d=&#39;e&#39;&#62;&#38;');
  });
});
