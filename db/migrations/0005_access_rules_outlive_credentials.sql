-- Access rules belong to their user, as in Keystone: an application credential refers to rules
-- (a rule given again, or by its id, is shared), deleting the credential keeps them, and a rule
-- can be deleted once no credential uses it. Rules are known to clients by an external id.

CREATE TABLE application_credential_access_rule (
  application_credential_id text NOT NULL REFERENCES application_credential (id) ON DELETE CASCADE,
  -- NO ACTION: a rule in use cannot be deleted on its own, but goes with its user and credentials.
  access_rule_id            bigint NOT NULL REFERENCES access_rule (id),
  PRIMARY KEY (application_credential_id, access_rule_id)
);
CREATE INDEX application_credential_access_rule_rule ON application_credential_access_rule (access_rule_id);

ALTER TABLE access_rule
  ADD COLUMN external_id text,
  ADD COLUMN user_id text REFERENCES "user" (id) ON DELETE CASCADE;
UPDATE access_rule r SET external_id = r.id::text, user_id = c.user_id
  FROM application_credential c WHERE c.id = r.application_credential_id;

-- One rule per (user, service, path, method): earlier duplicates fold into the first.
INSERT INTO application_credential_access_rule (application_credential_id, access_rule_id)
SELECT DISTINCT r.application_credential_id, first.id
  FROM access_rule r
  JOIN LATERAL (SELECT min(d.id) AS id FROM access_rule d
                 WHERE d.user_id = r.user_id AND d.service = r.service
                   AND d.path = r.path AND d.method = r.method) first ON true;
DELETE FROM access_rule r WHERE NOT EXISTS
  (SELECT 1 FROM application_credential_access_rule a WHERE a.access_rule_id = r.id);

ALTER TABLE access_rule DROP COLUMN application_credential_id;
ALTER TABLE access_rule
  ALTER COLUMN external_id SET NOT NULL,
  ALTER COLUMN user_id SET NOT NULL,
  ADD CONSTRAINT access_rule_external_id UNIQUE (external_id),
  ADD CONSTRAINT duplicate_access_rule_for_user UNIQUE (user_id, service, path, method);

CREATE TRIGGER application_credential_access_rule_invalidate
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON application_credential_access_rule
  FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate();
