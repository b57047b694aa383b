// The repository root (where package.json lives), whether we run from src/ via tsx or from
// dist/src/ after a build; config/ and src/sql/ are found relative to it.
import fs from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

export function projectRoot(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return (cached = dir);
    dir = path.dirname(dir);
  }
  return (cached = process.cwd());
}
