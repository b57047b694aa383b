// The logic behind scripts/services.sh (which holds the state-dir lock and runs this): parses
// the same commands and flags, starts/stops/reports the Kafka cluster (kafka.ts) and the
// PostgreSQL it needs (postgres.ts). Progress goes to stderr as "services.sh: …"; `up` and
// `env` print only the export lines on stdout, so callers can eval them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KafkaCluster, type KafkaEnv } from './kafka.js';
import { ServicesError, portOwner, readText } from './host.js';
import {
  devPostgresRunning,
  ensureDevPostgres,
  removeDevPostgres,
  stopDevPostgres,
  type DevPostgres,
} from './dev-postgres.js';
import { pgIsReady } from './postgres.js';

const USAGE = `Local services for development and tests: a real Kafka 4.x broker (KRaft, run from Maven jars
cached outside the repository, no Docker) and PostgreSQL (the one already answering, or a
private cluster in the state dir).

  scripts/services.sh up|down|status|env [--brokers 1|3] [--clean] [--install-postgres]
  scripts/services.sh stop-broker N [--kill] | start-broker N      (3-node cluster by default)
  scripts/services.sh classpath      resolves the Kafka jars once; prints the java -cp value

\`up\` prints the export lines on stdout (progress goes to stderr); \`env\` prints only them, so
callers can \`eval "$(scripts/services.sh env)"\`. \`status\` exits 0 only when everything is ready.
Environment: KAFKA_PORT (single node, default 9092; controller = port+1), PGPORT (default 5432),
MDS_RUN_DIR (state, default <repo>/.run), MDS_CACHE_DIR (jars, default ~/.cache/market-data-sink),
MDS_START_TIMEOUT / MDS_STOP_TIMEOUT (seconds), MDS_KAFKA_HEAP_OPTS, JAVA_HOME.
Nothing on the host is changed: no kernel setting, no package unless --install-postgres asks
for Debian's postgresql (as root) when no PostgreSQL answers and none is installed. A single
broker already answering on KAFKA_PORT (another checkout's, say) is used, not fought.
`;

const COMMANDS = ['up', 'down', 'status', 'env', 'classpath', 'stop-broker', 'start-broker'] as const;
type Command = (typeof COMMANDS)[number];
/** `status` when something is not ready. */
const EXIT_NOT_READY = 3;

const say = (line: string): void => void process.stderr.write(`services.sh: ${line}\n`);

interface Args {
  readonly cmd: Command;
  readonly brokers: 1 | 3;
  readonly clean: boolean;
  readonly hardKill: boolean;
  readonly installPostgres: boolean;
  readonly node: string;
}

function parseArgs(argv: readonly string[]): Args | 'help' {
  const [cmd = '', ...rest] = argv;
  let brokers = '';
  let clean = false;
  let hardKill = false;
  let installPostgres = false;
  let node = '';
  for (let k = 0; k < rest.length; k++) {
    const a = rest[k]!;
    if (a === '--brokers') {
      if (k + 1 >= rest.length) throw new ServicesError('--brokers needs a value (1 or 3)');
      brokers = rest[++k]!;
    } else if (a.startsWith('--brokers=')) brokers = a.slice('--brokers='.length);
    else if (a === '--clean') clean = true;
    else if (a === '--kill') hardKill = true;
    else if (a === '--install-postgres') installPostgres = true;
    else if (a === '-h' || a === '--help') return 'help';
    else if (/^[0-9]/.test(a)) node = a;
    else throw new ServicesError(`unknown argument '${a}' (see --help)`);
  }
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') return 'help';
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    process.stderr.write(USAGE);
    throw new ServicesError(`expected a command ${COMMANDS.join('|')}, got '${cmd}'`);
  }
  const command = cmd as Command;
  brokers ||= command === 'stop-broker' || command === 'start-broker' ? '3' : '1';
  if (brokers !== '1' && brokers !== '3')
    throw new ServicesError(`--brokers: expected 1 or 3, got '${brokers}'`);
  return { cmd: command, brokers: brokers === '1' ? 1 : 3, clean, hardKill, installPostgres, node };
}

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ServicesError(`${name}: expected a whole number of seconds >= 1, got '${raw}'`);
  return n;
}

/**
 * The single node's port is recorded at first format: the controller endpoint is part of the
 * formatted quorum state, so moving it means a fresh data dir.
 */
function singlePort(dir: string, args: Args): number {
  const recorded = readText(path.join(dir, 'port'));
  const wanted = process.env.KAFKA_PORT ?? '';
  let port = recorded || wanted || '9092';
  if (recorded !== '' && wanted !== '' && wanted !== recorded && args.brokers === 1) {
    if (args.cmd === 'up' || args.cmd === 'start-broker') {
      throw new ServicesError(
        `KAFKA_PORT=${wanted} but ${dir} was set up for port ${recorded}; run 'down --clean' first or unset KAFKA_PORT`,
      );
    }
    say(`note: KAFKA_PORT=${wanted} ignored, ${dir} uses port ${recorded}`);
    port = recorded;
  }
  if (!/^[0-9]+$/.test(port)) throw new ServicesError(`KAFKA_PORT: expected a port number, got '${port}'`);
  const n = Number(port);
  if (n < 1 || n > 65534) {
    throw new ServicesError(`KAFKA_PORT: expected 1..65534 (controller uses port+1), got '${port}'`);
  }
  return n;
}

