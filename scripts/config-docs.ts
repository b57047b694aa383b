// Prints the README's configuration table from the convict schema (or --write it in place).
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_BEGIN, CONFIG_END, configTableMarkdown } from '../src/config/config-docs.js';

const table = configTableMarkdown();
if (process.argv.includes('--write')) {
  const file = path.resolve(__dirname, '../README.md');
  const text = fs.readFileSync(file, 'utf8');
  const a = text.indexOf(CONFIG_BEGIN);
  const b = text.indexOf(CONFIG_END);
  if (a < 0 || b < a) throw new Error('README.md lacks the config-table markers');
  fs.writeFileSync(file, `${text.slice(0, a + CONFIG_BEGIN.length)}\n${table}\n${text.slice(b)}`);
} else {
  process.stdout.write(`${table}\n`);
}
