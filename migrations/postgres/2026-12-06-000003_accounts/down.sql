ALTER TABLE browser_sessions DROP COLUMN ip;
ALTER TABLE browser_sessions DROP COLUMN user_agent;
DROP TABLE account_tokens;
DROP TABLE mail_outbox;
