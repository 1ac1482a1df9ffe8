-- OS-TRUST: a trustor delegates roles on a project to a trustee, as Keystone's trust and
-- trust_role tables. A deleted trust is kept with deleted_at set (Keystone soft-deletes them),
-- roles are kept by id without a foreign key (a role deleted later is left out when shown and
-- makes the trust unusable, as in Keystone). Redelegated trusts point at the trust they came from.

CREATE TABLE trust (
  id                   text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  trustor_user_id      text NOT NULL CHECK (length(trustor_user_id) BETWEEN 1 AND 64),
  trustee_user_id      text NOT NULL CHECK (length(trustee_user_id) BETWEEN 1 AND 64),
  project_id           text,
  impersonation        boolean NOT NULL,
  expires_at           timestamptz,
  remaining_uses       integer,
  redelegated_trust_id text,
  redelegation_count   integer,
  deleted_at           timestamptz,
  extra                jsonb NOT NULL DEFAULT '{}',
  -- Keystone's duplicate_trust_constraint (NULLs never collide, deleted trusts still do).
  CONSTRAINT duplicate_trust_constraint
    UNIQUE (trustor_user_id, trustee_user_id, project_id, impersonation, expires_at)
);
CREATE INDEX trust_trustor ON trust (trustor_user_id) WHERE deleted_at IS NULL;
CREATE INDEX trust_trustee ON trust (trustee_user_id) WHERE deleted_at IS NULL;
CREATE INDEX trust_redelegated ON trust (redelegated_trust_id) WHERE redelegated_trust_id IS NOT NULL;

CREATE TABLE trust_role (
  trust_id text NOT NULL REFERENCES trust (id) ON DELETE CASCADE,
  role_id  text NOT NULL,
  PRIMARY KEY (trust_id, role_id)
);

-- A validated trust-scoped token depends on its trust: deleting one (or using up its last use,
-- after which Keystone no longer finds it) must reach every process's token cache. Consuming a
-- use that leaves some does not notify, so issuing trust tokens does not flush the caches.
CREATE TRIGGER trust_invalidate AFTER INSERT OR DELETE OR TRUNCATE ON trust
  FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate();
CREATE TRIGGER trust_update_invalidate AFTER UPDATE ON trust
  FOR EACH ROW
  WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
        OR (NEW.remaining_uses IS NOT NULL AND NEW.remaining_uses <= 0
            AND OLD.remaining_uses IS DISTINCT FROM NEW.remaining_uses))
  EXECUTE FUNCTION identity_notify_invalidate();
CREATE TRIGGER trust_role_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trust_role
  FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate();

-- Deleting a user deletes the trusts it is trustor or trustee of (Keystone's _on_user_delete),
-- whichever code path deletes the user.
CREATE FUNCTION trust_delete_for_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE trust SET deleted_at = now()
   WHERE deleted_at IS NULL AND (trustor_user_id = OLD.id OR trustee_user_id = OLD.id);
  RETURN NULL;
END
$$;
CREATE TRIGGER user_delete_trusts AFTER DELETE ON "user"
  FOR EACH ROW EXECUTE FUNCTION trust_delete_for_user();
