// Secrets from files, the way Docker and Kubernetes mount them: every sensitive setting X
// (the schema's `sensitive: true` leaves) also accepts X_FILE, a path whose content is the
// value. Applied to the environment before convict reads it, so the rest of loading sees one
// value whichever way it came. Nothing here ever puts a secret into a message.
import fs from 'node:fs';
import { ConfigError, toError } from '../core/errors.js';

/**
 * `env` with each X_FILE (for X in `secretEnvNames`) replaced by X = the file's content, one
 * trailing newline removed (what `echo` and most editors add). Both X and X_FILE set is an
 * error naming both: which one wins would be a guess.
 */
export function applySecretFiles(
  env: NodeJS.ProcessEnv,
  secretEnvNames: Iterable<string>,
): NodeJS.ProcessEnv {
  let out: NodeJS.ProcessEnv | undefined;
  for (const name of secretEnvNames) {
    const fileVar = `${name}_FILE`;
    const file = env[fileVar];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      throw new ConfigError(`${name} and ${fileVar}: expected one of them, got both`);
    }
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      // The path is not a secret; the error's own text (ENOENT, EACCES) is the cause.
      throw new ConfigError(`${fileVar}: cannot read ${file}: ${errnoText(e)}`);
    }
    out ??= { ...env };
    out[name] = text.replace(/\r?\n$/, '');
    delete out[fileVar];
  }
  return out ?? env;
}

/** "ENOENT: no such file or directory" without the path and syscall Node appends. */
export function errnoText(e: unknown): string {
  const err = toError(e) as Error & { code?: unknown };
  const first = err.message.split(',')[0] ?? err.message;
  return typeof err.code === 'string' ? first : err.message;
}
