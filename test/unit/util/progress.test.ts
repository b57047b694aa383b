// Progress lines off a terminal, on a fake clock: at most one line per 2 s while updating,
// repeated while stalled, always one at the end; the total may be unknown at first and
// become known later.
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { progress } from '../../../src/util/progress.js';
import { FakeClock } from '../../helpers/fake-clock.js';

function pipe(): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

void describe('progress (not a terminal)', () => {
  void it('a known total: count, rate and ETA, throttled to one line per 2 s', async () => {
    const clock = new FakeClock();
    const { stream, lines } = pipe();
    const p = progress('produced', 100, stream, clock);
    await clock.advance(1000);
    p.update(10);
    await clock.advance(500);
    p.update(15);
    await clock.advance(2500);
    p.update(40);
    p.stop();
    assert.deepEqual(lines, [
      'produced: 10/100 (10/s, ETA 9s)\n',
      'produced: 40/100 (10/s, ETA 6s)\n',
      'produced: 40/100 (10/s, ETA 6s)\n',
    ]);
  });

  void it('an unknown total: count and rate; a total and detail given later are shown', async () => {
    const clock = new FakeClock();
    const { stream, lines } = pipe();
    const p = progress('replay', undefined, stream, clock);
    await clock.advance(1000);
    p.update(5, { detail: 'matched 1' });
    await clock.advance(3000);
    p.update(20, { total: 50, detail: 'matched 4' });
    p.stop();
    assert.deepEqual(lines, [
      'replay: 5 (5/s) | matched 1\n',
      'replay: 20/50 (5/s, ETA 6s) | matched 4\n',
      'replay: 20/50 (5/s, ETA 6s) | matched 4\n',
    ]);
  });

  void it('while stalled (no update), the line is repeated every 2 s until stop', async () => {
    const clock = new FakeClock();
    const { stream, lines } = pipe();
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const p = progress('replay progress', undefined, stream, clock);
      const tick = async (ms: number): Promise<void> => {
        await clock.advance(ms);
        mock.timers.tick(ms);
      };
      await clock.advance(1000);
      p.update(5, { detail: 'entries=5' });
      await tick(1000); // 1 s after the last line: too soon
      await tick(2000);
      await tick(2000);
      p.stop();
      await tick(4000); // stopped: nothing more
      assert.deepEqual(lines, [
        'replay progress: 5 (5/s) | entries=5\n',
        'replay progress: 5 (1/s) | entries=5\n',
        'replay progress: 5 (1/s) | entries=5\n',
        'replay progress: 5 (1/s) | entries=5\n',
      ]);
    } finally {
      mock.timers.reset();
    }
  });
});
