-- Policies (/v3/policies: a blob of a given type, other attributes kept as `extra`), their
-- associations with endpoints, services and region+service pairs (OS-ENDPOINT-POLICY), and
-- domain-specific configuration options (/v3/domains/{id}/config). An association, or a domain's
-- options, go with the object they name. None of these feed tokens or the catalog, so no
-- invalidation trigger.

CREATE TABLE policy (
  id    text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  type  text NOT NULL CHECK (length(type) <= 255),
  blob  text NOT NULL,
  extra jsonb NOT NULL DEFAULT '{}'
);

-- One of: an endpoint; a service; a service in a region (and, for an endpoint's lookup, the
-- regions below it). One policy per such target: a new association replaces the old one.
CREATE TABLE policy_association (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  policy_id   text NOT NULL REFERENCES policy (id) ON DELETE CASCADE,
  endpoint_id text REFERENCES endpoint (id) ON DELETE CASCADE,
  service_id  text REFERENCES service (id) ON DELETE CASCADE,
  region_id   text REFERENCES region (id) ON DELETE CASCADE,
  CONSTRAINT policy_association_target UNIQUE NULLS NOT DISTINCT (endpoint_id, service_id, region_id),
  CHECK ((endpoint_id IS NOT NULL AND service_id IS NULL AND region_id IS NULL)
      OR (endpoint_id IS NULL AND service_id IS NOT NULL))
);
CREATE INDEX policy_association_policy ON policy_association (policy_id);

-- Keystone keeps whitelisted and sensitive options in two tables; the sensitive ones are written
-- and used, never read back through the API.
CREATE TABLE domain_config (
  domain_id text NOT NULL REFERENCES domain (id) ON DELETE CASCADE,
  "group"   text NOT NULL CHECK (length("group") <= 255),
  option    text NOT NULL CHECK (length(option) <= 255),
  value     jsonb NOT NULL,
  sensitive boolean NOT NULL,
  PRIMARY KEY (domain_id, "group", option)
);
