-- 0006_rate_limits: broker v2 - rate limits and budgets per tenant and per
-- API key, and API keys scoped to some services (issue 5).
--
-- Every limit is NULL (unlimited) or a number: requests per minute, tokens
-- (prompt + completion) per minute, requests in flight at once, and tokens
-- per calendar month (UTC). The broker enforces them with token buckets and
-- counters in Redis (docs/API.md, "Rate limits"); these columns are their
-- source of truth. A key's limits apply on top of its tenant's.
ALTER TABLE tenants
  ADD COLUMN limit_requests_per_minute  bigint,
  ADD COLUMN limit_tokens_per_minute    bigint,
  ADD COLUMN limit_concurrent_requests  integer,
  ADD COLUMN limit_monthly_tokens       bigint,
  ADD CONSTRAINT tenants_rate_limits_check CHECK (
    (limit_requests_per_minute IS NULL OR limit_requests_per_minute >= 1) AND
    (limit_tokens_per_minute IS NULL OR limit_tokens_per_minute >= 1) AND
    (limit_concurrent_requests IS NULL OR limit_concurrent_requests >= 1) AND
    (limit_monthly_tokens IS NULL OR limit_monthly_tokens >= 0));

-- service_ids: the services the key may call (NULL: every service of its
-- tenant). Ids, not names: a deleted service's id simply matches nothing.
ALTER TABLE api_keys
  ADD COLUMN limit_requests_per_minute  bigint,
  ADD COLUMN limit_tokens_per_minute    bigint,
  ADD COLUMN limit_concurrent_requests  integer,
  ADD COLUMN limit_monthly_tokens       bigint,
  ADD COLUMN service_ids                uuid[],
  ADD CONSTRAINT api_keys_rate_limits_check CHECK (
    (limit_requests_per_minute IS NULL OR limit_requests_per_minute >= 1) AND
    (limit_tokens_per_minute IS NULL OR limit_tokens_per_minute >= 1) AND
    (limit_concurrent_requests IS NULL OR limit_concurrent_requests >= 1) AND
    (limit_monthly_tokens IS NULL OR limit_monthly_tokens >= 0)),
  ADD CONSTRAINT api_keys_service_ids_check CHECK (
    service_ids IS NULL OR cardinality(service_ids) BETWEEN 1 AND 100);
