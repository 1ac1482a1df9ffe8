-- Keystone's resource options (`options` on domains and projects; users already have them) and
-- the project tag index the tags / tags-any / not-tags filters use.
ALTER TABLE domain ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE project ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
CREATE INDEX project_tags ON project USING gin (tags);
CREATE INDEX user_domain ON "user" (domain_id, name);

-- User lists are cached per process like tokens (api/collection.ts ListCache): a change of what a
-- list shows (description, extra attributes such as email) notifies too. Failed-login counters
-- and last_active_at still do not.
CREATE TRIGGER user_attributes_invalidate AFTER UPDATE ON "user"
  FOR EACH ROW
  WHEN ((OLD.description, OLD.extra) IS DISTINCT FROM (NEW.description, NEW.extra))
  EXECUTE FUNCTION identity_notify_invalidate();
