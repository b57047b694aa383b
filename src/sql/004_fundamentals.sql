-- Company fundamentals (topic md.fundamentals).
CREATE TABLE IF NOT EXISTS fundamentals (
  tenant_id         UUID        NOT NULL,
  vendor            TEXT        NOT NULL,
  symbol            VARCHAR(20) NOT NULL,
  asof              TIMESTAMPTZ NOT NULL,
  total_assets      NUMERIC,
  total_liabilities NUMERIC,
  net_income        NUMERIC,
  eps               NUMERIC,
  PRIMARY KEY (asof, tenant_id, vendor, symbol)
);
