-- 0008_slurm: Slurm-managed nodes (issue 10). A center whose compute nodes
-- belong to Slurm joins through `scn agent --slurm` on its login node; each
-- Slurm node is one pool node with managed_by 'slurm', and the agent reports
-- Slurm's view of it (docs/API.md, "POST /agent/v1/register" and
-- "POST /agent/v1/heartbeat"; docs/ARCHITECTURE.md, "The Slurm path beside
-- the plain agent path").
--
-- slurm (NULL for plain agents): the last Slurm view of the node,
--   {"node","partition","state","reason","controller"} (strings; controller
--   'ok' or 'unreachable'), plus "free_cpu_cores"/"free_ram_bytes" when the
--   agent reported free capacity (placement caps the node's free capacity by
--   them). The node's own status (ready/draining/lost) follows the Slurm
--   state; status_reason starts with 'slurm: ' when Slurm set it.
ALTER TABLE nodes
  ADD COLUMN managed_by text NOT NULL DEFAULT 'agent',
  ADD COLUMN slurm jsonb,
  ADD CONSTRAINT nodes_managed_by_check CHECK (managed_by IN ('agent', 'slurm')),
  ADD CONSTRAINT nodes_slurm_check CHECK (
    (managed_by = 'slurm') = (slurm IS NOT NULL)
    AND (slurm IS NULL OR jsonb_typeof(slurm) = 'object'));
