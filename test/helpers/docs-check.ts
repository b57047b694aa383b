// The docs check: every shell command shown in README.md and docs/*.md (```sh / ```bash
// blocks) must name things that exist. A command that only prints (--help, --version,
// --check) is run for real and must exit 0; a long-running one (npm start, the demo, the
// bench, a replay) is matched instead: its npm script or file must exist and each flag it
// passes must appear in the --help of the program that reads it. A command no rule knows
// is a problem too, so nothing shown goes unchecked.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { schemaLeaves } from '../../src/config/load-config.js';
import { SEED_ALIASES } from '../../src/config/seed-aliases.js';
import { projectRoot } from '../../src/util/project-root.js';

export const ROOT = projectRoot();

export interface ShownCommand {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

/** Shell commands in a markdown text's sh/bash blocks: comments dropped, `\` lines joined. */
export function shellCommands(file: string, markdown: string): ShownCommand[] {
  const out: ShownCommand[] = [];
  let inShell = false;
  let fenced = false;
  let pending = '';
  let pendingLine = 0;
  markdown.split('\n').forEach((raw, i) => {
    const fence = /^```(\w*)\s*$/.exec(raw.trim());
    if (fence !== null) {
      inShell = !fenced && ['sh', 'bash', 'shell'].includes(fence[1]!);
      fenced = !fenced;
      return;
    }
    if (!inShell) return;
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    if (pending === '') pendingLine = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    out.push({ file, line: pendingLine, text: pending + line });
    pending = '';
  });
  return out;
}

/** A program that reads flags, how to run it from the checkout, and whether it has commands. */
interface Program {
  readonly argv: readonly string[];
  readonly hasCommands?: boolean;
}

const TSX = ['node', '--import', 'tsx'];
const MAIN: Program = { argv: [...TSX, 'src/main.ts'], hasCommands: true };
const REPLAY: Program = { argv: ['scripts/replay-dlq'] };
const BENCH: Program = { argv: [...TSX, 'bench/bench.ts'] };
const PRODUCER: Program = { argv: [...TSX, 'scripts/produce-sample.ts'] };
const SERVICES: Program = { argv: ['bash', 'scripts/services.sh'], hasCommands: true };
const CONFIG_DOCS: Program = { argv: [...TSX, 'scripts/config-docs.ts'] };
/** Takes no flags at all. */
const NONE: Program = { argv: [] };

// npm scripts and script files → the program whose flags they accept. package.json's `start`
// runs the build of src/main.ts; the demo hands its arguments to the sample producer.
const NPM_SCRIPTS: Record<string, Program> = {
  start: MAIN,
  migrate: MAIN,
  bench: BENCH,
  'replay-dlq': REPLAY,
  'produce-sample': PRODUCER,
  'config-docs': CONFIG_DOCS,
  build: NONE,
  test: NONE,
  demo: PRODUCER,
};
const SCRIPT_FILES: Record<string, Program> = {
  'scripts/replay-dlq': REPLAY,
  'scripts/services.sh': SERVICES,
  'scripts/demo.sh': PRODUCER,
  'scripts/bench.sh': BENCH,
  'scripts/test.sh': NONE,
};
/** Flags that make a command print and exit without side effects: such commands run for real. */
const PRINT_ONLY = ['--help', '--version', '--check'];

const helpCache = new Map<string, string>();

function run(argv: readonly string[]): { code: number; out: string } {
  try {
    const out = execFileSync(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

function helpOf(argv: readonly string[]): string {
  const key = argv.join(' ');
  let text = helpCache.get(key);
  if (text === undefined) {
    const r = run([...argv, '--help']);
    text = r.code === 0 ? r.out : '';
    helpCache.set(key, text);
  }
  return text;
}

function knownEnvNames(): Set<string> {
  const names = new Set<string>();
  for (const leaf of schemaLeaves().values()) if (leaf.env !== undefined) names.add(leaf.env);
  for (const a of SEED_ALIASES) names.add(a.seed);
  return names;
}

/** What is wrong with one shown command; [] when it checks out. */
export function checkCommand(text: string): string[] {
  const words = text.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  const env = knownEnvNames();
  const problems: string[] = [];
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) {
    const name = words.shift()!.split('=')[0]!;
    if (!env.has(name)) problems.push(`${name} is not a setting's env name`);
  }
  const [head, ...rest] = words;
  if (head === undefined) return [...problems, 'no command'];
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  let program: Program | undefined;
  let args = rest;
  if (head === 'npm') {
    const sub = args.shift();
    let name = sub;
    if (sub === 'run') {
      while (args[0]?.startsWith('-') === true && args[0] !== '--') args.shift();
      name = args.shift();
    }
    if (name === undefined || pkg.scripts[name] === undefined)
      return [...problems, `no npm script "${name}"`];
    program = NPM_SCRIPTS[name];
    if (name === 'migrate') args = ['migrate', ...args];
    if (args[0] === '--') args = args.slice(1);
  } else if (head === 'bash' || head.startsWith('scripts/')) {
    const file = head === 'bash' ? args.shift() : head;
    if (file === undefined || !fs.existsSync(path.join(ROOT, file))) return [...problems, `no file ${file}`];
    if (head !== 'bash' && (fs.statSync(path.join(ROOT, file)).mode & 0o111) === 0)
      problems.push(`${file} is not executable`);
    program = SCRIPT_FILES[file];
  } else if (head === 'market-data-sink' || (head === 'node' && rest[0] === 'dist/src/main.js')) {
    if (head === 'node') args = rest.slice(1);
    program = MAIN;
  } else if (head === 'docker' || head === 'docker-compose') {
    return [...problems, ...checkCompose(head === 'docker' ? args.slice(1) : args)];
  } else if (head === 'curl') {
    return [...problems, ...checkCurl(args)];
  }
  if (program === undefined) return [...problems, `no rule checks "${head} ${rest.join(' ')}"`];
  const flags = args.filter((a) => a.startsWith('-'));
  if (program === NONE)
    return flags.length > 0 ? [...problems, `takes no flags: ${flags.join(' ')}`] : problems;
  // The worker without a command runs `run`, whose --help lists the setting flags.
  const command =
    program.hasCommands === true && args[0] !== undefined && !args[0].startsWith('-')
      ? args[0]
      : program === MAIN
        ? 'run'
        : null;
  const helpArgv = command === null ? program.argv : [...program.argv, command];
  if (args.some((a) => PRINT_ONLY.includes(a))) {
    const r = run([...program.argv, ...args]);
    if (r.code !== 0) problems.push(`exits ${r.code}: ${r.out.trim().split('\n')[0] ?? ''}`);
    return problems;
  }
  const help = helpOf(helpArgv);
  if (help === '') return [...problems, `${helpArgv.join(' ')} --help fails`];
  for (const f of flags) {
    const name = f.split('=')[0]!;
    if (!new RegExp(`(^|[\\s,\\[|(])${name.replace(/[-]/g, '\\-')}(?![\\w-])`, 'm').test(help))
      problems.push(`flag ${name} is not in ${helpArgv.join(' ')} --help`);
  }
  return problems;
}

function checkCompose(args: readonly string[]): string[] {
  const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, unknown>;
  };
  const problems: string[] = [];
  const [sub, ...rest] = args;
  if (!['up', 'down', 'config', 'ps', 'logs'].includes(sub ?? '')) problems.push(`compose: unknown "${sub}"`);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--build' || a === '-d') continue;
    if (a === '--scale') {
      const service = rest[++i]?.split('=')[0] ?? '';
      if (!(service in compose.services)) problems.push(`compose: no service "${service}" to scale`);
    } else if (!(a in compose.services)) problems.push(`compose: unknown argument "${a}"`);
  }
  return problems;
}

function checkCurl(args: readonly string[]): string[] {
  const url = args.find((a) => a.startsWith('http'));
  if (url === undefined) return ['curl: no URL'];
  const server = fs.readFileSync(path.join(ROOT, 'src/metrics/http-server.ts'), 'utf8');
  const route = new URL(url).pathname;
  return server.includes(`'${route}'`) ? [] : [`curl: the metrics server has no route ${route}`];
}

/** README.md and docs/*.md, as [relative path, text]. */
export function documents(): [string, string][] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8')]);
}
