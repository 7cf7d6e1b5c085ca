-- OpsCord's database (opscord-github-discord-flow.md, sections 1, 2 and 9), for github.yaml
-- (activities, XP) and commands.yaml (/stats, /summary). Run once:
--   psql "$DATABASE_URL" -f pipelines/opscord/opscord.sql
--
-- github.yaml stores one row per activity, keyed by the webhook delivery and the kind of
-- activity, and ignores a row it already has: a redelivered webhook awards nothing twice.
-- Everything else is a view over `activities`, so XP, counters and badges cannot drift.

CREATE TABLE IF NOT EXISTS activities (
  event_id   text NOT NULL,            -- X-GitHub-Delivery
  kind       text NOT NULL,            -- commit, pr_opened, pr_merged, pr_merge_approved, review, issue_opened, issue_closed
  login      text NOT NULL,            -- who is awarded the XP
  repository text NOT NULL,
  xp         integer NOT NULL,
  count      integer NOT NULL DEFAULT 1,   -- commits of a push
  pr         integer,                  -- the pull request's number, for PR activities
  title      text,
  url        text,
  at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, kind)
);
CREATE INDEX IF NOT EXISTS activities_login ON activities (lower(login));
CREATE INDEX IF NOT EXISTS activities_pr ON activities (pr) WHERE pr IS NOT NULL;

-- Which Discord channel a repository's events go to: a row for the repository
-- (owner/name), else one for its owner (the use case's discord_configs per repository
-- owner), else the pipeline's DISCORD_WEBHOOK_URL.
CREATE TABLE IF NOT EXISTS discord_configs (
  target      text PRIMARY KEY,         -- owner/name, or owner
  webhook_url text NOT NULL        -- writable by OpsCord's admins only: events go where it says
);

-- Per contributor: XP, counters and the badges of section 9 that the stored activity can
-- tell (Analytics Master and Streak Master need data GitHub's webhooks do not carry).
CREATE OR REPLACE VIEW contributors AS
  SELECT login, xp, commits, prs_opened, prs_merged, reviews, issues_opened, issues_closed,
         array_remove(ARRAY[
           CASE WHEN xp >= 10 THEN 'First PR' END,
           CASE WHEN xp >= 100 THEN 'Code Warrior' END,
           CASE WHEN reviews >= 5 THEN 'Team Player' END,
           CASE WHEN issues_opened >= 10 THEN 'Bug Hunter' END,
           CASE WHEN xp >= 1000 THEN 'Super Contributor' END], NULL) AS badges
  FROM (SELECT lower(login)                                                AS login,
               sum(xp)::bigint                                             AS xp,
               coalesce(sum(count) FILTER (WHERE kind = 'commit'), 0)::int AS commits,
               count(*) FILTER (WHERE kind = 'pr_opened')::int             AS prs_opened,
               count(*) FILTER (WHERE kind = 'pr_merged')::int             AS prs_merged,
               count(*) FILTER (WHERE kind = 'review')::int                AS reviews,
               count(*) FILTER (WHERE kind = 'issue_opened')::int          AS issues_opened,
               count(*) FILTER (WHERE kind = 'issue_closed')::int          AS issues_closed
        FROM activities GROUP BY lower(login)) totals;

-- Per pull request (/summary pr:<number>): what happened to it, from the stored activity.
CREATE OR REPLACE VIEW pr_summaries AS
  SELECT repository, pr,
         (array_agg(title ORDER BY at DESC) FILTER (WHERE title IS NOT NULL))[1]    AS title,
         (array_agg(url ORDER BY at DESC) FILTER (WHERE url IS NOT NULL))[1]        AS url,
         (array_agg(login ORDER BY at) FILTER (WHERE kind = 'pr_opened'))[1]        AS author,
         count(*) FILTER (WHERE kind = 'review')::int                              AS reviews,
         coalesce(string_agg(DISTINCT login, ', ') FILTER (WHERE kind = 'review'), '') AS reviewers,
         (array_agg(login) FILTER (WHERE kind = 'pr_merge_approved'))[1]            AS merged_by,
         bool_or(kind = 'pr_merged')                                               AS merged,
         max(at)                                                                   AS last_activity
  FROM activities WHERE pr IS NOT NULL
  GROUP BY repository, pr;
