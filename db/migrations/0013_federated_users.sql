-- Federated logins: the shadow users a mapped login makes (Keystone's federated_user: one row per
-- identity provider, protocol and the user's unique id there, naming the local user it shadows),
-- and when tokens issued through a protocol stop being valid (the provider disabled, the protocol's
-- mapping changed or swapped): tokens issued before `tokens_valid_after` are refused. A new
-- protocol starts with now(), so one deleted and made again does not bring old tokens back.

-- A shadow user's name is its display name at the provider, which need not be unique in the
-- domain (Keystone keeps local users' names unique, in local_user, and federated users' display
-- names apart): names stay unique among local users only.
ALTER TABLE "user" ADD COLUMN federated boolean NOT NULL DEFAULT false;
ALTER TABLE "user" DROP CONSTRAINT user_domain_id_name_key;
CREATE UNIQUE INDEX user_local_name ON "user" (domain_id, name) WHERE NOT federated;

CREATE TABLE federated_user (
  id           bigserial PRIMARY KEY,
  user_id      text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  idp_id       text NOT NULL REFERENCES identity_provider (id) ON DELETE CASCADE,
  protocol_id  text NOT NULL CHECK (length(protocol_id) BETWEEN 1 AND 64),
  unique_id    text NOT NULL CHECK (length(unique_id) BETWEEN 1 AND 255),
  display_name text CHECK (length(display_name) <= 255),
  UNIQUE (idp_id, protocol_id, unique_id)
);
CREATE INDEX federated_user_user ON federated_user (user_id);

ALTER TABLE federation_protocol
  ADD COLUMN tokens_valid_after timestamptz NOT NULL DEFAULT date_trunc('second', now());

CREATE TRIGGER federated_user_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON federated_user
  FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate();
