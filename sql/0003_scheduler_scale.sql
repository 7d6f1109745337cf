-- 0003_scheduler_scale: leader fencing, autoscaling bounds, priorities and
-- tenant quotas (issue 7, the scheduler at national scale).
--
-- scheduler_leases holds one row: the fencing epoch. Each scheduler that
-- takes the leader's advisory lock increments it and remembers the value;
-- every transaction of the leader's reconcile cycle locks the row FOR SHARE
-- and goes on only while the epoch is still its own, so a deposed leader's
-- late writes are refused. replicas.bound_epoch is the epoch of the leader
-- that bound the replica (NULL: bound before this migration, or pending).
CREATE TABLE scheduler_leases (
  id          boolean PRIMARY KEY DEFAULT true,
  epoch       bigint NOT NULL DEFAULT 0,
  holder      text,
  acquired_at timestamptz,
  CONSTRAINT scheduler_leases_single_row CHECK (id),
  CONSTRAINT scheduler_leases_epoch_check CHECK (epoch >= 0)
);
INSERT INTO scheduler_leases (id) VALUES (true);

ALTER TABLE replicas
  ADD COLUMN bound_epoch bigint,
  ADD COLUMN replaces uuid,
  ADD CONSTRAINT replicas_bound_epoch_check CHECK (bound_epoch IS NULL OR bound_epoch > 0);

-- Autoscaling (min_replicas/max_replicas NULL: off, replicas_wanted is fixed),
-- the load target per replica (requests outstanding), the idle period before
-- scaling to zero (min_replicas = 0 only), the time of the last request the
-- scheduler saw, and the priority class (higher wins placement and may preempt).
ALTER TABLE services
  ADD COLUMN min_replicas       integer,
  ADD COLUMN max_replicas       integer,
  ADD COLUMN target_outstanding double precision NOT NULL DEFAULT 4,
  ADD COLUMN idle_seconds       integer NOT NULL DEFAULT 300,
  ADD COLUMN last_request_at    timestamptz,
  ADD COLUMN priority           integer NOT NULL DEFAULT 0,
  ADD CONSTRAINT services_autoscale_check CHECK (
    (min_replicas IS NULL) = (max_replicas IS NULL) AND
    (min_replicas IS NULL OR (min_replicas >= 0 AND max_replicas >= min_replicas AND
                              max_replicas BETWEEN 1 AND 1000))),
  ADD CONSTRAINT services_target_outstanding_check CHECK (target_outstanding > 0 AND target_outstanding <= 10000),
  ADD CONSTRAINT services_idle_seconds_check CHECK (idle_seconds BETWEEN 1 AND 604800),
  ADD CONSTRAINT services_priority_check CHECK (priority BETWEEN -1000 AND 1000);

-- Tenant quotas (NULL: unlimited), checked at placement over the tenant's
-- bound live replicas.
ALTER TABLE tenants
  ADD COLUMN quota_gpus             integer,
  ADD COLUMN quota_gpu_memory_bytes bigint,
  ADD COLUMN quota_replicas         integer,
  ADD COLUMN quota_cpu_cores        integer,
  ADD CONSTRAINT tenants_quota_check CHECK (
    (quota_gpus IS NULL OR quota_gpus >= 0) AND
    (quota_gpu_memory_bytes IS NULL OR quota_gpu_memory_bytes >= 0) AND
    (quota_replicas IS NULL OR quota_replicas >= 0) AND
    (quota_cpu_cores IS NULL OR quota_cpu_cores >= 0));
