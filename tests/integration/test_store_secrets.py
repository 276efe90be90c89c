"""The store holds no secret (DESIGN.md, "Credentials and storage"): after
a key, a client secret, a code, an access token, two generations of
refresh tokens and a user's password have been made and used, no table of the store holds any of
them, and each one that the server must recognise again is there as its
digest (the password as its bcrypt hash).  Runs on SQLite and on PostgreSQL like the rest of the suite."""
import pytest

from oauth_flows import (CALLBACK, assert_token_response, code_for,
                         curl_token, unique)


PASSWORD = "a password of the test's own"


def store_dump(store):
    """Every cell of every table of the store, one row per line."""
    if store.backend == "pgsql":
        listing = ("SELECT tablename FROM pg_tables "
                   "WHERE schemaname = 'public' ORDER BY tablename")
    else:
        listing = ("SELECT name FROM sqlite_master "
                   "WHERE type = 'table' ORDER BY name")
    tables = store.sql(listing).split()
    assert "apiauth_credentials" in tables and "apiauth_codes" in tables
    return "\n".join(store.sql(f"SELECT * FROM {t}") for t in tables)


@pytest.fixture(scope="module")
def made(servers):
    """One server, and every kind of secret it and apiauth-admin make."""
    o = servers.make()
    app = o.store.app(unique("shop"))
    key, _ = o.store.key(app)
    client = o.client(unique("storefront"), "authorization_code",
                      "refresh_token")
    code = code_for(o, client["client_id"], scope="integration.store")
    first = assert_token_response(curl_token(
        o, "client_id=" + client["client_id"],
        "client_secret=" + client["client_secret"], "code=" + code,
        "redirect_uri=" + CALLBACK, "grant_type=authorization_code"),
        "integration.store")
    second = assert_token_response(curl_token(
        o, "client_id=" + client["client_id"],
        "client_secret=" + client["client_secret"],
        "refresh_token=" + first["refresh_token"],
        "grant_type=refresh_token"), "integration.store")
    user = o.store.user(unique("ann"), password=PASSWORD)
    secrets = {"API key": key, "client secret": client["client_secret"],
               "code": code, "first refresh token": first["refresh_token"],
               "second refresh token": second["refresh_token"]}
    return o, secrets, first["access_token"], user


def test_no_table_holds_a_secret(made):
    o, secrets, access_token, _ = made
    dump = store_dump(o.store)
    for kind, secret in dict(secrets, **{"access token": access_token}
                             ).items():
        assert secret not in dump, f"the store holds a {kind} in the clear"
    # nor any of the JWT's parts that only its holder has: its signature
    assert access_token.rsplit(".", 1)[1] not in dump
    assert PASSWORD not in dump


def test_a_password_is_there_as_a_bcrypt_hash(made):
    o, _, _, user = made
    stored = o.store.sql(f"SELECT password FROM apiauth_users "
                         f"WHERE id = '{user}'")
    assert stored.startswith("$2y$") and len(stored) == 60, stored


def test_every_secret_the_server_must_know_again_is_there_as_its_digest(made):
    o, secrets, _, _ = made
    dump = store_dump(o.store)
    for kind, secret in secrets.items():
        assert o.store.digest(secret) in dump, f"no digest of the {kind}"


def test_the_secrets_made_still_work_after_the_dump(made):
    """The dump looked at a live store: the access token still opens its
    location (the secrets were not, say, purged before the dump)."""
    o, _, access_token, _ = made
    r = o.get("/integration/v1/stores/env",
              headers={"Authorization": "Bearer " + access_token})
    assert r.status_code == 200, r.text
