// The connect bound derived from createKafka's settings, checked against KafkaJS's own retrier
// (kafkajs/src/retry) rather than restated: with its randomness at the top of its range, its
// waits add up to maxRetryBackoffMs.
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { KAFKA_RETRY, kafkaConnectGiveUpMs, maxRetryBackoffMs } from '../../../src/kafka/client-timing.js';
import { flushMicrotasks } from '../../helpers/fake-clock.js';

type Retrier = (
  fn: (bail: (e: Error) => void, count: number, time: number) => Promise<unknown>,
) => Promise<unknown>;
const load = createRequire(__filename);
const createRetry = load('kafkajs/src/retry') as (opts: object) => Retrier;
const defaults = load('kafkajs/src/retry/defaults') as { factor: number; multiplier: number };

void describe('KafkaJS connect timing', () => {
  void it("KafkaJS's retrier, randomness at its top, waits exactly maxRetryBackoffMs in all", async () => {
    // The production defaults (NODE_ENV=test swaps in others, hence given explicitly below).
    assert.deepEqual([defaults.factor, defaults.multiplier], [0.2, 2]);
    mock.method(Math, 'random', () => 0.999999);
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const waits: number[] = [];
      const failing = createRetry({
        ...KAFKA_RETRY,
        factor: defaults.factor,
        multiplier: defaults.multiplier,
      })((_bail, _count, time) => {
        waits.push(time);
        return Promise.reject(Object.assign(new Error('refused'), { retriable: true }));
      });
      const settled = failing.then(
        () => 'resolved',
        (e: unknown) => (e as Error).name,
      );
      for (let i = 0; i < 20 && waits.length <= KAFKA_RETRY.retries; i++) {
        await flushMicrotasks();
        mock.timers.tick(KAFKA_RETRY.maxRetryTime);
      }
      assert.equal(await settled, 'KafkaJSNumberOfRetriesExceeded');
      assert.equal(waits.length, KAFKA_RETRY.retries + 1);
      // The last try's failure is final: no wait after it.
      const total = waits.slice(0, -1).reduce((a, b) => a + b, 0);
      assert.equal(total, maxRetryBackoffMs(KAFKA_RETRY));
      assert.equal(total, 25_522);
    } finally {
      mock.timers.reset();
      mock.restoreAll();
    }
  });

  void it('give-up time: 9 tries of TCP connect + ApiVersions (+ 3 SASL requests) plus the waits', () => {
    assert.equal(kafkaConnectGiveUpMs(false), 9 * (5_000 + 30_000) + 25_522);
    assert.equal(kafkaConnectGiveUpMs(true), 9 * (5_000 + 30_000 + 90_000) + 25_522);
  });
});
