-- Unified limits: registered limits (a service's default for a resource, per region or for all
-- regions) and limits (a project's or a domain's own value for a registered limit).
--
-- As in Keystone, a registered limit's service and region are checked when it is written, not
-- kept by a foreign key: deleting a service or a region leaves its registered limits. A limit
-- goes with its project (Keystone's delete_limits_for_project) and with its domain, and a
-- registered limit that limits refer to cannot be deleted (Keystone's RegisteredLimitError).

CREATE TABLE registered_limit (
  internal_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id            text NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
  service_id    text NOT NULL CHECK (length(service_id) BETWEEN 1 AND 255),
  region_id     text CHECK (length(region_id) <= 255),
  resource_name text NOT NULL CHECK (length(resource_name) BETWEEN 1 AND 255),
  default_limit integer NOT NULL CHECK (default_limit >= -1),
  description   text,
  -- One registered limit per service, region (or none) and resource.
  CONSTRAINT registered_limit_unique UNIQUE NULLS NOT DISTINCT (service_id, region_id, resource_name)
);

CREATE TABLE "limit" (
  internal_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id                  text NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
  registered_limit_id text NOT NULL REFERENCES registered_limit (id),
  project_id          text REFERENCES project (id) ON DELETE CASCADE,
  domain_id           text REFERENCES domain (id) ON DELETE CASCADE,
  resource_limit      integer NOT NULL CHECK (resource_limit >= -1),
  description         text,
  CHECK ((project_id IS NULL) <> (domain_id IS NULL)),
  -- One limit per registered limit and project, or per registered limit and domain.
  CONSTRAINT limit_project_unique UNIQUE (registered_limit_id, project_id),
  CONSTRAINT limit_domain_unique UNIQUE (registered_limit_id, domain_id)
);
CREATE INDEX limit_project ON "limit" (project_id);
CREATE INDEX limit_domain ON "limit" (domain_id);
