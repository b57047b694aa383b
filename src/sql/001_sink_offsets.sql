-- Exactly-once bookkeeping: the next Kafka offset to apply per group/topic/partition.
-- Updated in the same transaction as the rows it covers (see src/sink/offset-store.ts).
CREATE TABLE IF NOT EXISTS sink_offsets (
  group_id    TEXT        NOT NULL,
  topic       TEXT        NOT NULL,
  partition   INTEGER     NOT NULL,
  next_offset BIGINT      NOT NULL,
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);
