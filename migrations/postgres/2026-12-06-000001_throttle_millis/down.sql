ALTER TABLE sign_in_throttle DROP COLUMN locked_until_ms;
