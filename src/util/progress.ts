// Progress for people: a cli-progress bar (count, rate, ETA) on a TTY, and a plain line
// every few seconds otherwise (CI logs, pipes), so long runs never look hung.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function progress(
  label: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  const started = Date.now();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted}`,
        stream,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0 });
    return {
      update(done) {
        const s = (Date.now() - started) / 1000;
        bar.update(done, { rate: s > 0 ? Math.round(done / s) : 0 });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let last = 0;
  let current = 0;
  const line = (): void => {
    const s = (Date.now() - started) / 1000;
    const rate = s > 0 ? current / s : 0;
    const eta = rate > 0 && total > current ? Math.round((total - current) / rate) : 0;
    stream.write(`${label}: ${current}/${total} (${Math.round(rate)}/s, ETA ${eta}s)\n`);
  };
  return {
    update(done) {
      current = done;
      if (Date.now() - last >= 2000) {
        last = Date.now();
        line();
      }
    },
    stop() {
      line();
    },
  };
}
