// Reads the NDJSON dead-letter files for replay: a directory is walked for *.ndjson files,
// read in day and rotation order, line by line.
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { toError } from '../../core/errors.js';
import type { DeadLetterSource, SourceBatch, SourceEntry } from '../source.js';
import { decodeDeadLetterLine } from './codec.js';

const ROTATED = /^(.*?)(?:\.(\d+))?\.ndjson$/;

/**
 * Rotation order, not plain name order: `2024-05-01.ndjson` comes before `2024-05-01.1.ndjson`,
 * and `.2` before `.10`.
 */
function compareDeadLetterFiles(a: string, b: string): number {
  const da = path.dirname(a);
  const db = path.dirname(b);
  if (da !== db) return da < db ? -1 : 1;
  const ma = ROTATED.exec(path.basename(a));
  const mb = ROTATED.exec(path.basename(b));
  const ba = ma?.[1] ?? path.basename(a);
  const bb = mb?.[1] ?? path.basename(b);
  if (ba !== bb) return ba < bb ? -1 : 1;
  return Number(ma?.[2] ?? 0) - Number(mb?.[2] ?? 0);
}

/** The *.ndjson files under the given files and directories (walked recursively), in rotation order. */
export async function listDeadLetterFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await fs.stat(p);
    if (!st.isDirectory()) {
      out.push(p);
      return;
    }
    for (const e of await fs.readdir(p, { withFileTypes: true })) {
      const child = path.join(p, e.name);
      if (e.isDirectory()) await walk(child);
      else if (e.name.endsWith('.ndjson')) out.push(child);
    }
  };
  for (const p of paths) await walk(p);
  return out.sort(compareDeadLetterFiles);
}

export interface NdjsonDeadLetterSourceOptions {
  /** Files and directories; a directory is walked recursively for *.ndjson. */
  readonly paths: readonly string[];
  /** Entries per batch handed to replay (default 500). */
  readonly batchSize?: number;
}

/** Reads dead letters back from NDJSON files; a line that does not decode becomes an invalid entry. */
export class NdjsonDeadLetterSource implements DeadLetterSource {
  constructor(private readonly options: NdjsonDeadLetterSourceOptions) {}

  expectedTotal(): number | undefined {
    return undefined;
  }

  async *batches(): AsyncGenerator<SourceBatch> {
    const size = this.options.batchSize ?? 500;
    // Files keep no read position: acknowledging is a no-op.
    const ack = (): Promise<void> => Promise.resolve();
    let entries: SourceEntry[] = [];
    for (const file of await listDeadLetterFiles(this.options.paths)) {
      const lines = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        if (line.trim() === '') continue;
        const where = `${file}:${lineNo}`;
        try {
          entries.push({ ok: true, where, deadLetter: decodeDeadLetterLine(line) });
        } catch (e) {
          entries.push({ ok: false, where, error: toError(e).message });
        }
        if (entries.length >= size) {
          yield { entries, ack };
          entries = [];
        }
      }
    }
    if (entries.length > 0) yield { entries, ack };
  }
}
