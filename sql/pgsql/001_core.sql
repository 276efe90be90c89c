-- apiauth schema 1 (PostgreSQL): apps and their credentials.
-- Secrets are never stored: `digest` is the hex SHA-256 (or HMAC-SHA-256
-- under the server's pepper) of the secret, and the only way in.
-- Times are Unix seconds; NULL expires/revoked means never/live.

CREATE TABLE IF NOT EXISTS apiauth_schema (
    version BIGINT NOT NULL PRIMARY KEY,
    applied BIGINT NOT NULL
);

CREATE TABLE apiauth_apps (
    id      TEXT NOT NULL PRIMARY KEY,      -- public id, app_...
    name    TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL
);

CREATE TABLE apiauth_credentials (
    id         TEXT NOT NULL PRIMARY KEY,   -- crd_..., what logs name
    digest     TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    app_id     TEXT NOT NULL REFERENCES apiauth_apps (id),
    user_id    TEXT,
    scope      TEXT NOT NULL DEFAULT '',
    install_id TEXT,
    created    BIGINT NOT NULL,
    expires    BIGINT,
    revoked    BIGINT,
    last_used  BIGINT
);
CREATE INDEX apiauth_credentials_app ON apiauth_credentials (app_id);
CREATE INDEX apiauth_credentials_expires ON apiauth_credentials (expires);
