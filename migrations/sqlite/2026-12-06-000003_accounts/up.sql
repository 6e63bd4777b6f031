-- Accounts people can keep (issue 29).
--
-- Mail waiting to be sent, sent by one instance each: an instance claims a
-- due row by setting `claimed_until` (a lease) in a write, sends it, and
-- marks it sent, or puts it back with a later `next_attempt_at`. A mail
-- not sent by `created_at` + the give-up time is marked `given_up_at`.
-- `body` is sealed under a key derived from the server secret (links in it
-- are secrets) and emptied once the mail is sent or given up.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    sent_at BIGINT,
    given_up_at BIGINT,
    last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND given_up_at IS NULL;

-- Single-use links mailed (or handed) to a person: verifying an address
-- (`email` is the address being verified: the new one, for a change), a
-- password reset, an invitation. Only the token's hash is kept.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);

-- What the sessions list on /account shows of each browser session.
ALTER TABLE browser_sessions ADD COLUMN user_agent TEXT;
ALTER TABLE browser_sessions ADD COLUMN ip TEXT;