interface Context {
  readonly args: Args;
  readonly kafka: KafkaCluster;
  /** The other cluster of the same state dir (decides whether `down` may stop PostgreSQL). */
  readonly other: KafkaCluster;
  readonly pg: DevPostgres;
  readonly pgExternalPort: number;
}

function context(args: Args): Context {
  const root = path.resolve(__dirname, '../..');
  const runDir = process.env.MDS_RUN_DIR || path.join(root, '.run');
  const javaHome = process.env.JAVA_HOME;
  const env: KafkaEnv = {
    root,
    runDir,
    cacheDir: process.env.MDS_CACHE_DIR || path.join(os.homedir(), '.cache/market-data-sink'),
    startTimeoutS: seconds('MDS_START_TIMEOUT', 120),
    stopTimeoutS: seconds('MDS_STOP_TIMEOUT', 30),
    java: javaHome ? path.join(javaHome, 'bin/java') : 'java',
    heapOpts: (process.env.MDS_KAFKA_HEAP_OPTS || '-Xms256m -Xmx512m').split(/\s+/).filter((s) => s !== ''),
    say,
  };
  const single = path.join(runDir, 'kafka-single');
  const port = singlePort(single, args);
  const kafka = new KafkaCluster(env, args.brokers, port);
  const other = new KafkaCluster(env, args.brokers === 1 ? 3 : 1, port);
  const pgPort = process.env.PGPORT || '5432';
  if (!/^[0-9]+$/.test(pgPort)) throw new ServicesError(`PGPORT: expected a port number, got '${pgPort}'`);
  const pg: DevPostgres = {
    stateDir: path.join(runDir, 'postgres'),
    startTimeoutS: env.startTimeoutS,
    stopTimeoutS: env.stopTimeoutS,
    say,
  };
  return { args, kafka, other, pg, pgExternalPort: Number(pgPort) };
}

function printEnv(c: Context): void {
  const pg = devPostgresRunning(c.pg);
  const port = pg?.port ?? c.pgExternalPort;
  process.stdout.write(`export KAFKA_BROKERS=${c.kafka.bootstrap()}\n`);
  process.stdout.write(`export DATABASE_URL=postgres://postgres@127.0.0.1:${port}/postgres\n`);
}

