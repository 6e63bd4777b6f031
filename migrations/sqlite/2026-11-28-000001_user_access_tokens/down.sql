DROP TABLE user_access_tokens;
