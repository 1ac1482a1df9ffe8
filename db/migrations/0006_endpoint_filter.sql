-- OS-EP-FILTER: endpoint groups (filters over service_id, region_id and interface), and projects
-- associated with endpoints directly or through groups. A project-scoped catalog holds only the
-- project's endpoints when it has any associations.

CREATE TABLE endpoint_group (
  id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  description text,
  filters     jsonb NOT NULL
);

CREATE TABLE project_endpoint (
  endpoint_id text NOT NULL REFERENCES endpoint (id) ON DELETE CASCADE,
  project_id  text NOT NULL REFERENCES project (id) ON DELETE CASCADE,
  PRIMARY KEY (endpoint_id, project_id)
);
CREATE INDEX project_endpoint_project ON project_endpoint (project_id);

CREATE TABLE project_endpoint_group (
  endpoint_group_id text NOT NULL REFERENCES endpoint_group (id) ON DELETE CASCADE,
  project_id        text NOT NULL REFERENCES project (id) ON DELETE CASCADE,
  PRIMARY KEY (endpoint_group_id, project_id)
);
CREATE INDEX project_endpoint_group_project ON project_endpoint_group (project_id);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['endpoint_group', 'project_endpoint', 'project_endpoint_group']
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                    FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate()',
                   t || '_invalidate', t);
  END LOOP;
END
$$;
