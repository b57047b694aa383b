-- News (topic md.news). `id` is the producer's stable id, so a re-delivery is an upsert,
-- not a new row (the seed generated random ids and duplicated news on retry).
CREATE TABLE IF NOT EXISTS news (
  tenant_id       UUID             NOT NULL,
  vendor          TEXT             NOT NULL,
  id              TEXT             NOT NULL,
  published_at    TIMESTAMPTZ      NOT NULL,
  title           TEXT             NOT NULL,
  url             TEXT,
  symbol          VARCHAR(20),
  sentiment_score DOUBLE PRECISION CHECK (sentiment_score BETWEEN -1 AND 1),
  PRIMARY KEY (published_at, tenant_id, vendor, id)
);
