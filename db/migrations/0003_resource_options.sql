-- Keystone's resource options (`options` on domains and projects; users already have them) and
-- the project tag index the tags / tags-any / not-tags filters use.
ALTER TABLE domain ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE project ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
CREATE INDEX project_tags ON project USING gin (tags);
CREATE INDEX user_domain ON "user" (domain_id, name);
