// The backpressure summary on a fake clock: counts and time paused per interval, a pause
// that spans intervals split between them, nothing to report when fetching never paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PauseSummary, type PauseReport } from '../../../src/kafka/pause-summary.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const report = (
  intervalMs: number,
  pauses: number,
  gatePauses: number,
  resumes: number,
  pausedMs: number,
  pausedNow: boolean,
): PauseReport => ({ intervalMs, pauses, gatePauses, resumes, pausedMs, pausedNow });

test('pauses, resumes and time paused in the interval', async () => {
  const clock = new FakeClock(1000);
  const s = new PauseSummary(clock);
  await clock.advance(100);
  s.paused('watermark');
  await clock.advance(300);
  s.resumed();
  await clock.advance(100);
  s.paused('gate');
  await clock.advance(200);
  s.resumed();
  await clock.advance(300);
  assert.deepEqual(s.take(), report(1000, 2, 1, 2, 500, false));
  await clock.advance(1000);
  assert.equal(s.take(), null, 'a quiet interval reports nothing');
});

test('a pause that spans intervals counts in each, and a second pause while paused adds no time', async () => {
  const clock = new FakeClock();
  const s = new PauseSummary(clock);
  await clock.advance(400);
  s.paused('watermark');
  await clock.advance(100);
  s.paused('gate');
  await clock.advance(500);
  assert.deepEqual(s.take(), report(1000, 2, 1, 0, 600, true));
  await clock.advance(1000);
  assert.deepEqual(s.take(), report(1000, 0, 0, 0, 1000, true));
  await clock.advance(250);
  s.resumed();
  s.resumed();
  await clock.advance(750);
  assert.deepEqual(s.take(), report(1000, 0, 0, 2, 250, false));
});
