-- apiauth schema 2 (PostgreSQL): the OAuth 2.0 authorization server.
-- Codes and refresh tokens are stored by digest, like every secret.  A
-- grant is one authorization (a user's consent to a client, or the start
-- of a family of refresh tokens): revoking it revokes everything issued
-- from it.  Single use is an UPDATE ... WHERE used IS NULL and its row count.

CREATE TABLE apiauth_clients (
    id              TEXT NOT NULL PRIMARY KEY,   -- cli_...
    name            TEXT NOT NULL UNIQUE,
    app_id          TEXT NOT NULL REFERENCES apiauth_apps (id),
    secret_digest   TEXT UNIQUE,                 -- NULL: public client
    redirect_uris   TEXT NOT NULL DEFAULT '',    -- space separated, exact
    grant_types     TEXT NOT NULL DEFAULT '',    -- space separated
    scope           TEXT NOT NULL DEFAULT '',    -- what it may ask for
    first_party     BIGINT NOT NULL DEFAULT 0,  -- no consent page
    resource_server BIGINT NOT NULL DEFAULT 0,  -- may introspect any token
    created         BIGINT NOT NULL,
    deleted         BIGINT
);

CREATE TABLE apiauth_grants (
    id         TEXT NOT NULL PRIMARY KEY,        -- grt_...
    client_id  TEXT NOT NULL,
    user_id    TEXT,
    scope      TEXT NOT NULL,
    created    BIGINT NOT NULL,
    expires    BIGINT NOT NULL,                 -- last moment anything of it lives
    revoked    BIGINT
);
CREATE INDEX apiauth_grants_user_client ON apiauth_grants (user_id, client_id);
CREATE INDEX apiauth_grants_expires ON apiauth_grants (expires);

CREATE TABLE apiauth_codes (
    digest         TEXT NOT NULL PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT,                         -- NULL: left out of the request
    code_challenge TEXT,                         -- S256; NULL: no PKCE
    scope          TEXT NOT NULL,
    expires        BIGINT NOT NULL,
    used           BIGINT
);
CREATE INDEX apiauth_codes_expires ON apiauth_codes (expires);

CREATE TABLE apiauth_refresh_tokens (
    digest     TEXT NOT NULL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,             -- rft_..., what logs name
    grant_id   TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT,
    scope      TEXT NOT NULL,
    created    BIGINT NOT NULL,
    expires    BIGINT NOT NULL,
    used       BIGINT
);
CREATE INDEX apiauth_refresh_grant ON apiauth_refresh_tokens (grant_id);
CREATE INDEX apiauth_refresh_expires ON apiauth_refresh_tokens (expires);

-- access tokens revoked before their exp (RFC 7009), kept until then
CREATE TABLE apiauth_denied_jti (
    jti     TEXT NOT NULL PRIMARY KEY,
    expires BIGINT NOT NULL
);
