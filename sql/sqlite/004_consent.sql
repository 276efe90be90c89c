-- apiauth schema 4 (SQLite): what a person sees of a client, and the
-- consent forms already answered.
-- display_name is RFC 7591's client_name: free text shown on the consent
-- page (NULL: the client's name).  A consent form carries a nonce; its
-- digest is written here when the form is answered, so that one form is
-- one answer (a second POST of it is refused), kept until the form would
-- have expired anyway.

ALTER TABLE apiauth_clients ADD COLUMN display_name TEXT;

CREATE TABLE apiauth_consents (
    digest  TEXT NOT NULL PRIMARY KEY,
    expires INTEGER NOT NULL
);
CREATE INDEX apiauth_consents_expires ON apiauth_consents (expires);
