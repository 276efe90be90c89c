-- apiauth schema 1 (SQLite): apps and their credentials.
-- Secrets are never stored: `digest` is the hex SHA-256 (or HMAC-SHA-256
-- under the server's pepper) of the secret, and the only way in.
-- Times are Unix seconds; NULL expires/revoked means never/live.

CREATE TABLE IF NOT EXISTS apiauth_schema (
    version INTEGER NOT NULL PRIMARY KEY,
    applied INTEGER NOT NULL
);

CREATE TABLE apiauth_apps (
    id      TEXT NOT NULL PRIMARY KEY,      -- public id, app_...
    name    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

CREATE TABLE apiauth_credentials (
    id         TEXT NOT NULL PRIMARY KEY,   -- crd_..., what logs name
    digest     TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    app_id     TEXT NOT NULL REFERENCES apiauth_apps (id),
    user_id    TEXT,
    scope      TEXT NOT NULL DEFAULT '',
    install_id TEXT,
    created    INTEGER NOT NULL,
    expires    INTEGER,
    revoked    INTEGER,
    last_used  INTEGER
);
CREATE INDEX apiauth_credentials_app ON apiauth_credentials (app_id);
CREATE INDEX apiauth_credentials_expires ON apiauth_credentials (expires);
