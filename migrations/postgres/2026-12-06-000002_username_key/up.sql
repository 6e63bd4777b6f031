-- Look-alike usernames (RFC 8265, UTS #39): each person's username as compared
-- (RFC 8265 §3.3, PRECIS UsernameCaseMapped: `Alice`, `ALICE` and the
-- fullwidth `ａｌｉｃｅ` are one name) and as it looks (a UTS #39 skeleton:
-- `аlice` with a Cyrillic `а`, `alicé` and `aIice` look like `alice`), each
-- unique, so two sign-ups at once cannot both take a name. NULLs never
-- collide: a row whose name is the same as, or looks like, an older row's
-- keeps NULL, keeps signing in by its exact name, and is named by
-- `gatehouse user list --collisions`.
ALTER TABLE users ADD COLUMN username_key TEXT;
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
-- SQL computes the key of an ASCII username only (there the PRECIS key is
-- the name in ASCII lower case), for the oldest row of each such name, so
-- `ALICE` signs in as `alice` from the start. gatehouse fills in the rest
-- (skeletons, other names) before it stores or renames a person, in that
-- transaction (`DbConn::fill_username_keys`, `src/text.rs`).
-- (translate, not lower: ASCII only, whatever the database's collation.)
UPDATE users SET username_key = translate(username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
WHERE octet_length(username) = char_length(username)
  AND NOT EXISTS (
    SELECT 1 FROM users AS older
    WHERE translate(older.username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
        = translate(users.username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
      AND (older.created_at, older.id) < (users.created_at, users.id)
  );
CREATE UNIQUE INDEX users_compared_as ON users (username_key);
CREATE UNIQUE INDEX users_looking_like ON users (username_skeleton);
