-- TeamPulse's per-developer counters (teampulse-push-to-metrics.md, steps 5 and 6), as
-- views over the `commits` table that commits.sql creates and teampulse.yaml fills. Run
-- after commits.sql:  psql "$DATABASE_URL" -f pipelines/teampulse/counters.sql
--
-- Views, not counters incremented per event: commits are upserted by sha, so a redelivered
-- push, a replayed dead letter or a commit pushed to a second branch counts once, and the
-- figures cannot drift from the rows.

-- org:<orgId>:dev:<githubId>:commits:<day>
CREATE OR REPLACE VIEW author_commits_daily AS
  SELECT split_part(repository, '/', 1)                   AS org,
         author,
         (committed_at AT TIME ZONE 'UTC')::date          AS day,
         count(*)::integer                                AS commits
  FROM commits
  GROUP BY 1, 2, 3;

-- The metrics_snapshots draft: per organisation, repository and UTC day, the commits and
-- {"byAuthor": {"alice": 2, "bob": 1}}.
CREATE OR REPLACE VIEW recent_commits AS
  SELECT org, repository, day,
         sum(n)::integer                                  AS metric_value,
         jsonb_build_object('byAuthor', jsonb_object_agg(author, n)) AS payload
  FROM (SELECT split_part(repository, '/', 1) AS org, repository,
               (committed_at AT TIME ZONE 'UTC')::date AS day,
               coalesce(author, '(unknown)') AS author, count(*)::integer AS n
        FROM commits GROUP BY 1, 2, 3, 4) per_author
  GROUP BY org, repository, day;
