-- apiauth schema 3 (SQLite): users who log in (Tapglue sessions, backend
-- tokens acting as them, Contextual dashboard users) and the companies an
-- app is installed in (Twake's group_id).
-- A user belongs to one app, or to none (any app may log them in).
-- Passwords are stored as apr_password_validate understands them (bcrypt).

CREATE TABLE apiauth_users (
    id       TEXT NOT NULL PRIMARY KEY,        -- the user id, never app_/cli_
    email    TEXT UNIQUE,
    app_id   TEXT REFERENCES apiauth_apps (id),
    password TEXT NOT NULL,
    created  INTEGER NOT NULL,
    deleted  INTEGER
);
CREATE INDEX apiauth_users_app ON apiauth_users (app_id);

CREATE TABLE apiauth_app_groups (
    app_id   TEXT NOT NULL REFERENCES apiauth_apps (id),
    group_id TEXT NOT NULL,
    created  INTEGER NOT NULL,
    PRIMARY KEY (app_id, group_id)
);
