-- The access token issued together with each refresh token, so revoking a
-- family can deny-list the access tokens issued from it (RFC 7009 §2.1).
ALTER TABLE refresh_tokens ADD COLUMN access_jti TEXT;
ALTER TABLE refresh_tokens ADD COLUMN access_expires_at BIGINT;
