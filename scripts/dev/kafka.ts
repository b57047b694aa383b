// Kafka nodes for development and tests: KRaft combined broker+controller JVMs run from the
// Maven jars of scripts/kafka/pom.xml (resolved once into a cache outside the repository,
// offline from the local Maven repository when it has them). A cluster is 1 node on
// KAFKA_PORT or 3 nodes on 19092/19094/19096; its state (properties, data, logs, pid files)
// lives in its own dir so both can run at once. Readiness is the log line "Kafka Server
// started" written after this start plus an open port, so an older run's lines never count.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KafkaJars } from './kafka-jars.js';
import { serverProperties } from './kafka-properties.js';
import {
  ServicesError,
  pidRuns,
  portOpen,
  portOwner,
  portSocket,
  readTail,
  readText,
  sleep,
} from './host.js';

export interface KafkaEnv {
  readonly root: string;
  readonly runDir: string;
  readonly cacheDir: string;
  readonly startTimeoutS: number;
  readonly stopTimeoutS: number;
  readonly java: string;
  readonly heapOpts: readonly string[];
  readonly say: (line: string) => void;
}

export class KafkaCluster {
  readonly dir: string;
  readonly nodes: readonly number[];
  private readonly conf: string;
  readonly jars: KafkaJars;

  constructor(
    private readonly env: KafkaEnv,
    readonly brokers: 1 | 3,
    /** The single node's port (ignored for 3 nodes). */
    private readonly singlePort: number,
  ) {
    this.dir = path.join(env.runDir, brokers === 1 ? 'kafka-single' : 'kafka-cluster3');
    this.nodes = brokers === 1 ? [1] : [1, 2, 3];
    this.conf = path.join(env.root, 'scripts/kafka');
    this.jars = new KafkaJars(this.conf, env.cacheDir, env.java, env.say);
  }

  brokerPort(i: number): number {
    // 19092, 19094, 19096: below Linux's ephemeral range (32768-60999), so no client socket
    // can be handed a node's port while it starts.
    return this.brokers === 1 ? this.singlePort : 19090 + 2 * i;
  }

  controllerPort(i: number): number {
    return this.brokerPort(i) + 1;
  }

  nodeDir(i: number): string {
    return path.join(this.dir, `node-${i}`);
  }

  bootstrap(): string {
    return this.nodes.map((i) => `127.0.0.1:${this.brokerPort(i)}`).join(',');
  }

  /** The node's pid when its pid file names a live JVM started with this node's properties. */
  pid(i: number): number | undefined {
    const pid = Number(readText(path.join(this.nodeDir(i), 'kafka.pid')));
    return pid > 0 && pidRuns(pid, path.join(this.nodeDir(i), 'server.properties')) ? pid : undefined;
  }

  running(): number[] {
    return this.nodes.filter((i) => this.pid(i) !== undefined);
  }

  /** A single broker answering on our port that is not ours (another checkout's, a container's). */
  async external(): Promise<boolean> {
    return this.brokers === 1 && this.pid(1) === undefined && (await portOpen(this.brokerPort(1)));
  }

  async ready(i: number): Promise<boolean> {
    if (this.pid(i) === undefined) return false;
    const since = this.sinceStart(i);
    return (
      since !== undefined && since.includes('Kafka Server started') && (await portOpen(this.brokerPort(i)))
    );
  }

