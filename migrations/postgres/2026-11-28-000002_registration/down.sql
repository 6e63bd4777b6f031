DROP TABLE registration_tokens;
DROP INDEX clients_owner;
ALTER TABLE clients DROP COLUMN registration_token_hash;
ALTER TABLE clients DROP COLUMN contacts;
ALTER TABLE clients DROP COLUMN logo_uri;
