// The replacement record decoder (src/kafka/fast-record-decoder.ts) against KafkaJS's own, on
// records KafkaJS's encoder wrote: every field of every record must be the same, across first
// offsets and timestamps on both sides of the exact-number limit, deltas of every varint length
// (the number path and the Long fallback), both timestamp types, keys, values and headers.
import {
  Decoder,
  encodeRecord,
  HeaderDecoder,
  Long,
  originalRecordDecoder,
} from '../../helpers/kafkajs-internals.js';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRecordDecoder,
  fastRecordDecoder,
  type RecordContext,
} from '../../../src/kafka/fast-record-decoder.js';

const fast = createRecordDecoder(Long, HeaderDecoder);
const ROOT = path.resolve(__dirname, '../../..');

/** Decodes the record in `bytes` (length first) with `decode`, as KafkaJS's batch decoder does. */
function decodeWith(decode: (d: never, ctx?: RecordContext) => unknown, bytes: Buffer, ctx?: RecordContext) {
  const outer = new Decoder(bytes);
  const body = outer.readVarIntBytes()!;
  const d = new Decoder(body);
  const record = decode(d as never, ctx);
  return { record, consumed: d.offset === body.length };
}

const FIRST_OFFSETS = ['0', '7', '999999999999999', '1000000000000000', '9223372036854775000'];
const FIRST_TIMESTAMPS = [
  '1767623400000',
  '0',
  '-1',
  '999999999999999',
  '-99999999999999',
  '1000000000000000',
];
const TIMESTAMP_DELTAS: (number | bigint)[] = [
  0,
  1,
  -1,
  63,
  -64,
  64,
  8191,
  -8192,
  2 ** 20,
  -(2 ** 20),
  2 ** 27,
  2 ** 34,
  -(2 ** 41),
  2 ** 47,
  -(2 ** 47),
  2 ** 48,
  -(2 ** 48) - 1,
  2 ** 52,
  2n ** 62n,
  -(2n ** 62n),
];
const OFFSET_DELTAS = [0, 1, 63, 64, 1000, 2 ** 20, 2 ** 31 - 1];

describe('fast record decoder', () => {
  it('is installed in a process that imports it before kafkajs, and not here (kafkajs came first)', () => {
    assert.deepEqual(fastRecordDecoder, { installed: false, reason: 'kafkajs was loaded first' });
  });

  it('replaces the decoder KafkaJS uses when imported before kafkajs, as the process entries do', () => {
    const script = [
      "const m = require('./src/kafka/fast-record-decoder.ts');",
      "require('kafkajs');",
      "const d = require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');",
      "console.log(JSON.stringify({ installed: m.fastRecordDecoder.installed, ours: d.toString().includes('readVarLong(decoder)') }));",
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(out), { installed: true, ours: true });
  });

  it('decodes every record exactly as KafkaJS does', () => {
    let compared = 0;
    for (const firstOffset of FIRST_OFFSETS) {
      for (const firstTimestamp of FIRST_TIMESTAMPS) {
        for (const timestampDelta of TIMESTAMP_DELTAS) {
          const offsetDelta = OFFSET_DELTAS[compared % OFFSET_DELTAS.length]!;
          const bytes = encodeRecord({
            offsetDelta,
            timestampDelta:
              typeof timestampDelta === 'bigint' ? Long.fromValue(timestampDelta) : timestampDelta,
            key: compared % 3 === 0 ? null : Buffer.from(`k${compared}`),
            value: compared % 5 === 0 ? null : Buffer.from(`{"n":${compared}}`),
            headers: compared % 4 === 0 ? { a: '1', b: ['2', '3'] } : {},
          }).buffer;
          const ctx: RecordContext = {
            firstOffset,
            firstTimestamp,
            magicByte: 2,
            isControlBatch: compared % 7 === 0,
            timestampType: compared % 6 === 0 ? 1 : 0,
            maxTimestamp: '1767623499999',
          };
          const a = decodeWith(originalRecordDecoder, bytes, ctx);
          const b = decodeWith(fast, bytes, ctx);
          assert.deepEqual(
            b,
            a,
            `offset ${firstOffset} + ${offsetDelta}, timestamp ${firstTimestamp} + ${timestampDelta}`,
          );
          assert.ok(a.consumed && b.consumed);
          compared++;
        }
      }
    }
    assert.equal(compared, FIRST_OFFSETS.length * FIRST_TIMESTAMPS.length * TIMESTAMP_DELTAS.length);
  });

  it('fails as KafkaJS does without a batch context, and agrees with one', () => {
    const bytes = encodeRecord({ offsetDelta: 3, timestampDelta: 5, key: 'k', value: 'v' }).buffer;
    // No context: KafkaJS adds the deltas to undefined and fails; so must the replacement.
    assert.throws(() => decodeWith(originalRecordDecoder, bytes));
    assert.throws(() => decodeWith(fast, bytes));
    // null is not undefined: KafkaJS fails before reading anything, and so must the replacement.
    const nullOriginal = new Decoder(bytes);
    nullOriginal.readVarInt();
    const nullFast = new Decoder(bytes);
    nullFast.readVarInt();
    assert.throws(() => (originalRecordDecoder as (d: unknown, c: unknown) => unknown)(nullOriginal, null));
    assert.throws(() => (fast as (d: unknown, c: unknown) => unknown)(nullFast, null));
    assert.equal(nullFast.offset, nullOriginal.offset);
    const asIs = { firstOffset: '10', firstTimestamp: '20', isControlBatch: null as unknown as boolean };
    assert.deepEqual(
      decodeWith(fast as never, bytes, asIs),
      decodeWith(originalRecordDecoder as never, bytes, asIs),
    );
    const ctx: RecordContext = { firstOffset: '10', firstTimestamp: '20' };
    assert.deepEqual(
      decodeWith(fast as never, bytes, ctx),
      decodeWith(originalRecordDecoder as never, bytes, ctx),
    );
  });
});
