-- apiauth schema 7 (SQLite): clients that authenticate with a key of theirs
-- (RFC 7523 private_key_jwt): the public keys, as a JWK Set, that a
-- client's assertions must be signed with -- from its metadata document
-- (jwks, or what its jwks_uri served when the document was read).

ALTER TABLE apiauth_clients ADD COLUMN jwks TEXT;
