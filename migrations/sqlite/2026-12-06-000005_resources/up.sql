-- RFC 8707 resource indicators (issue 31).
-- The resources a client may name beyond the operator's
-- GATEHOUSE_RESOURCES: space-separated URIs, or prefixes ending in '/'.
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '';
-- The resources an authorization request, a device authorization request
-- or a grant named (space-separated; NULL: the default audience). The code
-- exchange, a device poll and a refresh may narrow them, never widen.
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;
ALTER TABLE device_codes ADD COLUMN resource TEXT;
ALTER TABLE refresh_families ADD COLUMN resource TEXT;
