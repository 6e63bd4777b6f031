ALTER TABLE device_codes DROP COLUMN amr;
ALTER TABLE refresh_families DROP COLUMN amr;
ALTER TABLE authorization_codes DROP COLUMN amr;
ALTER TABLE browser_sessions DROP COLUMN amr;
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
