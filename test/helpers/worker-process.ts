// Runs the real worker (src/main.ts) as a child process, for crash (kill -9), scaling and
// signal tests. Output is kept so a failing test can show the worker's last log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  kill(signal?: NodeJS.Signals): void;
}

const ROOT = path.resolve(__dirname, '../..');

export function spawnWorker(env: NodeJS.ProcessEnv, args: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer): void => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    exited,
    output: () => out,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export function lastLines(text: string, n = 30): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** Runs the command line to its end (killed after `timeoutMs`): exit code and all output. */
export async function runCommand(
  env: NodeJS.ProcessEnv,
  args: string[],
  timeoutMs = 90_000,
): Promise<{ code: number | null; out: string }> {
  const w = spawnWorker(env, args);
  const timer = setTimeout(() => w.kill('SIGKILL'), timeoutMs);
  const { code } = await w.exited;
  clearTimeout(timer);
  return { code, out: w.output() };
}