  /** Writes properties, formats if needed and launches the JVM detached; does not wait. */
  async startNode(i: number): Promise<void> {
    if (this.pid(i) !== undefined) return;
    const d = this.nodeDir(i);
    for (const p of [this.brokerPort(i), this.controllerPort(i)]) {
      if (await portOpen(p)) {
        throw new ServicesError(
          `port ${p} (node ${i}) is already in use by another process: ${portOwner(p)}`,
        );
      }
    }
    fs.mkdirSync(path.join(d, 'data'), { recursive: true });
    fs.mkdirSync(path.join(d, 'logs'), { recursive: true });
    if (this.brokers === 1) fs.writeFileSync(path.join(this.dir, 'port'), `${this.brokerPort(i)}\n`);
    fs.writeFileSync(path.join(d, 'server.properties'), serverProperties(this, i));
    this.format(i);
    let offset = 0;
    try {
      offset = fs.statSync(path.join(d, 'logs/server.log')).size;
    } catch {
      // No log yet: this start's lines begin at 0.
    }
    fs.writeFileSync(path.join(d, 'start-offset'), `${offset}\n`);
    fs.writeFileSync(path.join(d, 'start-time'), `${Date.now()}\n`);
    fs.writeFileSync(path.join(d, 'announce'), '');
    const out = fs.openSync(path.join(d, 'logs/stdout.log'), 'a');
    // detached: a session of its own (setsid), so the broker outlives this process.
    const child = spawn(
      this.env.java,
      [
        ...this.env.heapOpts,
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:InitiatingHeapOccupancyPercent=35',
        '-XX:+ExplicitGCInvokesConcurrent',
        '-XX:MaxInlineLevel=15',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        `-Xlog:gc*:file=${d}/logs/gc.log:time,tags:filecount=2,filesize=10M`,
        `-Dkafka.logs.dir=${d}/logs`,
        `-Dlog4j2.configurationFile=${this.conf}/log4j2.xml`,
        '-cp',
        `${this.jars.libs}/*`,
        'kafka.Kafka',
        path.join(d, 'server.properties'),
      ],
      { detached: true, stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    if (child.pid === undefined) throw new ServicesError(`could not start ${this.env.java} for node ${i}`);
    fs.writeFileSync(path.join(d, 'kafka.pid'), `${child.pid}\n`);
    child.unref();
  }

  /**
   * Waits for every listed node. A node that lost its listener port to a client socket during
   * startup is restarted up to twice. On failure stops the nodes of `started` that are not
   * ready and throws after printing their logs; nodes already running are left alone.
   */
  async waitReady(nodes: readonly number[], started: readonly number[]): Promise<void> {
    const deadline = Date.now() + this.env.startTimeoutS * 1000;
    const tries = new Map<number, number>();
    for (;;) {
      const pending: number[] = [];
      for (const i of nodes) {
        if (this.pid(i) === undefined) {
          const bind = this.bindFailed(i);
          if (bind !== undefined && (tries.get(i) ?? 0) < 2) {
            tries.set(i, (tries.get(i) ?? 0) + 1);
            this.env.say(
              `node ${i}: listener port taken during startup (${bind}); restarting it (retry ${tries.get(i)})`,
            );
            await this.waitPortClear(this.brokerPort(i));
            await this.waitPortClear(this.controllerPort(i));
            await this.startNode(i);
            pending.push(i);
            continue;
          }
          this.showLogs(i);
          await this.failStarted(started);
          throw new ServicesError(`Kafka node ${i} (${this.dir}) exited during startup (logs above)`);
        }
        if (!(await this.ready(i))) pending.push(i);
      }
      if (pending.length === 0) break;
      if (Date.now() >= deadline) {
        for (const i of pending) this.showLogs(i);
        await this.failStarted(started);
        throw new ServicesError(
          `Kafka node(s) ${pending.join(' ')} (${this.dir}) not ready after ${this.env.startTimeoutS}s (MDS_START_TIMEOUT; logs above)`,
        );
      }
      await sleep(200);
    }
    for (const i of nodes) {
      const announce = path.join(this.nodeDir(i), 'announce');
      if (!fs.existsSync(announce)) continue;
      fs.rmSync(announce, { force: true });
      const secs = Math.round(
        (Date.now() - Number(readText(path.join(this.nodeDir(i), 'start-time')))) / 1000,
      );
      this.env.say(`kafka node ${i} ready on 127.0.0.1:${this.brokerPort(i)} in ${secs}s`);
    }
  }

  /**
   * Signals all first (a 3-node cluster stopped one by one would lose its quorum and hang the
   * last node's controlled shutdown), then waits, escalating to SIGKILL.
   */
  async stopNodes(signal: 'SIGTERM' | 'SIGKILL', nodes: readonly number[]): Promise<void> {
    for (const i of nodes) this.kill(i, signal);
    let deadline = Date.now() + this.env.stopTimeoutS * 1000;
    for (;;) {
      const alive = nodes.filter((i) => this.pid(i) !== undefined);
      if (alive.length === 0) break;
      if (Date.now() >= deadline) {
        if (signal === 'SIGKILL') throw new ServicesError(`node(s) ${alive.join(' ')} survived SIGKILL`);
        this.env.say(`node(s) ${alive.join(' ')} still running after ${this.env.stopTimeoutS}s: SIGKILL`);
        for (const i of alive) this.kill(i, 'SIGKILL');
        deadline = Date.now() + 10_000;
        signal = 'SIGKILL';
      }
      await sleep(200);
    }
    for (const i of nodes) fs.rmSync(path.join(this.nodeDir(i), 'kafka.pid'), { force: true });
  }

  private kill(i: number, signal: NodeJS.Signals): void {
    const pid = this.pid(i);
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      // Exited in between.
    }
  }

  private async failStarted(started: readonly number[]): Promise<void> {
    const victims: number[] = [];
    for (const i of started) if (!(await this.ready(i))) victims.push(i);
    if (victims.length > 0) await this.stopNodes('SIGKILL', victims);
  }

  /** server.log written since this node's last start, or undefined before any. */
  private sinceStart(i: number): string | undefined {
    const d = this.nodeDir(i);
    const offset = Number(readText(path.join(d, 'start-offset'))) || 0;
    try {
      return fs.readFileSync(path.join(d, 'logs/server.log')).subarray(offset).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /** "127.0.0.1:PORT held by: …" if this start of node i died on a bind failure. */
  private bindFailed(i: number): string | undefined {
    const m = /failed to bind to [0-9.]*:(\d+)/.exec(this.sinceStart(i) ?? '');
    if (!m) return undefined;
    return `127.0.0.1:${m[1]} held by: ${portSocket(Number(m[1]), true)}`;
  }

  // A client socket bound to our port (even in TIME-WAIT) makes the broker's bind fail late in
  // its startup. Only waited for after such a failure: our own listener's old TIME-WAIT sockets
  // do not block a new bind (SO_REUSEADDR), so waiting up front would delay restarts by 60 s.
  private async waitPortClear(port: number): Promise<void> {
    const deadline = Date.now() + 75_000;
    let said = false;
    for (let held = portSocket(port); held !== ''; held = portSocket(port)) {
      if (!said) {
        this.env.say(
          `port ${port} still has a socket bound to it (${held}); waiting for it to close (TIME-WAIT lasts 60s)`,
        );
        said = true;
      }
      if (Date.now() >= deadline)
        throw new ServicesError(`port ${port} still has a socket bound to it (${held})`);
      await sleep(500);
    }
  }

  /** Log tail of the current start only (older runs' lines would mislead). */
  private showLogs(i: number): void {
    const d = this.nodeDir(i);
    const since = (this.sinceStart(i) ?? '').split('\n').slice(-26).join('\n').trim();
    process.stderr.write(`---- node ${i}: ${d}/logs/server.log (last lines since this start)\n`);
    process.stderr.write(`${since || '(nothing logged yet)'}\n`);
    process.stderr.write(`---- node ${i}: ${d}/logs/stdout.log (JVM output)\n`);
    process.stderr.write(`${readTail(path.join(d, 'logs/stdout.log'), 15) ?? '(none)'}\n`);
  }

  private format(i: number): void {
    const d = this.nodeDir(i);
    if (fs.existsSync(path.join(d, 'data/meta.properties'))) return;
    const idFile = path.join(this.dir, 'cluster.id');
    if (!fs.existsSync(idFile)) fs.writeFileSync(idFile, randomClusterId() + '\n');
    const log = path.join(d, 'logs/format.log');
    const out = fs.openSync(log, 'w');
    // Single node: dynamic quorum bootstrapped from itself. 3 nodes: static voters, no flag
    // (StorageTool rejects --standalone/--initial-controllers when controller.quorum.voters is set).
    const r = spawnSync(
      this.env.java,
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-cp',
        `${this.jars.libs}/*`,
        `-Dlog4j2.configurationFile=${this.conf}/tools-log4j2.xml`,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        readText(idFile),
        '-c',
        path.join(d, 'server.properties'),
        ...(this.brokers === 1 ? ['--standalone'] : []),
        '-g',
      ],
      { stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    if (r.status !== 0) {
      process.stderr.write((readTail(log, 20) ?? '') + '\n');
      throw new ServicesError(`formatting node ${i} failed (log: ${log})`);
    }
  }
}

/** 22 characters of URL-safe base64 not starting with '-', as StorageTool expects. */
function randomClusterId(): string {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-') && id.length === 22) return id;
  }
}
