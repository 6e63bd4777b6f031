DROP INDEX users_looking_like;
DROP INDEX users_compared_as;
ALTER TABLE users DROP COLUMN username_skeleton;
ALTER TABLE users DROP COLUMN username_key;
