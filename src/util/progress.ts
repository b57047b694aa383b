// Progress for people: a cli-progress bar (count, rate, ETA) on a TTY, and a plain line
// every few seconds otherwise (CI logs, pipes), repeated while nothing moves, so long runs
// never look hung. The total may be unknown at first (a count without bar or ETA) and may
// change as the work is found.
import cliProgress from 'cli-progress';
import { systemClock, type Clock } from '../core/clock.js';

export interface Progress {
  /** `done` so far; `total` when it became known or changed; `detail` is shown after the count. */
  update(done: number, extra?: { readonly total?: number; readonly detail?: string }): void;
  stop(): void;
}

/** Plain lines are written at most this often. */
const LINE_EVERY_MS = 2000;

export function progress(
  label: string,
  total: number | undefined,
  stream: NodeJS.WriteStream = process.stderr,
  clock: Pick<Clock, 'now'> = systemClock,
): Progress {
  const started = clock.now();
  let current = 0;
  let detail = '';
  const rate = (): number => {
    const s = (clock.now() - started) / 1000;
    return s > 0 ? current / s : 0;
  };
  const note = (): string => (detail === '' ? '' : ` | ${detail}`);
  const apply = (done: number, extra?: { readonly total?: number; readonly detail?: string }): void => {
    current = done;
    if (extra?.total !== undefined) total = Math.max(extra.total, done);
    if (extra?.detail !== undefined) detail = extra.detail;
  };

  if (stream.isTTY) {
    // Made on the first update, when it is known whether there is a total to draw a bar for.
    let bar: cliProgress.SingleBar | undefined;
    const payload = (): { rate: number; detail: string } => ({ rate: Math.round(rate()), detail: note() });
    return {
      update(done, extra) {
        apply(done, extra);
        if (bar === undefined) {
          const format =
            total === undefined
              ? `${label} {value} | {rate}/s{detail}`
              : `${label} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted}{detail}`;
          bar = new cliProgress.SingleBar(
            { format, stream, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total ?? 0, done, payload());
          return;
        }
        if (total !== undefined) bar.setTotal(total);
        bar.update(done, payload());
      },
      stop() {
        bar?.stop();
      },
    };
  }
  let last = Number.NEGATIVE_INFINITY;
  let updated = false;
  const line = (): void => {
    last = clock.now();
    const r = rate();
    const of = total === undefined ? '' : `/${total}`;
    const eta = total !== undefined && r > 0 && total > current ? Math.round((total - current) / r) : 0;
    const etaText = total === undefined ? '' : `, ETA ${eta}s`;
    stream.write(`${label}: ${current}${of} (${Math.round(r)}/s${etaText})${note()}\n`);
  };
  // A stalled run sends no updates: the line is repeated so a log shows it is waiting, not
  // gone. Unref'd, so a caller that never reaches stop() cannot keep the process alive.
  const repeat = setInterval(() => {
    if (updated && clock.now() - last >= LINE_EVERY_MS) line();
  }, LINE_EVERY_MS);
  repeat.unref();
  return {
    update(done, extra) {
      apply(done, extra);
      updated = true;
      if (clock.now() - last >= LINE_EVERY_MS) line();
    },
    stop() {
      clearInterval(repeat);
      line();
    },
  };
}
