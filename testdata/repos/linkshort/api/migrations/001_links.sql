CREATE TABLE IF NOT EXISTS links (
  code   text PRIMARY KEY,
  target text NOT NULL,
  clicks bigint NOT NULL DEFAULT 0
);
