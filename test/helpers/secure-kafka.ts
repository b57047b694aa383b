// A private single-node KRaft broker for the security tests, on its own loopback ports and in
// its own temp dir, with one listener per mode: PLAINTEXT, SSL, SSL with client certificates
// required (mTLS) and SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). The jars come from
// scripts/services.sh (`classpath`), SCRAM users from Kafka's own StorageTool (--add-scram).
// Killed when stopped and on process exit.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STORE_PASSWORD, type TestPki } from './test-pki.js';
import { waitFor } from './services.js';
import { projectRoot } from '../../src/util/project-root.js';
import { freePort } from '../../scripts/dev/host.js';
import { SINGLE_NODE_INTERNAL_TOPICS } from '../../scripts/dev/kafka-properties.js';

const ROOT = projectRoot();
const READY_TIMEOUT_MS = 120_000;

export const SASL_USER = 'mds-sink';
export const SASL_PASSWORD = 'sasl-secret-Pa55';

export interface SecureKafka {
  /** host:port of each listener. */
  readonly listeners: Readonly<Record<'plaintext' | 'ssl' | 'mtls' | 'saslSsl', string>>;
  readonly logDir: string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hookInstalled = false;

export async function startSecureKafka(pki: TestPki): Promise<SecureKafka> {
  const classpath = execFileSync('bash', [path.join(ROOT, 'scripts/services.sh'), 'classpath'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-secure-kafka-'));
  const [plain, ssl, mtls, saslSsl, controller] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const at = (p: number | undefined): string => `127.0.0.1:${p}`;
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const props = [
    'process.roles=broker,controller',
    'node.id=1',
    `listeners=PLAINTEXT://${at(plain)},SSL://${at(ssl)},MTLS://${at(mtls)},SASL_SSL://${at(saslSsl)},CONTROLLER://${at(controller)}`,
    `advertised.listeners=PLAINTEXT://${at(plain)},SSL://${at(ssl)},MTLS://${at(mtls)},SASL_SSL://${at(saslSsl)}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `controller.quorum.bootstrap.servers=${at(controller)}`,
    `log.dirs=${path.join(dir, 'data')}`,
    ...SINGLE_NODE_INTERNAL_TOPICS,
    'num.partitions=1',
    'auto.create.topics.enable=true',
    'group.initial.rebalance.delay.ms=0',
    'num.io.threads=2',
    'num.network.threads=2',
    'log.cleaner.dedupe.buffer.size=33554432',
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${pki.serverKeystore}`,
    `ssl.keystore.password=${STORE_PASSWORD}`,
    `ssl.key.password=${STORE_PASSWORD}`,
    'ssl.truststore.type=PKCS12',
    `ssl.truststore.location=${pki.truststore}`,
    `ssl.truststore.password=${STORE_PASSWORD}`,
    'listener.name.mtls.ssl.client.auth=required',
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${SASL_PASSWORD}";`,
    `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${scram}`,
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scram}`,
    '',
  ];
  const propsFile = path.join(dir, 'server.properties');
  fs.writeFileSync(propsFile, props.join('\n'));
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin/java') : 'java';
  const toolsLog = `-Dlog4j2.configurationFile=${path.join(ROOT, 'scripts/kafka/tools-log4j2.xml')}`;
  const clusterId = crypto.randomBytes(16).toString('base64url').slice(0, 22);
  try {
    execFileSync(
      java,
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-cp',
        classpath,
        toolsLog,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        propsFile,
        '--standalone',
        '--add-scram',
        `SCRAM-SHA-256=[name=${SASL_USER},password=${SASL_PASSWORD}]`,
        '--add-scram',
        `SCRAM-SHA-512=[name=${SASL_USER},password=${SASL_PASSWORD}]`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    const out = `${(e as { stdout?: Buffer }).stdout?.toString() ?? ''}${(e as { stderr?: Buffer }).stderr?.toString() ?? ''}`;
    throw new Error(`secure Kafka: StorageTool format failed: ${out.trim()}`, { cause: e });
  }
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir);
  const out = fs.openSync(path.join(logDir, 'stdout.log'), 'a');
  const child = spawn(
    java,
    [
      '-Xms128m',
      '-Xmx384m',
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      `-Dkafka.logs.dir=${logDir}`,
      `-Dlog4j2.configurationFile=${path.join(ROOT, 'scripts/kafka/log4j2.xml')}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      propsFile,
    ],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  live.add(child);
  installExitHook();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (live.delete(child)) {
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode}`);
        const log = fs.readFileSync(path.join(logDir, 'server.log'), 'utf8');
        return log.includes('Kafka Server started');
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 250, message: `secure broker start (logs in ${logDir})` },
    );
  } catch (e) {
    const tail = tailOf(path.join(logDir, 'server.log')) + tailOf(path.join(logDir, 'stdout.log'));
    await stop();
    throw new Error(`${(e as Error).message}\n${tail}`, { cause: e });
  }
  return {
    listeners: { plaintext: at(plain), ssl: at(ssl), mtls: at(mtls), saslSsl: at(saslSsl) },
    logDir,
    stop,
  };
}

function tailOf(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}
