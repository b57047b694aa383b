-- OHLCV bars (topic md.bars). Prices are unconstrained NUMERIC so decimal strings are kept exactly.
CREATE TABLE IF NOT EXISTS bars (
  tenant_id   UUID          NOT NULL,
  vendor      TEXT          NOT NULL,
  symbol      VARCHAR(20)   NOT NULL,
  timeframe   VARCHAR(16)   NOT NULL,
  ts          TIMESTAMPTZ   NOT NULL,
  open_price  NUMERIC,
  high_price  NUMERIC,
  low_price   NUMERIC,
  close_price NUMERIC       NOT NULL,
  volume      BIGINT,
  PRIMARY KEY (ts, tenant_id, vendor, symbol, timeframe)
);
