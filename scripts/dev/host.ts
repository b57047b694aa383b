// What the dev services ask of this machine, read-only: is a loopback port open, who holds
// it, is a pid alive running a given command line. Nothing here changes the host.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** Something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** `users:((…))` of the process listening on the port, as ss prints it, or '' when none is seen. */
export function portOwner(port: number): string {
  const out = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' }).stdout ?? '';
  const line = out.split('\n')[0] ?? '';
  const i = line.indexOf('users:');
  return i >= 0 ? line.slice(i).trim() : line.trim();
}

/** The first socket (any state) bound to the port, as "STATE local -> peer [users]", or ''. */
export function portSocket(port: number, withProcess = false): string {
  const out = spawnSync('ss', [withProcess ? '-tanpH' : '-tanH', `sport = :${port}`], {
    encoding: 'utf8',
  }).stdout;
  const f = (out ?? '').split('\n')[0]?.trim().split(/\s+/) ?? [];
  if (f.length < 5 || f[0] === '') return '';
  return [f[0], f[3], '->', f[4], ...(withProcess ? [f[5] ?? ''] : [])].join(' ').trim();
}

/** Nothing listens on the port and no socket holds it. */
export async function portIsFree(port: number): Promise<boolean> {
  return !(await portOpen(port)) && portOwner(port) === '';
}

/** A port the kernel just handed out on 127.0.0.1; the caller binds it right after. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** PID is alive with `text` in its command line (a recycled pid, or a zombie's empty one, is not). */
export function pidRuns(pid: number, text: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(text);
  } catch {
    return false;
  }
}

/** The last `lines` lines of a file (from byte `from` on), or undefined when it cannot be read. */
export function readTail(file: string, lines: number, from = 0): string | undefined {
  try {
    const text = fs.readFileSync(file).subarray(from).toString('utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return undefined;
  }
}

/** A message for any thrown value; a failed child process adds its stderr. */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const stderr = (e as { stderr?: unknown }).stderr;
    return typeof stderr === 'string' && stderr.trim() !== ''
      ? `${e.message.split('\n')[0]}: ${stderr.trim()}`
      : e.message;
  }
  return String(e);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A small state file's trimmed text, or '' when it does not exist. */
export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/** A failure the user can act on: printed as one "services.sh: error: …" line. */
export class ServicesError extends Error {}
