-- TeamPulse: one row per commit of every push (teampulse-push-to-metrics.md, step 3:
-- "for each commit in payload: upsert commit"), for pipelines/teampulse/commits.yaml.
-- Run once: psql "$DATABASE_URL" -f pipelines/teampulse/commits.sql
--
-- The pipeline stores each push once (keyed by its delivery id, so a redelivery adds
-- nothing); this trigger turns the push's commits into rows of `commits`, upserted by sha:
-- a commit that arrives again (the same push redelivered under a new id, or pushed to a
-- second branch) updates its row instead of adding one. It fires only for pushes the
-- table did not have.
CREATE TABLE IF NOT EXISTS pushes (
  event_id   text PRIMARY KEY,
  repository text NOT NULL,
  ref        text,
  pusher     text,
  commits    jsonb NOT NULL,
  received   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS commits (
  sha          text PRIMARY KEY,
  repository   text NOT NULL,
  ref          text,
  author       text,
  message      text,
  committed_at timestamptz,
  files        integer NOT NULL,
  processed    boolean NOT NULL DEFAULT false
);

CREATE OR REPLACE FUNCTION upsert_commits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commits (sha, repository, ref, author, message, committed_at, files)
    SELECT c->>'id', NEW.repository, NEW.ref,
           coalesce(c->'author'->>'username', c->'author'->>'name'),
           c->>'message', (c->>'timestamp')::timestamptz,
           jsonb_array_length(coalesce(c->'added', '[]')) + jsonb_array_length(coalesce(c->'removed', '[]')) +
             jsonb_array_length(coalesce(c->'modified', '[]'))
    FROM jsonb_array_elements(NEW.commits) AS c
  ON CONFLICT (sha) DO UPDATE SET ref = EXCLUDED.ref, message = EXCLUDED.message, files = EXCLUDED.files;
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS upsert_commits ON pushes;
CREATE TRIGGER upsert_commits AFTER INSERT ON pushes FOR EACH ROW EXECUTE FUNCTION upsert_commits();
