// docs/configuration.md from the convict schema: prints it, --write writes it, --check exits 1
// (naming the fix) when the file differs from what the schema gives.
import fs from 'node:fs';
import path from 'node:path';
import { configurationDoc } from '../src/config/config-docs.js';

const file = path.resolve(__dirname, '../docs/configuration.md');
const doc = configurationDoc();
if (process.argv.includes('--write')) {
  fs.writeFileSync(file, doc);
} else if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== doc) {
    process.stderr.write('docs/configuration.md is out of date: run `npm run -s config-docs -- --write`\n');
    process.exit(1);
  }
} else {
  process.stdout.write(doc);
}
