-- apiauth schema 7 (SQLite): what a client may use.
-- jwks: the public keys, as a JWK Set, that a private_key_jwt client's
-- assertions (RFC 7523) must be signed with -- from its metadata document
-- (jwks, or what its jwks_uri served when the document was read).
-- resources: the resources (RFC 8707) it may ask tokens for, space
-- separated; NULL: any of the server's (ApiAuthOAuthResource).

ALTER TABLE apiauth_clients ADD COLUMN jwks TEXT;
ALTER TABLE apiauth_clients ADD COLUMN resources TEXT;
