-- The CI dashboard's metrics summary (ci-pipeline-dashboard-flows.md, section 7, "Key
-- Queries" 1: GET /api/metrics/summary) over the `builds` table that builds.yaml and
-- builds-poller.yaml fill: for the last 7 days, per status, the number of builds and their
-- average duration, and each status's share of all builds (the success rate is the share of
-- `success`). Builds still running have no duration: AVG leaves them out.
--   psql "$DATABASE_URL" -f pipelines/ci-dashboard/metrics-summary.sql
-- tests/e2e/usecase_ci-dashboard.test.mjs runs it against what the pipelines stored.
SELECT status,
       count(*)                                                   AS builds,
       round(avg(duration_seconds), 1)                            AS avg_duration_seconds,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1)         AS percent
FROM builds
WHERE started_at >= now() - interval '7 days'
GROUP BY status
ORDER BY status;
