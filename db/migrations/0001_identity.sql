-- The identity schema: resources (domains, projects), identity (users, passwords, groups),
-- assignments (roles, implied roles, grants), catalog (regions, services, endpoints),
-- credentials, application credentials and token revocation events.

CREATE TABLE domain (
  id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
  description text NOT NULL DEFAULT '',
  enabled     boolean NOT NULL DEFAULT true,
  tags        text[] NOT NULL DEFAULT '{}',
  extra       jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE project (
  id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  domain_id   text NOT NULL REFERENCES domain (id) ON DELETE CASCADE,
  parent_id   text REFERENCES project (id) ON DELETE CASCADE,
  description text NOT NULL DEFAULT '',
  enabled     boolean NOT NULL DEFAULT true,
  is_domain   boolean NOT NULL DEFAULT false,
  tags        text[] NOT NULL DEFAULT '{}',
  extra       jsonb NOT NULL DEFAULT '{}',
  UNIQUE (domain_id, name)
);
CREATE INDEX project_parent ON project (parent_id);

CREATE TABLE "user" (
  id                 text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  domain_id          text NOT NULL REFERENCES domain (id) ON DELETE CASCADE,
  default_project_id text,
  enabled            boolean NOT NULL DEFAULT true,
  description        text NOT NULL DEFAULT '',
  options            jsonb NOT NULL DEFAULT '{}',
  extra              jsonb NOT NULL DEFAULT '{}',
  created_at         timestamptz NOT NULL DEFAULT now(),
  last_active_at     timestamptz,
  failed_auth_count  integer NOT NULL DEFAULT 0,
  failed_auth_at     timestamptz,
  UNIQUE (domain_id, name)
);

-- Every password a user has had (history for unique_last_password_count); the newest is current.
CREATE TABLE password (
  id            bigserial PRIMARY KEY,
  user_id       text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  hash          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz
);
CREATE INDEX password_user ON password (user_id, created_at DESC);

CREATE TABLE "group" (
  id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  domain_id   text NOT NULL REFERENCES domain (id) ON DELETE CASCADE,
  description text NOT NULL DEFAULT '',
  extra       jsonb NOT NULL DEFAULT '{}',
  UNIQUE (domain_id, name)
);

CREATE TABLE group_member (
  group_id text NOT NULL REFERENCES "group" (id) ON DELETE CASCADE,
  user_id  text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_member_user ON group_member (user_id);

CREATE TABLE role (
  id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  -- NULL for global roles; a domain for domain-specific ones.
  domain_id   text REFERENCES domain (id) ON DELETE CASCADE,
  description text NOT NULL DEFAULT '',
  options     jsonb NOT NULL DEFAULT '{}',
  extra       jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX role_name ON role (COALESCE(domain_id, ''), name);

CREATE TABLE implied_role (
  prior_role_id   text NOT NULL REFERENCES role (id) ON DELETE CASCADE,
  implied_role_id text NOT NULL REFERENCES role (id) ON DELETE CASCADE,
  PRIMARY KEY (prior_role_id, implied_role_id)
);

-- A grant: an actor (user or group) has a role on a target (project, domain, or the system).
CREATE TABLE assignment (
  actor_type  text NOT NULL CHECK (actor_type IN ('user', 'group')),
  actor_id    text NOT NULL,
  target_type text NOT NULL CHECK (target_type IN ('project', 'domain', 'system')),
  target_id   text NOT NULL,
  role_id     text NOT NULL REFERENCES role (id) ON DELETE CASCADE,
  inherited   boolean NOT NULL DEFAULT false,
  PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
CREATE INDEX assignment_target ON assignment (target_type, target_id);
CREATE INDEX assignment_role ON assignment (role_id);

CREATE TABLE region (
  id               text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
  description      text NOT NULL DEFAULT '',
  parent_region_id text REFERENCES region (id),
  extra            jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE service (
  id      text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  type    text NOT NULL CHECK (length(type) BETWEEN 1 AND 255),
  name    text NOT NULL DEFAULT '',
  enabled boolean NOT NULL DEFAULT true,
  extra   jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE endpoint (
  id         text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  service_id text NOT NULL REFERENCES service (id) ON DELETE CASCADE,
  region_id  text REFERENCES region (id),
  interface  text NOT NULL CHECK (interface IN ('public', 'internal', 'admin')),
  url        text NOT NULL,
  enabled    boolean NOT NULL DEFAULT true,
  extra      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX endpoint_service ON endpoint (service_id);

CREATE TABLE credential (
  id             text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  user_id        text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  project_id     text,
  type           text NOT NULL CHECK (length(type) BETWEEN 1 AND 255),
  -- Encrypted with the credential key repository (Fernet); key_hash names the key used.
  encrypted_blob text NOT NULL,
  key_hash       text NOT NULL,
  extra          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX credential_user ON credential (user_id);

CREATE TABLE application_credential (
  id           text PRIMARY KEY,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  user_id      text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  project_id   text NOT NULL REFERENCES project (id) ON DELETE CASCADE,
  secret_hash  text NOT NULL,
  description  text NOT NULL DEFAULT '',
  expires_at   timestamptz,
  unrestricted boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, name)
);

CREATE TABLE application_credential_role (
  application_credential_id text NOT NULL REFERENCES application_credential (id) ON DELETE CASCADE,
  role_id                   text NOT NULL REFERENCES role (id) ON DELETE CASCADE,
  PRIMARY KEY (application_credential_id, role_id)
);

CREATE TABLE access_rule (
  id                        bigserial PRIMARY KEY,
  application_credential_id text NOT NULL REFERENCES application_credential (id) ON DELETE CASCADE,
  service                   text NOT NULL,
  path                      text NOT NULL,
  method                    text NOT NULL
);

-- Keystone's revocation model: a token is revoked when an event matches all of its non-null
-- fields and the token was issued before `issued_before`.
CREATE TABLE revocation_event (
  id            bigserial PRIMARY KEY,
  audit_id      text,
  audit_chain_id text,
  user_id       text,
  project_id    text,
  domain_id     text,
  role_id       text,
  trust_id      text,
  expires_at    timestamptz,
  issued_before timestamptz NOT NULL,
  revoked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revocation_event_audit ON revocation_event (audit_id);
CREATE INDEX revocation_event_user ON revocation_event (user_id);
CREATE INDEX revocation_event_project ON revocation_event (project_id);
CREATE INDEX revocation_event_revoked ON revocation_event (revoked_at);