/** Jars for this pom, resolved under the cache's lock (checkouts share the cache). */
function ensureJars(k: KafkaCluster): void {
  if (k.jars.resolved()) return;
  fs.mkdirSync(k.jars.home, { recursive: true });
  // The check and the resolution run again under the lock in a child: flock(1) is the lock
  // other checkouts' services.sh take on the same cache.
  const r = spawnSync(
    'flock',
    [
      '-w',
      '600',
      path.join(k.jars.home, '.lock'),
      process.execPath,
      ...process.execArgv,
      __filename,
      '__resolve-jars',
      `--brokers=${k.brokers}`,
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0)
    throw new ServicesError(`Kafka jars not resolved (see above; lock ${k.jars.home}/.lock)`);
}

async function cmdStatus(c: Context): Promise<number> {
  const { kafka } = c;
  let rc = 0;
  process.stdout.write(
    `kafka ${kafka.jars.version} (${kafka.brokers === 1 ? '1 node' : '3 nodes'}, ${kafka.dir}):\n`,
  );
  const external = await kafka.external();
  for (const i of kafka.nodes) {
    const at = `127.0.0.1:${kafka.brokerPort(i)}`;
    const pid = kafka.pid(i);
    if (external) {
      process.stdout.write(
        `  node ${i}: a broker not managed here answers on ${at} (${portOwner(kafka.brokerPort(i))})\n`,
      );
    } else if (pid !== undefined) {
      if (await kafka.ready(i)) process.stdout.write(`  node ${i}: ready on ${at} (pid ${pid})\n`);
      else {
        process.stdout.write(`  node ${i}: starting or unhealthy (pid ${pid}, ${at} not ready)\n`);
        rc = EXIT_NOT_READY;
      }
    } else {
      process.stdout.write(`  node ${i}: stopped\n`);
      rc = EXIT_NOT_READY;
    }
  }
  const pg = devPostgresRunning(c.pg);
  if (pg) process.stdout.write(`postgres: private cluster ready on 127.0.0.1:${pg.port} (${pg.root}/data)\n`);
  else if (pgIsReady(c.pgExternalPort)) {
    process.stdout.write(
      `postgres: external server ready on 127.0.0.1:${c.pgExternalPort} (not managed here)\n`,
    );
  } else {
    process.stdout.write('postgres: not running\n');
    rc = EXIT_NOT_READY;
  }
  return rc;
}

async function cmdUp(c: Context): Promise<void> {
  const { kafka } = c;
  if (await kafka.external()) {
    const port = kafka.brokerPort(1);
    say(
      `kafka: using the broker already answering on 127.0.0.1:${port} (not managed here: ${portOwner(port)})`,
    );
  } else {
    kafka.jars.checkJava();
    ensureJars(kafka);
    fs.mkdirSync(kafka.dir, { recursive: true });
    const started: number[] = [];
    for (const i of kafka.nodes) {
      if (kafka.pid(i) !== undefined) continue;
      await kafka.startNode(i);
      started.push(i);
    }
    // Already-running nodes are waited for too (an interrupted `up` may have left them starting).
    await kafka.waitReady(kafka.nodes, started);
    if (started.length === 0) say(`kafka (${kafka.dir}) was already up`);
  }
  await ensureDevPostgres(c.pg, c.pgExternalPort, c.args.installPostgres);
  printEnv(c);
}

async function cmdDown(c: Context): Promise<void> {
  const { kafka } = c;
  const nodes = kafka.running();
  if (nodes.length > 0) {
    say(`stopping kafka node(s) ${nodes.join(' ')} (${kafka.dir})`);
    await kafka.stopNodes('SIGTERM', nodes);
  } else say(`kafka (${kafka.dir}) is not running`);
  if (c.other.running().length > 0) {
    say(`postgres: left running (the other Kafka cluster in ${path.dirname(kafka.dir)} still uses it)`);
  } else await stopDevPostgres(c.pg);
  if (c.args.clean) {
    fs.rmSync(kafka.dir, { recursive: true, force: true });
    say(`removed ${kafka.dir}`);
    removeDevPostgres(c.pg);
  }
}

function nodeArg(c: Context): number {
  const { kafka, args } = c;
  const range = `1..${kafka.nodes.length}`;
  if (args.node === '') throw new ServicesError(`${args.cmd}: which node? expected a number ${range}`);
  const n = Number(args.node);
  if (!kafka.nodes.includes(n))
    throw new ServicesError(`${args.cmd}: expected a node ${range}, got '${args.node}'`);
  if (!fs.existsSync(path.join(kafka.nodeDir(n), 'server.properties'))) {
    throw new ServicesError(
      `${args.cmd}: node ${n} has never run; use 'up --brokers ${kafka.brokers}' first`,
    );
  }
  return n;
}

async function cmdStopBroker(c: Context): Promise<void> {
  const n = nodeArg(c);
  if (c.kafka.pid(n) === undefined) return say(`node ${n} is already stopped`);
  await c.kafka.stopNodes(c.args.hardKill ? 'SIGKILL' : 'SIGTERM', [n]);
  say(`node ${n} (127.0.0.1:${c.kafka.brokerPort(n)}) stopped`);
}

async function cmdStartBroker(c: Context): Promise<void> {
  const { kafka } = c;
  const n = nodeArg(c);
  if (
    kafka.brokers === 3 &&
    kafka.pid(n) === undefined &&
    kafka.running().filter((i) => i !== n).length === 0
  ) {
    // Static quorum of 3 voters: a lone node can never elect a controller and would only time out.
    throw new ServicesError(
      `start-broker ${n}: no other node of ${kafka.dir} is running, and one node alone cannot form the KRaft quorum (2 of 3 voters); use 'up --brokers 3'`,
    );
  }
  kafka.jars.checkJava();
  ensureJars(kafka);
  const started: number[] = [];
  if (kafka.pid(n) !== undefined) say(`node ${n} is already running`);
  else {
    await kafka.startNode(n);
    started.push(n);
  }
  await kafka.waitReady([n], started);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '__resolve-jars') {
    const c = context(parseArgs(['up', ...argv.slice(1)]) as Args);
    if (!c.kafka.jars.resolved()) c.kafka.jars.resolve();
    return 0;
  }
  const args = parseArgs(argv);
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  return COMMAND_RUNNERS[args.cmd](context(args));
}

/** Each command; the number is the exit code (status: 3 when something is not ready). */
const COMMAND_RUNNERS: Record<Command, (c: Context) => Promise<number>> = {
  up: (c) => cmdUp(c).then(() => 0),
  down: (c) => cmdDown(c).then(() => 0),
  status: cmdStatus,
  env: (c) => Promise.resolve(printEnv(c)).then(() => 0),
  classpath: (c) => {
    c.kafka.jars.checkJava();
    ensureJars(c.kafka);
    process.stdout.write(`${c.kafka.jars.libs}/*\n`);
    return Promise.resolve(0);
  },
  'stop-broker': (c) => cmdStopBroker(c).then(() => 0),
  'start-broker': (c) => cmdStartBroker(c).then(() => 0),
};

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`services.sh: error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
