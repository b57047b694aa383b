// The DLQ topic writer's check of a send's results: KafkaJS can resolve a send without a result
// for a partition whose leader died, and those records are not in the log.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordMetadata } from 'kafkajs';
import { partitionsWithoutResult } from '../../../src/kafka/producer.js';

const result = (partition: number, over: Partial<RecordMetadata> = {}): RecordMetadata => ({
  topicName: 'md.dlq',
  partition,
  errorCode: 0,
  baseOffset: '10',
  ...over,
});

void describe('partitionsWithoutResult', () => {
  void it('names each targeted partition without a good result, once', () => {
    assert.deepEqual(partitionsWithoutResult('md.dlq', [0, 1, 1, 0], [result(0), result(1)]), []);
    // The failover case: a result for partition 1 only.
    assert.deepEqual(partitionsWithoutResult('md.dlq', [0, 1, 0, 2], [result(1)]), [0, 2]);
    assert.deepEqual(
      partitionsWithoutResult(
        'md.dlq',
        [0, 1, 2],
        [result(0, { errorCode: 6 }), result(1, { baseOffset: '-1' }), result(2, { topicName: 'other' })],
      ),
      [0, 1, 2],
    );
  });
});
