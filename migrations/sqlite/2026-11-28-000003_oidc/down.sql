ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE users DROP COLUMN name;
ALTER TABLE refresh_families DROP COLUMN sid;
ALTER TABLE refresh_families DROP COLUMN auth_time;
ALTER TABLE device_codes DROP COLUMN sid;
ALTER TABLE device_codes DROP COLUMN auth_time;
ALTER TABLE authorization_codes DROP COLUMN sid;
