-- Option snapshots (topic md.options).
CREATE TABLE IF NOT EXISTS options_snap (
  tenant_id   UUID             NOT NULL,
  vendor      TEXT             NOT NULL,
  symbol      VARCHAR(20)      NOT NULL,
  expiry      DATE             NOT NULL,
  option_type CHAR(1)          NOT NULL CHECK (option_type IN ('C', 'P')),
  strike      NUMERIC          NOT NULL,
  ts          TIMESTAMPTZ      NOT NULL,
  iv          DOUBLE PRECISION,
  delta       DOUBLE PRECISION,
  gamma       DOUBLE PRECISION,
  oi          BIGINT,
  volume      BIGINT,
  spot        NUMERIC,
  PRIMARY KEY (ts, tenant_id, vendor, symbol, expiry, option_type, strike)
);
