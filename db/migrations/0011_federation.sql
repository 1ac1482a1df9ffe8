-- OS-FEDERATION: identity providers (each with its domain and the remote ids that name it, unique
-- across providers), the protocols a provider speaks (each naming a mapping), mappings (rules, kept
-- as the client wrote them: json, not jsonb, so the rules' key order survives) and service
-- providers (the enabled ones are listed in every token). A provider goes with its domain, as
-- Keystone's domain-deleted callback removes it; its protocols and remote ids go with it.

CREATE TABLE identity_provider (
  id                text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  domain_id         text NOT NULL REFERENCES domain (id) ON DELETE CASCADE,
  enabled           boolean NOT NULL,
  description       text,
  authorization_ttl integer CHECK (authorization_ttl >= 0)
);
CREATE INDEX identity_provider_domain ON identity_provider (domain_id);

CREATE TABLE idp_remote_ids (
  remote_id text PRIMARY KEY CHECK (length(remote_id) <= 255),
  idp_id    text NOT NULL REFERENCES identity_provider (id) ON DELETE CASCADE
);
CREATE INDEX idp_remote_ids_idp ON idp_remote_ids (idp_id);

-- No reference to mapping: Keystone lets a mapping in use be deleted (a login through the
-- protocol then fails), and checks only that a protocol's mapping exists when it is written.
CREATE TABLE federation_protocol (
  id                  text NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
  idp_id              text NOT NULL REFERENCES identity_provider (id) ON DELETE CASCADE,
  mapping_id          text NOT NULL,
  remote_id_attribute text CHECK (length(remote_id_attribute) <= 64),
  PRIMARY KEY (id, idp_id)
);

CREATE TABLE mapping (
  id    text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  rules json NOT NULL
);

CREATE TABLE service_provider (
  id                 text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  enabled            boolean NOT NULL,
  description        text,
  auth_url           text NOT NULL CHECK (length(auth_url) <= 256),
  sp_url             text NOT NULL CHECK (length(sp_url) <= 256),
  relay_state_prefix text NOT NULL CHECK (length(relay_state_prefix) <= 256)
);

-- Tokens list the enabled service providers, and federated tokens name a provider and protocol:
-- every process hears of a change (migration 0002's function).
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['identity_provider', 'idp_remote_ids', 'federation_protocol', 'mapping',
                           'service_provider']
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                    FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate()',
                   t || '_invalidate', t);
  END LOOP;
END
$$;
