-- TOTP passcodes are single-use: the highest time step accepted per totp credential. A passcode
-- of that step or an earlier one is refused (RFC 6238 section 5.2), so a passcode seen once cannot
-- be replayed within the windows Keystone accepts. One row per credential, gone with it.
CREATE TABLE totp_last_step (
  credential_id text PRIMARY KEY REFERENCES credential (id) ON DELETE CASCADE,
  step          bigint NOT NULL
);
