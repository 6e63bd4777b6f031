ALTER TABLE refresh_families DROP COLUMN resource;
ALTER TABLE device_codes DROP COLUMN resource;
ALTER TABLE authorization_codes DROP COLUMN resource;
ALTER TABLE clients DROP COLUMN resources;
