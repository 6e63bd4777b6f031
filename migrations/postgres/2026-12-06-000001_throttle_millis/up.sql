-- Throttle locks end at a millisecond, so every lock lasts at least its
-- nominal time (1 s, 2 s, 4 s, …) however late in a second it starts.
-- `locked_until` (whole seconds, rounded up) stays written for instances
-- that do not know this column; they lock a little longer, never shorter.
ALTER TABLE sign_in_throttle ADD COLUMN locked_until_ms BIGINT;
