-- apiauth schema 6 (SQLite): resource indicators (RFC 8707).  A grant made for one
-- resource (the URI a client named in its authorization request) keeps it:
-- every access token of the family has it as its aud, and a refresh may not
-- ask for another.  NULL: the server's own audience.

ALTER TABLE apiauth_grants ADD COLUMN resource TEXT;
