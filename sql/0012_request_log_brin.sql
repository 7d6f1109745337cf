-- 0012_request_log_brin: the request log's retention index (issue 5). The
-- log is appended in time order at up to tens of thousands of rows a second,
-- and started_at is only searched by the retention DELETE (once a minute); a BRIN
-- index serves that range at a fraction of a B-tree's cost per insert.
DROP INDEX request_log_started_idx;
CREATE INDEX request_log_started_brin ON request_log USING brin (started_at);
