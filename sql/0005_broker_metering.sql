-- 0005_broker_metering: broker v2 - finer usage, the request log, prices.
--
-- usage_records gain the cached prompt tokens (prompt tokens whose KV blocks
-- the replica reused; counted inside prompt_tokens too, as in OpenAI's
-- usage), the model name the service ran and the center of the replica that
-- answered (NULL: unknown, and rows written before this migration).
ALTER TABLE usage_records
  ADD COLUMN cached_prompt_tokens bigint NOT NULL DEFAULT 0,
  ADD COLUMN model                text,
  ADD COLUMN center_id            uuid,
  ADD CONSTRAINT usage_records_cached_check CHECK (cached_prompt_tokens >= 0);
CREATE INDEX usage_records_period_idx ON usage_records (period_start);

-- The request log: one row per request the gateway answered for a known
-- tenant (written in batches by the broker; rows older than the broker's
-- retention are deleted by it). Not a foreign key anywhere: it outlives
-- services, keys and replicas. request_id is the x-request-id the client
-- got (its own when it sent a sane one, so not unique).
CREATE TABLE request_log (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id           text NOT NULL,
  tenant_id            uuid NOT NULL,
  api_key_id           uuid,
  service_id           uuid,
  service_name         text NOT NULL DEFAULT '',
  model                text NOT NULL DEFAULT '',
  path                 text NOT NULL,
  stream               boolean NOT NULL DEFAULT false,
  replica_id           text,
  node_id              text,
  center_id            text,
  replica_url          text,
  attempts             integer NOT NULL DEFAULT 0,
  status               integer NOT NULL,
  error                text,
  prompt_tokens        bigint NOT NULL DEFAULT 0,
  cached_prompt_tokens bigint NOT NULL DEFAULT 0,
  completion_tokens    bigint NOT NULL DEFAULT 0,
  latency_ms           double precision NOT NULL,
  ttfb_ms              double precision,
  started_at           timestamptz NOT NULL,
  CONSTRAINT request_log_request_id_length CHECK (char_length(request_id) BETWEEN 1 AND 128),
  CONSTRAINT request_log_counts_check
    CHECK (prompt_tokens >= 0 AND cached_prompt_tokens >= 0 AND completion_tokens >= 0),
  CONSTRAINT request_log_error_length CHECK (error IS NULL OR char_length(error) <= 1000)
);
CREATE INDEX request_log_tenant_started_idx ON request_log (tenant_id, started_at DESC, id DESC);
CREATE INDEX request_log_request_id_idx ON request_log (request_id);
CREATE INDEX request_log_started_idx ON request_log (started_at);

-- Prices in CNY, set by admins: per million prompt (not cached), cached
-- prompt and completion tokens, and per replica-hour of a service's
-- replicas. model '*' stands for every model, center_id NULL for every
-- center; the most specific row wins (model and center, model, center, '*').
CREATE TABLE prices (
  id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model                       text NOT NULL,
  center_id                   uuid REFERENCES centers (id) ON DELETE CASCADE,
  prompt_per_million          numeric(18, 6) NOT NULL DEFAULT 0,
  cached_prompt_per_million   numeric(18, 6) NOT NULL DEFAULT 0,
  completion_per_million      numeric(18, 6) NOT NULL DEFAULT 0,
  replica_hour                numeric(18, 6) NOT NULL DEFAULT 0,
  currency                    text NOT NULL DEFAULT 'CNY',
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT prices_model_format CHECK (model = '*' OR model ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
  CONSTRAINT prices_non_negative CHECK (prompt_per_million >= 0 AND cached_prompt_per_million >= 0 AND
                                        completion_per_million >= 0 AND replica_hour >= 0),
  CONSTRAINT prices_currency_check CHECK (currency = 'CNY')
);
CREATE UNIQUE INDEX prices_model_center_key
  ON prices (model, COALESCE(center_id, '00000000-0000-0000-0000-000000000000'::uuid));
