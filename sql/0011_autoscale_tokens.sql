-- 0011_autoscale_tokens: autoscaling on throughput (issue 7). A service may
-- name the generated tokens per second one replica should carry; the
-- autoscaler then wants at least ceil(tokens/s the brokers measured over the
-- window / target) replicas (docs/API.md, "Autoscaling"). NULL: no target.
ALTER TABLE services
  ADD COLUMN target_tokens_per_second double precision,
  ADD CONSTRAINT services_target_tokens_per_second_check CHECK (
    target_tokens_per_second IS NULL OR (target_tokens_per_second > 0 AND target_tokens_per_second <= 1000000));
