-- 0001_init: the platform's schema (PostgreSQL 15).
--
-- PostgreSQL is the source of truth: who may do what (tenants, users, API
-- keys, sessions), what the pool is made of (centers, join tokens, nodes,
-- devices), what can run (catalog models and their files), what should run
-- and where it runs (services, replicas), and what happened (usage, audit).
-- Live state that may be lost (heartbeats, load, routes) lives in Redis.
--
-- Conventions:
--  - Entities the API names have uuid ids (gen_random_uuid()); append-only
--    history (usage_records, audit_log) and devices have bigint identities.
--  - Every time is timestamptz. Money is numeric. Secrets (API keys, join
--    tokens, node secrets, session tokens) are stored only as their SHA-256
--    (bytea, 32 bytes); passwords as a slow-KDF string.
--  - Enumerations are text with CHECK constraints (easy to extend in a later
--    migration: drop and re-add the CHECK).
--  - Rows that history points at are not deleted but retired: nodes get
--    status 'removed', services 'deleted' (deleted_at), keys revoked_at.
--  - updated_at is maintained by a trigger; `version` columns are for
--    optimistic concurrency (UPDATE ... SET version = version + 1
--    WHERE id = $1 AND version = $2; 0 rows means someone else won).
-- Applied once by common/db/migrate.cpp, inside a transaction.

CREATE FUNCTION scn_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------
-- Tenants: the customers. allowed_regions NULL means anywhere in the pool.
CREATE TABLE tenants (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name            text NOT NULL,
  display_name    text NOT NULL,
  status          text NOT NULL DEFAULT 'active',
  allowed_regions text[],
  max_replicas    integer NOT NULL DEFAULT 16,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_name_key UNIQUE (name),
  CONSTRAINT tenants_name_format CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  CONSTRAINT tenants_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 200),
  CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended')),
  CONSTRAINT tenants_max_replicas_check CHECK (max_replicas BETWEEN 0 AND 10000),
  CONSTRAINT tenants_allowed_regions_check
    CHECK (allowed_regions IS NULL OR array_position(allowed_regions, NULL) IS NULL)
);

-- ---------------------------------------------------------------------------
-- Centers: a supercomputing / AI-compute site in a region (province).
CREATE TABLE centers (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                text NOT NULL,
  region              text NOT NULL,
  price_gpu_hour      numeric(12, 4) NOT NULL DEFAULT 0,
  price_cpu_core_hour numeric(12, 6) NOT NULL DEFAULT 0,
  currency            text NOT NULL DEFAULT 'CNY',
  status              text NOT NULL DEFAULT 'active',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT centers_name_key UNIQUE (name),
  CONSTRAINT centers_name_format CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  CONSTRAINT centers_region_length CHECK (char_length(region) BETWEEN 1 AND 100),
  CONSTRAINT centers_price_gpu_hour_check CHECK (price_gpu_hour >= 0),
  CONSTRAINT centers_price_cpu_core_hour_check CHECK (price_cpu_core_hour >= 0),
  CONSTRAINT centers_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT centers_status_check CHECK (status IN ('active', 'maintenance', 'retired'))
);
CREATE INDEX centers_region_idx ON centers (region);

-- ---------------------------------------------------------------------------
-- Users (people). One role each: an admin sees everything, an operator runs
-- one center, a member belongs to one tenant.
CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username      text NOT NULL,
  password_hash text NOT NULL,
  role          text NOT NULL,
  tenant_id     uuid REFERENCES tenants (id) ON DELETE CASCADE,
  center_id     uuid REFERENCES centers (id) ON DELETE CASCADE,
  disabled_at   timestamptz,
  last_login_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$'),
  CONSTRAINT users_password_hash_check CHECK (char_length(password_hash) BETWEEN 16 AND 1000),
  CONSTRAINT users_role_check CHECK (
    (role = 'admin' AND tenant_id IS NULL AND center_id IS NULL) OR
    (role = 'operator' AND center_id IS NOT NULL AND tenant_id IS NULL) OR
    (role = 'member' AND tenant_id IS NOT NULL AND center_id IS NULL))
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_tenant_id_idx ON users (tenant_id) WHERE tenant_id IS NOT NULL;
CREATE INDEX users_center_id_idx ON users (center_id) WHERE center_id IS NOT NULL;

