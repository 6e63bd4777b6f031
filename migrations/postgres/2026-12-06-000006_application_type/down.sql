ALTER TABLE clients DROP COLUMN application_type;
