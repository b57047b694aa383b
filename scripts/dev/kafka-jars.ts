// The Kafka runtime: the jars scripts/kafka/pom.xml lists, copied once into a cache outside
// the repository (offline when the local Maven repository has them), and the Java that runs
// them. The .resolved marker holds the pom's sha256, so an edited pom resolves again.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ServicesError, readTail, readText } from './host.js';

export class KafkaJars {
  readonly version: string;
  /** <cache>/kafka-<version>: the jars in libs/, the .resolved marker, the resolution lock. */
  readonly home: string;
  readonly libs: string;

  constructor(
    /** scripts/kafka: pom.xml and the log4j2 configurations. */
    private readonly conf: string,
    cacheDir: string,
    private readonly java: string,
    private readonly say: (line: string) => void,
  ) {
    this.version = kafkaVersion(conf);
    this.home = path.join(cacheDir, `kafka-${this.version}`);
    this.libs = path.join(this.home, 'libs');
  }

  /** Java 17+ is on PATH (or JAVA_HOME). */
  checkJava(): void {
    const r = spawnSync(this.java, ['-XshowSettings:properties', '-version'], { encoding: 'utf8' });
    if (r.error)
      throw new ServicesError(`no java on PATH (Kafka ${this.version} needs Java 17+; set JAVA_HOME)`);
    const v = /java\.specification\.version = (\S+)/.exec(r.stderr)?.[1] ?? '';
    if (v.startsWith('1.') || (Number(v) >= 9 && Number(v) <= 16)) {
      throw new ServicesError(`Kafka ${this.version} needs Java 17+, ${this.java} is ${v}`);
    }
  }

  /** The jars match the pom (its sha256 is in the .resolved marker) and the broker jar is there. */
  resolved(): boolean {
    const home = this.home;
    return (
      readText(path.join(home, '.resolved')) === this.pomHash() &&
      fs.existsSync(path.join(this.libs, `kafka_2.13-${this.version}.jar`))
    );
  }

  /**
   * Copies the pom's runtime dependencies into the cache. Callers hold <cache>/kafka-<v>/.lock
   * (checkouts share the cache) and check resolved() first.
   */
  resolve(): void {
    const home = this.home;
    const hasMvn = spawnSync('sh', ['-c', 'command -v mvn'], { stdio: 'ignore' }).status === 0;
    if (!hasMvn)
      throw new ServicesError(
        `Maven (mvn) is needed once to fetch the Kafka ${this.version} jars into ${this.libs}`,
      );
    this.say(`resolving Kafka ${this.version} runtime jars into ${this.libs} (once)`);
    const t0 = Date.now();
    const tmp = path.join(home, `libs.tmp.${process.pid}`);
    const log = path.join(home, 'resolve.log');
    fs.rmSync(tmp, { recursive: true, force: true });
    const out = fs.openSync(log, 'w');
    const r = spawnSync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        path.join(this.conf, 'pom.xml'),
        'org.apache.maven.plugins:maven-dependency-plugin:3.7.0:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${tmp}`,
      ],
      { stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    if (r.status !== 0) {
      process.stderr.write((readTail(log, 30) ?? '') + '\n');
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new ServicesError(`Maven could not resolve ${this.conf}/pom.xml (log: ${log})`);
    }
    // A silent broker is the classic failure here: check the logging jars the pom is there for.
    const jars = fs.readdirSync(tmp);
    for (const want of [`kafka_2.13-${this.version}.jar`, 'slf4j-api-1.7.36.jar']) {
      if (!jars.includes(want)) throw new ServicesError(`resolved jars lack ${want} (see ${tmp})`);
    }
    for (const prefix of ['log4j-slf4j-impl-', 'log4j-core-']) {
      if (!jars.some((j) => j.startsWith(prefix))) {
        throw new ServicesError(`resolved jars lack ${prefix.slice(0, -1)} (see ${tmp})`);
      }
    }
    if (jars.some((j) => j.startsWith('slf4j-api-2.'))) {
      throw new ServicesError('slf4j-api 2.x was resolved; the 1.x binding would be ignored');
    }
    fs.rmSync(this.libs, { recursive: true, force: true });
    fs.renameSync(tmp, this.libs);
    fs.writeFileSync(path.join(home, '.resolved'), this.pomHash() + '\n');
    this.say(`resolved ${jars.length} jars in ${Math.round((Date.now() - t0) / 1000)}s`);
  }

  private pomHash(): string {
    return crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(this.conf, 'pom.xml')))
      .digest('hex');
  }
}
function kafkaVersion(conf: string): string {
  const m = /<kafka\.version>(.*)<\/kafka\.version>/.exec(
    fs.readFileSync(path.join(conf, 'pom.xml'), 'utf8'),
  );
  if (!m?.[1]) throw new ServicesError(`no <kafka.version> in ${conf}/pom.xml`);
  return m[1];
}
