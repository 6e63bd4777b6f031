-- The audit trail (issue 32): security events, appended in the transaction
-- of the change each records (a failed sign-in in the one that counts it),
-- so an event exists exactly when its change happened. No foreign keys: an
-- event outlives the person, client or key it names. `actor` is who did it
-- (`person:<id>`, `client:<id>`, `operator` for the command line, `anonymous`,
-- `gatehouse`), `subject` what it was done to (`person:<id>`, `client:<id>`,
-- `key:<kid>`), `outcome` `success` or `failure`, `detail` a small JSON object.
-- Never a password, secret or token. Pruned after GATEHOUSE_AUDIT_RETENTION.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    at_ms BIGINT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT,
    client_id TEXT,
    ip TEXT,
    user_agent TEXT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at_ms);
CREATE INDEX audit_events_subject ON audit_events (subject, at_ms);
CREATE INDEX audit_events_type ON audit_events (type, at_ms);
CREATE INDEX audit_events_client ON audit_events (client_id, at_ms);
