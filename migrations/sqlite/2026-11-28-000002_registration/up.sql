-- Client registration by people (the application pages) and by platforms
-- (RFC 7591/7592): the metadata they enter, the hash of the registration
-- access token that manages a client through /register/{id}, and the
-- initial access tokens the operator hands out.
ALTER TABLE clients ADD COLUMN logo_uri TEXT;
ALTER TABLE clients ADD COLUMN contacts TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
CREATE INDEX clients_owner ON clients(owner);

CREATE TABLE registration_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    uses_left BIGINT NOT NULL,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
