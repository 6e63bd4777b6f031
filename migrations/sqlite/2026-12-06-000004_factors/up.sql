-- Second factors and passkeys (issue 30).
--
-- A person's authenticator app (RFC 6238 TOTP). The secret is sealed under
-- a key derived from the server secret, so a dump of the database alone
-- does not give the codes. It counts once `confirmed_at` is set (the
-- person typed one code). `last_step` is the time step of the last code
-- accepted: no code of that step or an earlier one is accepted again.
CREATE TABLE totp_factors (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT
);

-- Single-use recovery codes, stored as a keyed hash (HMAC under the server
-- secret), spent by setting `used_at` in a conditional UPDATE.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- WebAuthn credentials (passkeys). `credential_id` is base64url;
-- `credential` is the verifier's record of it (public key, counter, flags)
-- as JSON.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony in progress (registration or authentication): the
-- challenge state the browser's answer is checked against, taken once.
CREATE TABLE webauthn_ceremonies (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- How each sign-in was made (RFC 8176 `amr` values, space-separated), kept
-- with the session and carried by what it leads to, for the tokens' `amr`
-- and `acr`.
ALTER TABLE browser_sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT;
ALTER TABLE refresh_families ADD COLUMN amr TEXT;
ALTER TABLE device_codes ADD COLUMN amr TEXT;
