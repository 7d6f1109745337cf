-- 0012_request_log_indexes: the request log's indexes, cheaper to keep up
-- (issue 5). The log is appended in time order, one row per gateway request,
-- at up to tens of thousands of rows a second.
--  - started_at is only searched by the retention DELETE (once a minute): a
--    BRIN index serves that range at a fraction of a B-tree's cost per row.
--  - A tenant's listing is newest first by id (GET /api/v1/requests):
--    (tenant_id, id) serves it, and a new row goes to the end of its
--    tenant's range, where (tenant_id, started_at DESC, id DESC) put it at
--    the start.
DROP INDEX request_log_started_idx;
CREATE INDEX request_log_started_brin ON request_log USING brin (started_at);
DROP INDEX request_log_tenant_started_idx;
CREATE INDEX request_log_tenant_id_idx ON request_log (tenant_id, id);
