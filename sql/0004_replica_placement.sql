-- 0004_replica_placement: keep the scheduler's "why here" apart from the
-- replica's latest state reason.
--
-- replicas.reason is the latest explanation of the replica's state: "why
-- pending" while it waits, the agent's progress note or failure reason once it
-- runs. replicas.placement is written once, when the replica is bound: the
-- winning node's scores per plugin ("why here"), so it stays visible for the
-- replica's whole life. NULL for pending replicas and rows bound before this
-- migration.
ALTER TABLE replicas
  ADD COLUMN placement text,
  ADD CONSTRAINT replicas_placement_length CHECK (placement IS NULL OR char_length(placement) <= 4000);
