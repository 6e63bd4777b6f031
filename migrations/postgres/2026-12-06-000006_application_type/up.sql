-- OpenID Connect Dynamic Client Registration §2 application_type (issue 31):
-- 'web' (https redirect URIs only) or 'native' (RFC 8252: loopback http,
-- private-use schemes, claimed https). Rows from before are 'web', except
-- that a client with any redirect URI that is not https (every such URI
-- stored is loopback http or a private-use scheme) is 'native': the rule
-- a registration that names no type follows. The count of words in the
-- space-separated list against the count of those starting 'https://'.
ALTER TABLE clients ADD COLUMN application_type TEXT NOT NULL DEFAULT 'web';
UPDATE clients SET application_type = 'native'
WHERE redirect_uris <> ''
  AND (length(' ' || redirect_uris) - length(replace(' ' || redirect_uris, ' https://', ''))) / 9
      < length(redirect_uris) - length(replace(redirect_uris, ' ', '')) + 1;
