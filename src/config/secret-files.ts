// Secrets from files, the way Docker and Kubernetes mount them: every sensitive setting X
// (the schema's `sensitive: true` leaves) also accepts X_FILE, a path whose content is the
// value. Applied to the environment before convict reads it, so the rest of loading sees one
// value whichever way it came. Nothing here ever puts a secret into a message.
import fs from 'node:fs';
import { ConfigError, toError } from '../core/errors.js';

/** Where else a secret's value may have come from, to name what the operator set. */
export interface SecretSources {
  /** X → the seed name (MDS_DSN) whose value became X. */
  readonly seedOf?: ReadonlyMap<string, string>;
  /** X → its command-line flag (--database-url) when that was given, which would override X_FILE. */
  readonly flagOf?: (name: string) => string | undefined;
}

/**
 * `env` with each X_FILE (for X in `secretEnvNames`) replaced by X = the file's content, one
 * trailing newline removed (what `echo` and most editors add). X_FILE together with X (or the
 * seed name that set X, or X's command-line flag) is an error naming both as they were given:
 * which one wins would be a guess.
 */
export function applySecretFiles(
  env: NodeJS.ProcessEnv,
  secretEnvNames: Iterable<string>,
  sources: SecretSources = {},
): NodeJS.ProcessEnv {
  let out: NodeJS.ProcessEnv | undefined;
  for (const name of secretEnvNames) {
    const fileVar = `${name}_FILE`;
    const file = env[fileVar];
    if (file === undefined || file === '') continue;
    const flag = sources.flagOf?.(name);
    if (flag !== undefined) throw new ConfigError(`${flag} and ${fileVar}: expected one of them, got both`);
    if (env[name] !== undefined && env[name] !== '') {
      const seed = sources.seedOf?.get(name);
      const given = seed === undefined ? name : `${seed} (${name})`;
      throw new ConfigError(`${given} and ${fileVar}: expected one of them, got both`);
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

/** Why `file` cannot be read (errnoText), or undefined when it can. Its content is not kept. */
export function cannotRead(file: string): string | undefined {
  try {
    fs.readFileSync(file);
    return undefined;
  } catch (e) {
    return errnoText(e);
  }
}

/** "ENOENT: no such file or directory" without the path and syscall Node appends. */
export function errnoText(e: unknown): string {
  const err = toError(e) as Error & { code?: unknown };
  const first = err.message.split(',')[0] ?? err.message;
  return typeof err.code === 'string' ? first : err.message;
}
