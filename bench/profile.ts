// The E2E worker's CPU profile (node --cpu-prof) summed by function: the hottest ones by self
// time, printed by `npm run bench -- --cpu-prof`.
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Self time per function of the newest .cpuprofile, top N, as "ms  %  function (file:line)". */
export function hottest(dir: string, root: string, n = 15): string[] {
  if (!fs.existsSync(dir)) return [];
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const newest = files[files.length - 1];
  if (newest === undefined) return [];
  const prof = JSON.parse(fs.readFileSync(path.join(dir, newest), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = prof.timeDeltas[i] ?? 0;
    total += dt;
    if (node === undefined) return;
    const f = node.callFrame;
    const name = `${f.functionName || '(anonymous)'} (${f.url.replace(/^.*node_modules\//, '').replace(root, '')}:${f.lineNumber + 1})`;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([name, us]) =>
        `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`,
    );
}
