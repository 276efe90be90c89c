-- apiauth schema 5 (SQLite): sender-constrained tokens (RFC 9449 DPoP,
-- RFC 8705 mutual TLS).
-- dpop_bound: the client must send a DPoP proof with every token request
-- (client create --dpop-bound).  A grant family whose tokens went to a
-- public client with a DPoP proof is bound to that proof's key (jkt, the
-- RFC 7638 thumbprint): its refresh tokens are taken only with a proof by
-- the same key.

ALTER TABLE apiauth_clients ADD COLUMN dpop_bound INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apiauth_grants ADD COLUMN jkt TEXT;
-- a client that authenticates with its TLS certificate: the subject DN a
-- CA vouches for (tls_client_auth), or the certificate itself, by its
-- SHA-256 thumbprint (self_signed_tls_client_auth)
ALTER TABLE apiauth_clients ADD COLUMN tls_subject TEXT;
ALTER TABLE apiauth_clients ADD COLUMN tls_x5t TEXT;
