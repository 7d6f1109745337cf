-- 0009_worker_key: the cluster key that workers' per-replica secrets derive
-- from (issue 9, "Workers accept requests only from brokers"; docs/API.md,
-- "Worker authentication"). One row per named secret; the row 'worker_key'
-- (32 random bytes) is inserted on first need by whichever scheduler or
-- broker starts first (INSERT ... ON CONFLICT DO NOTHING, then SELECT), so
-- concurrent processes agree on one key. A replica's secret is
-- hex(HMAC-SHA256(worker_key, replica id)).
CREATE TABLE cluster_secrets (
  name text PRIMARY KEY,
  value bytea NOT NULL CHECK (octet_length(value) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
