-- Every process keeps validated tokens and the catalog in memory (app/src/token/cache.ts) and
-- drops them when it hears `identity_invalidate`. These triggers make every change that can
-- alter a token's validity or body notify, whichever code path (or psql session) made it, so
-- no writer can forget to. NOTIFY is delivered at commit, and identical notifications in one
-- transaction are folded into one.

CREATE FUNCTION identity_notify_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('identity_invalidate', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['domain', 'project', 'group', 'group_member', 'role', 'implied_role',
                           'assignment', 'region', 'service', 'endpoint', 'password',
                           'application_credential', 'application_credential_role', 'access_rule',
                           'revocation_event']
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                    FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate()',
                   t || '_invalidate', t);
  END LOOP;
END
$$;

-- Users: creation and deletion always; updates only when a column a token shows or depends on
-- changes, so failed-login counters (written on every wrong password) do not flush the caches.
CREATE TRIGGER user_invalidate AFTER INSERT OR DELETE OR TRUNCATE ON "user"
  FOR EACH STATEMENT EXECUTE FUNCTION identity_notify_invalidate();
CREATE TRIGGER user_update_invalidate AFTER UPDATE ON "user"
  FOR EACH ROW
  WHEN ((OLD.id, OLD.name, OLD.domain_id, OLD.enabled, OLD.default_project_id, OLD.options)
        IS DISTINCT FROM (NEW.id, NEW.name, NEW.domain_id, NEW.enabled, NEW.default_project_id, NEW.options))
  EXECUTE FUNCTION identity_notify_invalidate();