-- Login sessions of people (the cookie holds the token; only its hash here).
CREATE TABLE sessions (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash   bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
  CONSTRAINT sessions_token_hash_length CHECK (octet_length(token_hash) = 32),
  CONSTRAINT sessions_expiry_check CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- API keys of programs, per tenant. The key is shown once; `prefix` (its
-- first characters) is kept for display, `key_hash` for look-up.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name         text NOT NULL,
  prefix       text NOT NULL,
  key_hash     bytea NOT NULL,
  created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
  CONSTRAINT api_keys_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT api_keys_key_hash_length CHECK (octet_length(key_hash) = 32),
  CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
  CONSTRAINT api_keys_prefix_length CHECK (char_length(prefix) BETWEEN 4 AND 32),
  CONSTRAINT api_keys_expiry_check CHECK (expires_at IS NULL OR expires_at > created_at),
  CONSTRAINT api_keys_revoked_check CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

-- ---------------------------------------------------------------------------
-- Join tokens: created by a center's operator, valid for that center only,
-- expiring, revocable, optionally limited in uses.
CREATE TABLE join_tokens (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  center_id  uuid NOT NULL REFERENCES centers (id) ON DELETE CASCADE,
  token_hash bytea NOT NULL,
  prefix     text NOT NULL,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  max_uses   integer,
  uses       integer NOT NULL DEFAULT 0,
  CONSTRAINT join_tokens_token_hash_key UNIQUE (token_hash),
  CONSTRAINT join_tokens_token_hash_length CHECK (octet_length(token_hash) = 32),
  CONSTRAINT join_tokens_prefix_length CHECK (char_length(prefix) BETWEEN 4 AND 32),
  CONSTRAINT join_tokens_expiry_check CHECK (expires_at > created_at),
  CONSTRAINT join_tokens_uses_check CHECK (uses >= 0 AND (max_uses IS NULL OR (max_uses > 0 AND uses <= max_uses)))
);
CREATE INDEX join_tokens_center_id_idx ON join_tokens (center_id);

-- ---------------------------------------------------------------------------
-- Nodes: machines of a center running `scn agent`. `address` is the host the
-- broker reaches its replicas at. Simulated nodes (capacity given on the
-- command line) are always flagged. Never deleted while replicas point at
-- them: removal sets status 'removed'.
CREATE TABLE nodes (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  center_id         uuid NOT NULL REFERENCES centers (id) ON DELETE RESTRICT,
  name              text NOT NULL,
  address           text NOT NULL,
  labels            jsonb NOT NULL DEFAULT '{}',
  simulated         boolean NOT NULL DEFAULT false,
  status            text NOT NULL DEFAULT 'ready',
  status_reason     text,
  secret_hash       bytea NOT NULL,
  join_token_id     uuid REFERENCES join_tokens (id) ON DELETE SET NULL,
  registered_at     timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  version           bigint NOT NULL DEFAULT 0,
  CONSTRAINT nodes_center_id_name_key UNIQUE (center_id, name),
  CONSTRAINT nodes_secret_hash_key UNIQUE (secret_hash),
  CONSTRAINT nodes_secret_hash_length CHECK (octet_length(secret_hash) = 32),
  CONSTRAINT nodes_name_length CHECK (char_length(name) BETWEEN 1 AND 253),
  CONSTRAINT nodes_address_length CHECK (char_length(address) BETWEEN 1 AND 255),
  CONSTRAINT nodes_labels_object CHECK (jsonb_typeof(labels) = 'object'),
  CONSTRAINT nodes_status_check CHECK (status IN ('ready', 'draining', 'lost', 'removed')),
  CONSTRAINT nodes_version_check CHECK (version >= 0)
);
CREATE INDEX nodes_center_id_idx ON nodes (center_id);
CREATE INDEX nodes_status_idx ON nodes (status) WHERE status <> 'removed';
CREATE INDEX nodes_labels_idx ON nodes USING gin (labels);

-- Devices of a node, grouped by identical kind and model: one row for the
-- CPU (count = cores, memory = RAM) and one per GPU model (count = GPUs,
-- memory = each GPU's memory).
CREATE TABLE devices (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node_id      uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
  kind         text NOT NULL,
  model        text NOT NULL,
  memory_bytes bigint NOT NULL,
  count        integer NOT NULL,
  CONSTRAINT devices_node_id_id_key UNIQUE (node_id, id),
  CONSTRAINT devices_node_id_kind_model_key UNIQUE (node_id, kind, model),
  CONSTRAINT devices_kind_check CHECK (kind IN ('cpu', 'gpu')),
  CONSTRAINT devices_model_length CHECK (char_length(model) BETWEEN 1 AND 200),
  CONSTRAINT devices_memory_bytes_check CHECK (memory_bytes > 0),
  CONSTRAINT devices_count_check CHECK (count BETWEEN 1 AND 4096)
);

-- ---------------------------------------------------------------------------
-- Catalog: models (the facts needed to size a replica) and their files, one
-- per quantization. A file with uri NULL has no published weights ("weights
-- not present"); a file that can be fetched must have its size and sha256.
CREATE TABLE models (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name               text NOT NULL,
  display_name       text NOT NULL,
  family             text NOT NULL,
  architecture       text NOT NULL,
  parameters         bigint NOT NULL,
  context_length     integer NOT NULL,
  n_layers           integer NOT NULL,
  n_heads            integer NOT NULL,
  n_kv_heads         integer NOT NULL,
  head_dim           integer NOT NULL,
  licence            text NOT NULL,
  description        text NOT NULL DEFAULT '',
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT models_name_key UNIQUE (name),
  CONSTRAINT models_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
  CONSTRAINT models_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 200),
  CONSTRAINT models_family_length CHECK (char_length(family) BETWEEN 1 AND 100),
  CONSTRAINT models_architecture_length CHECK (char_length(architecture) BETWEEN 1 AND 100),
  CONSTRAINT models_licence_length CHECK (char_length(licence) BETWEEN 1 AND 200),
  CONSTRAINT models_parameters_check CHECK (parameters > 0),
  CONSTRAINT models_context_length_check CHECK (context_length > 0),
  CONSTRAINT models_shape_check CHECK (n_layers > 0 AND n_heads > 0 AND n_kv_heads > 0
                                       AND n_kv_heads <= n_heads AND head_dim > 0)
);
CREATE INDEX models_family_idx ON models (family);

CREATE TABLE model_files (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  model_id     uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  quantization text NOT NULL,
  file_name    text NOT NULL,
  size_bytes   bigint NOT NULL,
  sha256       text,
  uri          text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_files_model_id_quantization_key UNIQUE (model_id, quantization),
  CONSTRAINT model_files_model_id_id_key UNIQUE (model_id, id),
  CONSTRAINT model_files_quantization_format CHECK (quantization ~ '^[A-Za-z0-9_]{1,32}$'),
  CONSTRAINT model_files_file_name_format CHECK (file_name ~ '^[^/\\]{1,255}$'),
  CONSTRAINT model_files_size_bytes_check CHECK (size_bytes > 0),
  CONSTRAINT model_files_sha256_format CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
  CONSTRAINT model_files_uri_format CHECK (uri IS NULL OR uri ~ '^(https?|file)://.+'),
  CONSTRAINT model_files_fetchable_check CHECK (uri IS NULL OR sha256 IS NOT NULL)
);

-- Which node holds (or is fetching) which model file, as agents report it.
CREATE TABLE node_model_files (
  node_id       uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
  model_file_id uuid NOT NULL REFERENCES model_files (id) ON DELETE CASCADE,
  state         text NOT NULL,
  bytes_present bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (node_id, model_file_id),
  CONSTRAINT node_model_files_state_check CHECK (state IN ('downloading', 'present', 'failed')),
  CONSTRAINT node_model_files_bytes_check CHECK (bytes_present >= 0)
);
CREATE INDEX node_model_files_model_file_id_idx ON node_model_files (model_file_id);

-- ---------------------------------------------------------------------------
-- Services: a tenant's model service, the desired state. `name` is what
-- clients pass as `model`; unique per tenant among services not deleted.
-- placement: {"regions": [...], "device_kind": "gpu"|"cpu",
-- "device_models": [...], ...} as the scheduler defines it.
CREATE TABLE services (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  name             text NOT NULL,
  model_id         uuid NOT NULL,
  model_file_id    uuid NOT NULL,
  replicas_wanted  integer NOT NULL,
  context_length   integer NOT NULL,
  placement        jsonb NOT NULL DEFAULT '{}',
  status           text NOT NULL DEFAULT 'pending',
  status_reason    text,
  created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  version          bigint NOT NULL DEFAULT 0,
  CONSTRAINT services_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT services_model_file_fkey FOREIGN KEY (model_id, model_file_id)
    REFERENCES model_files (model_id, id) ON DELETE RESTRICT,
  CONSTRAINT services_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
  CONSTRAINT services_replicas_wanted_check CHECK (replicas_wanted BETWEEN 0 AND 1000),
  CONSTRAINT services_context_length_check CHECK (context_length > 0),
  CONSTRAINT services_placement_object CHECK (jsonb_typeof(placement) = 'object'),
  CONSTRAINT services_status_check
    CHECK (status IN ('pending', 'starting', 'ready', 'degraded', 'failed', 'stopped', 'deleted')),
  CONSTRAINT services_deleted_check CHECK ((status = 'deleted') = (deleted_at IS NOT NULL)),
  CONSTRAINT services_version_check CHECK (version >= 0)
);
CREATE UNIQUE INDEX services_tenant_id_name_key ON services (tenant_id, name) WHERE deleted_at IS NULL;
CREATE INDEX services_model_file_id_idx ON services (model_file_id);
CREATE INDEX services_status_idx ON services (status) WHERE deleted_at IS NULL;

-- Replicas: one running copy of a service. 'pending' replicas have no node
-- yet; every other state keeps the node it was bound to (for history).
-- Binding writes node_id, device_id, device_indices, port and state
-- 'scheduled' with an optimistic-concurrency check on `version` (and bumps
-- the node's `version`, so two schedulers placing on one node conflict).
-- device_indices: which devices of the device row (GPU 0, 1, ...);
-- memory_bytes: reserved on them (weights + KV budget; RAM for a CPU
-- replica); cpu_threads: the engine's threads.
CREATE TABLE replicas (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  service_id       uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  node_id          uuid REFERENCES nodes (id) ON DELETE RESTRICT,
  device_id        bigint,
  device_indices   integer[] NOT NULL DEFAULT '{}',
  cpu_threads      integer NOT NULL DEFAULT 0,
  memory_bytes     bigint NOT NULL DEFAULT 0,
  port             integer,
  state            text NOT NULL DEFAULT 'pending',
  reason           text,
  restarts         integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  scheduled_at     timestamptz,
  started_at       timestamptz,
  ready_at         timestamptz,
  stopped_at       timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  version          bigint NOT NULL DEFAULT 0,
  CONSTRAINT replicas_device_fkey FOREIGN KEY (node_id, device_id)
    REFERENCES devices (node_id, id) ON DELETE RESTRICT,
  CONSTRAINT replicas_state_check
    CHECK (state IN ('pending', 'scheduled', 'starting', 'ready', 'failed', 'stopping', 'stopped', 'lost')),
  CONSTRAINT replicas_pending_check CHECK ((state = 'pending') = (node_id IS NULL)),
  CONSTRAINT replicas_device_node_check CHECK (device_id IS NULL OR node_id IS NOT NULL),
  CONSTRAINT replicas_port_check CHECK (port IS NULL OR port BETWEEN 1 AND 65535),
  CONSTRAINT replicas_device_indices_check
    CHECK (array_position(device_indices, NULL) IS NULL AND 0 <= ALL (device_indices)),
  CONSTRAINT replicas_resources_check CHECK (cpu_threads >= 0 AND memory_bytes >= 0 AND restarts >= 0),
  CONSTRAINT replicas_version_check CHECK (version >= 0)
);
CREATE INDEX replicas_service_id_idx ON replicas (service_id);
CREATE INDEX replicas_node_id_idx ON replicas (node_id) WHERE node_id IS NOT NULL;
CREATE INDEX replicas_pending_idx ON replicas (created_at) WHERE state = 'pending';
-- No two live replicas listen on the same port of a node.
CREATE UNIQUE INDEX replicas_node_port_key ON replicas (node_id, port)
  WHERE port IS NOT NULL AND state IN ('scheduled', 'starting', 'ready', 'stopping');

-- ---------------------------------------------------------------------------
-- Usage: token counts per tenant, service and API key over a period,
-- flushed from the brokers' counters. Billing history: the tenant and the
-- service cannot be deleted while usage points at them.
CREATE TABLE usage_records (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  service_id        uuid NOT NULL,
  api_key_id        uuid,
  period_start      timestamptz NOT NULL,
  period_end        timestamptz NOT NULL,
  requests          bigint NOT NULL DEFAULT 0,
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT usage_records_service_fkey FOREIGN KEY (tenant_id, service_id)
    REFERENCES services (tenant_id, id) ON DELETE RESTRICT,
  CONSTRAINT usage_records_api_key_fkey FOREIGN KEY (tenant_id, api_key_id)
    REFERENCES api_keys (tenant_id, id) ON DELETE SET NULL (api_key_id),
  CONSTRAINT usage_records_period_check CHECK (period_end >= period_start),
  CONSTRAINT usage_records_counts_check
    CHECK (requests >= 0 AND prompt_tokens >= 0 AND completion_tokens >= 0)
);
CREATE INDEX usage_records_tenant_period_idx ON usage_records (tenant_id, period_start);
CREATE INDEX usage_records_service_period_idx ON usage_records (service_id, period_start);
CREATE INDEX usage_records_api_key_id_idx ON usage_records (api_key_id) WHERE api_key_id IS NOT NULL;

-- Audit log: who did what to what. Outlives what it talks about, so the
-- targets are plain values, not foreign keys; the actor is kept as a name
-- too in case the user is deleted.
CREATE TABLE audit_log (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  actor_kind    text NOT NULL,
  actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  actor_name    text NOT NULL,
  tenant_id     uuid,
  center_id     uuid,
  action        text NOT NULL,
  target_kind   text,
  target_id     text,
  outcome       text NOT NULL DEFAULT 'ok',
  details       jsonb NOT NULL DEFAULT '{}',
  client_ip     inet,
  CONSTRAINT audit_log_actor_kind_check CHECK (actor_kind IN ('user', 'api_key', 'node', 'system')),
  CONSTRAINT audit_log_action_format CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
  CONSTRAINT audit_log_outcome_check CHECK (outcome IN ('ok', 'denied', 'failed')),
  CONSTRAINT audit_log_details_object CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at) WHERE tenant_id IS NOT NULL;
CREATE INDEX audit_log_center_at_idx ON audit_log (center_id, at) WHERE center_id IS NOT NULL;
CREATE INDEX audit_log_actor_at_idx ON audit_log (actor_user_id, at) WHERE actor_user_id IS NOT NULL;

-- ---------------------------------------------------------------------------
CREATE TRIGGER tenants_updated_at BEFORE UPDATE ON tenants
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER centers_updated_at BEFORE UPDATE ON centers
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER nodes_updated_at BEFORE UPDATE ON nodes
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER models_updated_at BEFORE UPDATE ON models
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER model_files_updated_at BEFORE UPDATE ON model_files
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER node_model_files_updated_at BEFORE UPDATE ON node_model_files
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER services_updated_at BEFORE UPDATE ON services
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
CREATE TRIGGER replicas_updated_at BEFORE UPDATE ON replicas
  FOR EACH ROW EXECUTE FUNCTION scn_set_updated_at();
