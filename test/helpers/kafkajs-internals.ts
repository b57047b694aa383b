// KafkaJS's own record encoder and decoder, loaded before src/kafka/fast-record-decoder.ts can
// replace the decoder: the reference the replacement is compared with. Import this first.
import { createRequire } from 'node:module';
import type { KafkaDecoder, LongLike, RecordContext } from '../../src/kafka/fast-record-decoder.js';

const req = createRequire(__filename);

export const originalRecordDecoder = req('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as (
  d: KafkaDecoder,
  ctx?: RecordContext,
) => unknown;
export const Decoder = req('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => KafkaDecoder;
export const Long = req('kafkajs/src/utils/long.js') as { fromValue(v: string | number | bigint): LongLike };
export const HeaderDecoder = req('kafkajs/src/protocol/recordBatch/header/v0/decoder.js') as (
  d: KafkaDecoder,
) => { key: string; value: Buffer | null };
/** Encodes one record, length first, as KafkaJS's producer does. */
export const encodeRecord = req('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: {
  offsetDelta?: number;
  timestampDelta?: number | LongLike;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string | string[]>;
}) => { buffer: Buffer };
