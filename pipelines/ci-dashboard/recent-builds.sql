-- The dashboard's build table (ci-pipeline-dashboard-flows.md, section 7, "Key Queries" 2:
-- GET /api/builds): the 50 most recent builds. Page with OFFSET.
SELECT external_id, name, repository, status, branch, commit_sha, triggered_by, url,
       started_at, finished_at, duration_seconds
FROM builds
ORDER BY started_at DESC
LIMIT 50 OFFSET 0;
