// Micro-benchmark of the per-message hot path: decode (bytes → COPY line, by either path)
// for typical bar messages, and the COPY text encoding of a batch. Prints figures, asserts none.
//   node --import tsx bench/decode.bench.ts [messages]
import { createDecoder } from '../src/pipeline/decode.js';
import { encodeCopyRows } from '../src/sink/copy-text.js';
import { builtinMappings } from '../src/config/builtin-mappings.js';
import { sampleMessage, symbols } from '../src/sample/sample-data.js';

const N = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(N) || N <= 0)
  throw new Error(`messages: expected a positive integer, got ${process.argv[2]}`);

const bars = builtinMappings().find((m) => m.topicSuffix === 'bars')!;
const decoder = createDecoder(bars, { maxMessageBytes: 1_048_576 });
const full = createDecoder(bars, { maxMessageBytes: 1_048_576, fastPath: false });
const universe = symbols(500);
// A pool of distinct messages, so the figure is not one string's cached hidden class.
const pool = Array.from({ length: 10_000 }, (_, i) =>
  Buffer.from(JSON.stringify(sampleMessage('bars', i, universe).value)),
);

function measure(label: string, count: number, unit: string, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(count, 50_000); i++) fn(i); // warm-up: let the JIT settle first
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) fn(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `${label}: ${Math.round(count / s).toLocaleString('en-US')} ${unit}/s (${count} in ${s.toFixed(3)} s)`,
  );
}

let sink = 0;
measure('decode bars, fast path', N, 'messages', (i) => {
  const r = decoder.decode(pool[i % pool.length]!);
  if (!r.ok) throw r.error;
  sink += r.row.length;
});
measure('decode bars, full path (JSON.parse, schema)', N, 'messages', (i) => {
  const r = full.decode(pool[i % pool.length]!);
  if (!r.ok) throw r.error;
  sink += r.row.length;
});

const rows = pool.map((b) => {
  const r = decoder.decode(b);
  if (!r.ok) throw r.error;
  return r.row;
});
// Batches of SINK_MAX_BATCH_SIZE's default, the size a worker with a backlog writes.
const BATCH = 2000;
const batches = Math.max(1, Math.round(N / BATCH));
measure(`encodeCopyRows (${BATCH}-row batches)`, batches, 'batches', (i) => {
  const from = (i * BATCH) % rows.length;
  for (const chunk of encodeCopyRows(rows.slice(from, from + BATCH))) sink += chunk.length;
});
console.log(
  `rows/s for COPY encoding ≈ batches/s × ${BATCH}; sample bytes ${pool[0]!.length}, check ${sink % 10}`,
);
