-- 0007_autoscale_ttft: autoscaling on latency (issue 7). A service may name
-- the time to first token (as the brokers measure it: time to the first
-- byte of a replica's answer) it aims at; the autoscaler adds replicas when
-- the recent p90 is above it (docs/API.md, "Autoscaling"). NULL: no target.
ALTER TABLE services
  ADD COLUMN target_ttft_ms double precision,
  ADD CONSTRAINT services_target_ttft_ms_check CHECK (
    target_ttft_ms IS NULL OR (target_ttft_ms > 0 AND target_ttft_ms <= 600000));
