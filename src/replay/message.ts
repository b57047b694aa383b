// What a replay sends: the original record, byte for byte, with headers saying it is a
// replay and of which source record; and the target interface that sends and confirms it.
import type { IHeaders } from 'kafkajs';
import type { DeadLetter } from '../core/dead-letter.js';
import { sourceKey } from '../dlq/dlq-census.js';
import { sendableHeaders } from '../dlq/topic/codec.js';
import { setOwn } from '../util/own-property.js';

const REPLAY_HEADER = 'mds.replay';
export const REPLAY_SOURCE_HEADER = 'mds.replay.source';

export interface ReplayMessage {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
}

/** A message as the target placed it: its partition and offset, or offset -1 when unknown. */
export interface SentRecord {
  readonly message: ReplayMessage;
  readonly partition: number;
  readonly offset: number;
}

export interface ReplayTarget {
  /** Resolves when every message is acknowledged by the broker (acks=all); in input order. */
  send(messages: readonly ReplayMessage[]): Promise<SentRecord[]>;
  /**
   * Of the sent records, those not in the log at their partition and offset. A client can
   * resolve a send whose records a broker failure then loses; replay sends those again
   * before it moves the source's position.
   */
  confirm?(sent: readonly SentRecord[]): Promise<SentRecord[]>;
}

/** The original record with the replay headers (ours replace any from an earlier replay). */
export function replayMessage(d: DeadLetter, toTopic?: string): ReplayMessage {
  const headers = sendableHeaders(d.headers, [REPLAY_HEADER, REPLAY_SOURCE_HEADER]);
  setOwn(headers, REPLAY_HEADER, '1');
  setOwn(headers, REPLAY_SOURCE_HEADER, sourceKey(d));
  return { topic: toTopic ?? d.topic, key: d.key, value: d.value, headers };
}
