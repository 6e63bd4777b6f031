-- Access tokens issued to a user through a consent-based flow (code,
-- implicit, device), so withdrawing consent can deny-list the live ones
-- (RFC 7009 §2.1). Rows go when the token expires.
CREATE TABLE user_access_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_access_tokens_grant ON user_access_tokens(user_id, client_id);
CREATE INDEX user_access_tokens_expires ON user_access_tokens(expires_at);
