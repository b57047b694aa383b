// Pause and resume while KafkaJS has no consumer group (before run, between a crash and its
// restart, after stop): KafkaJS throws then, and a throw here would abort a shutdown or a
// worker releasing queue capacity. Uses a real, unconnected KafkaJS client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../../src/config/load-config.js';
import { SinkConsumer } from '../../../src/kafka/sink-consumer.js';
import type { Dispatcher } from '../../../src/pipeline/dispatcher.js';
import { createLogger } from '../../../src/core/logger.js';

test('pauseAll and resumeAll do not throw while KafkaJS has no consumer group', () => {
  const { config } = loadConfig({ env: { NODE_ENV: 'development' } });
  const kafka = new Kafka({ clientId: 't', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
  const hooks = {
    onAssignment: () => undefined,
    readStoredOffsets: () => Promise.resolve(new Map<string, number>()),
    onBatchFetched: () => undefined,
    onCrash: () => undefined,
    onFatal: () => undefined,
  };
  const c = new SinkConsumer(kafka, config, ['md.bars'], {} as Dispatcher, hooks, createLogger('silent'));
  assert.throws(() => c.consumer.pause([{ topic: 'md.bars' }]), /not initialized/, 'KafkaJS itself throws');
  c.pauseAll();
  assert.equal(c.isPaused, true, 'the pause is remembered, to be applied on the next join');
  c.resumeAll();
  assert.equal(c.isPaused, false);
});

test('after stopFetching, resumeAll keeps the pause: a draining member fetches nothing more', () => {
  const { config } = loadConfig({ env: { NODE_ENV: 'development' } });
  const kafka = new Kafka({ clientId: 't', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
  const hooks = {
    onAssignment: () => undefined,
    onBatchFetched: () => undefined,
    onCrash: () => undefined,
    onFatal: () => undefined,
    readStoredOffsets: () => Promise.resolve(new Map<string, number>()),
  };
  const c = new SinkConsumer(kafka, config, ['md.bars'], {} as Dispatcher, hooks, createLogger('silent'));
  c.stopFetching();
  assert.equal(c.isPaused, true);
  c.resumeAll(); // the queue fell under its low watermark while draining
  assert.equal(c.isPaused, true, 'still paused');
});
