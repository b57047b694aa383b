// KafkaJS gives each fetched record its offset and timestamp by way of its 64-bit Long type
// (a BigInt wrapper): parse the batch's first offset from a string, add the delta, print the
// sum back, for the offset and again for the timestamp, after reading the timestamp delta as a
// zigzag varlong one Long operation per byte. That is some forty short-lived objects per record,
// most of the worker's garbage. KafkaJS is unmaintained (2.2.4 is its last release), so its
// record decoder module is replaced here, before KafkaJS loads it, by one that does the same
// sums in plain numbers whenever they are exact (first offset or timestamp below 10^15, a delta
// of at most seven varint bytes) and leaves everything else to KafkaJS's Long code as before.
// The record it returns is the same object, field for field: test/unit/kafka/fast-record-
// decoder.test.ts compares the two on records KafkaJS's own encoder wrote.
//
// Importing this module installs the replacement; it must come before anything loads kafkajs
// (first import of the process entry). If kafkajs is already loaded, or is not the version this
// was written against, nothing is replaced and KafkaJS decodes as it always did.
import Module, { createRequire } from 'node:module';

export interface LongLike {
  add(other: LongLike | number): LongLike;
  toString(): string;
}

/** The parts of KafkaJS's protocol Decoder a record needs (kafkajs/src/protocol/decoder.js). */
export interface KafkaDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): LongLike;
  readVarIntBytes(): Buffer | null;
  readVarIntArray<T>(reader: (d: KafkaDecoder) => T): T[];
}

export interface RecordContext {
  readonly firstOffset: string;
  readonly firstTimestamp: string;
  readonly magicByte?: number;
  readonly isControlBatch?: boolean;
  readonly timestampType?: number;
  readonly maxTimestamp?: string;
}

type RecordDecoderFn = (decoder: KafkaDecoder, context?: RecordContext) => unknown;

const KAFKAJS_VERSION = '2.2.4';
const RECORD_DECODER = 'kafkajs/src/protocol/recordBatch/record/v0/decoder.js';
const LOG_APPEND_TIME = 1; // kafkajs/src/protocol/timestampTypes.js
/** Up to 15 characters a decimal string is below 10^15: its sum with a delta below 2^48 stays exact. */
const EXACT_CHARS = 15;

const req = createRequire(__filename);

/** Whether the replacement is in place, and why not when it is not (for the bench and logs). */
export const fastRecordDecoder: { installed: boolean; reason: string } = install();

function install(): { installed: boolean; reason: string } {
  try {
    const version = (req('kafkajs/package.json') as { version: string }).version;
    if (version !== KAFKAJS_VERSION)
      return { installed: false, reason: `kafkajs ${version}, written for ${KAFKAJS_VERSION}` };
    const path = req.resolve(RECORD_DECODER);
    if (req.cache[path] !== undefined) return { installed: false, reason: 'kafkajs was loaded first' };
    const Long = req('kafkajs/src/utils/long.js') as { fromValue(v: string): LongLike };
    const Header = req('kafkajs/src/protocol/recordBatch/header/v0/decoder.js') as (d: KafkaDecoder) => {
      key: string;
      value: Buffer | null;
    };
    const module = new Module(path);
    module.filename = path;
    module.loaded = true;
    module.exports = createRecordDecoder(Long, Header);
    req.cache[path] = module;
    return { installed: true, reason: '' };
  } catch (e) {
    return { installed: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * KafkaJS's record decoder (record/v0/decoder.js) with number arithmetic where it is exact.
 * Exported for the test that compares it with the original.
 */
export function createRecordDecoder(
  Long: { fromValue(v: string): LongLike },
  Header: (d: KafkaDecoder) => { key: string; value: Buffer | null },
): RecordDecoderFn {
  return (decoder, context) => {
    // Read as KafkaJS does: a default object only for undefined, defaults only for undefined fields.
    const batchContext = context === undefined ? ({} as RecordContext) : context;
    const {
      firstOffset,
      firstTimestamp,
      magicByte,
      isControlBatch = false,
      timestampType,
      maxTimestamp,
    } = batchContext;
    const attributes = decoder.readInt8();
    const delta = readVarLong(decoder);
    const timestamp =
      timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : sum(Long, firstTimestamp, delta);
    const offset = sum(Long, firstOffset, decoder.readVarInt());
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const list = decoder.readVarIntArray(Header);
    return {
      magicByte,
      attributes,
      timestamp,
      offset,
      key,
      value,
      headers: list.length === 0 ? {} : headersOf(list),
      isControlRecord: isControlBatch,
      batchContext,
    };
  };
}

/** A zigzag varlong as a number when it has at most seven bytes (exact), else KafkaJS's Long. */
function readVarLong(d: KafkaDecoder): number | LongLike {
  const buf = d.buffer;
  let n = 0;
  let scale = 1;
  for (let i = d.offset, end = Math.min(d.offset + 7, buf.length); i < end; i++) {
    const b = buf[i]!;
    n += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) {
      d.offset = i + 1;
      return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    }
  }
  return d.readVarLong();
}

/** `first` (a decimal string) plus `delta`, as KafkaJS's Long would print it. */
function sum(Long: { fromValue(v: string): LongLike }, first: string, delta: number | LongLike): string {
  if (typeof delta === 'number' && first.length <= EXACT_CHARS) return String(Number(first) + delta);
  return Long.fromValue(first).add(delta).toString();
}

/** Headers as KafkaJS folds them: one value per key, an array where a key repeats. */
function headersOf(list: readonly { key: string; value: Buffer | null }[]): Record<string, unknown> {
  return list.reduce<Record<string, unknown>>((obj, { key, value }) => {
    const seen = obj[key];
    return {
      ...obj,
      [key]: seen === undefined ? value : Array.isArray(seen) ? seen.concat([value]) : [seen, value],
    };
  }, {});
}
