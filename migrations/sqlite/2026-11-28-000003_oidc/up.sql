-- OpenID Connect.
-- The sign-in an ID token speaks of: the browser session (its `sid`, a
-- value derived from the session, never the cookie) travels from the
-- authorization code (or the device code's approval) into the refresh
-- token family, with the time of that sign-in, so a refreshed ID token
-- keeps `auth_time` and `sid` (OIDC Core §12.2).
ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
ALTER TABLE device_codes ADD COLUMN auth_time BIGINT;
ALTER TABLE device_codes ADD COLUMN sid TEXT;
ALTER TABLE refresh_families ADD COLUMN auth_time BIGINT;
ALTER TABLE refresh_families ADD COLUMN sid TEXT;
-- Standard claims (OIDC Core §5.1): a display name, and whether the
-- e-mail address was verified.
ALTER TABLE users ADD COLUMN name TEXT;
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT 0;
-- RP-initiated logout: where a client may send people after signing out,
-- space-separated, matched exactly.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
