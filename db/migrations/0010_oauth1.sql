-- OS-OAUTH1: consumers, request tokens (a consumer's request for one project, authorized by a user
-- with some of that user's roles there) and access tokens (what an authorized request token is
-- exchanged for once; a token issued through one carries its roles only). Keystone keeps
-- expires_at as its own ISO 8601 text and role_ids as a JSON list: kept the same here so the
-- values read back are the ones the client was given.

CREATE TABLE consumer (
  id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  description text,
  secret      text NOT NULL CHECK (length(secret) BETWEEN 1 AND 64),
  extra       jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE request_token (
  id                   text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  request_secret       text NOT NULL,
  verifier             text,
  authorizing_user_id  text REFERENCES "user" (id) ON DELETE CASCADE,
  requested_project_id text NOT NULL REFERENCES project (id) ON DELETE CASCADE,
  role_ids             jsonb,
  consumer_id          text NOT NULL REFERENCES consumer (id) ON DELETE CASCADE,
  expires_at           text
);
CREATE INDEX request_token_consumer ON request_token (consumer_id);

-- Deleting the consumer, the authorizing user or the project deletes the access tokens, and
-- with them the validity of every token issued through them (validation looks the access token up).
CREATE TABLE access_token (
  id                  text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  access_secret       text NOT NULL,
  authorizing_user_id text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  project_id          text NOT NULL REFERENCES project (id) ON DELETE CASCADE,
  role_ids            jsonb NOT NULL,
  consumer_id         text NOT NULL REFERENCES consumer (id) ON DELETE CASCADE,
  expires_at          text
);
CREATE INDEX access_token_user ON access_token (authorizing_user_id);
CREATE INDEX access_token_consumer ON access_token (consumer_id);

-- Validated OAuth tokens are cached per process: a deleted access token must reach every cache.
CREATE TRIGGER consumer_invalidate AFTER UPDATE OR DELETE OR TRUNCATE ON consumer
  FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate();
CREATE TRIGGER access_token_invalidate AFTER UPDATE OR DELETE OR TRUNCATE ON access_token
  FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate();
