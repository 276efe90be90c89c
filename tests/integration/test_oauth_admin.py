"""apiauth-admin's OAuth side, as an operator uses it next to a running
server: registering clients (and what it refuses to register), listing
them without secrets, deleting a client and withdrawing a user's consent
(both end the tokens at once where the oauth provider checks them without
a cache), migrating a store made by an older version, and purging expired
rows.

Exit status: 0 done, 1 refused, 2 bad usage (DESIGN.md "apiauth-admin")."""
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time

import pytest

from backends import DBD, pg_cluster
from harness import ADMIN, ROOT, Store, env_of, make_workdir
from oauth_flows import CALLBACK, code_for, store_sql, unique
from oauth_tokens import (bearer, client_auth, client_token, refresh,
                          unverified, user_tokens)

# the same resources as /integration/v1, without the credential cache:
# what apiauth-admin changes in the store is seen on the next request
UNCACHED = """
<Location /fresh/v1>
    AuthType apiauth
    AuthName "fresh"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    ApiAuthCache off
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.store
</Location>
"""


@pytest.fixture(scope="module")
def o(servers):
    return servers.make(body=UNCACHED)


@pytest.fixture(scope="module")
def store(module_store):
    """A store no server uses, for what needs none."""
    return module_store()


def create(store, name, *args):
    return store.admin("client", "create", name, *args, check=False,
                       json=True)


def listed_names(store):
    return {c["name"] for c in json.loads(
        store.out("client", "list", json=True))}


# ---- client create ----------------------------------------------------------

@pytest.mark.parametrize("args", [
    # authorization_code needs somewhere to send the code
    ["--grant", "authorization_code", "--scope", "integration.store"],
    # http only on loopback
    ["--grant", "authorization_code", "--redirect-uri",
     "http://client.example/cb"],
    ["--grant", "authorization_code", "--redirect-uri",
     "http://localhost:8080/cb"],
    # no fragment, no relative URI, nothing that is not a URI
    ["--grant", "authorization_code", "--redirect-uri",
     "https://client.example/cb#x"],
    ["--grant", "authorization_code", "--redirect-uri", "/cb"],
    ["--grant", "authorization_code", "--redirect-uri", "client.example/cb"],
    # a public client has no secret for client_credentials
    ["--public", "--grant", "client_credentials"],
    ["--public", "--grant", "authorization_code", "--grant",
     "client_credentials", "--redirect-uri", CALLBACK],
    # grants are a closed list, and there must be one
    ["--grant", "password", "--redirect-uri", CALLBACK],
    ["--grant", "implicit", "--redirect-uri", CALLBACK],
    ["--redirect-uri", CALLBACK],
], ids=["no-redirect-uri", "http-host", "http-localhost", "fragment",
        "relative", "no-scheme", "public-client-credentials",
        "public-mixed", "password-grant", "implicit-grant", "no-grant"])
def test_client_create_refuses_bad_registrations_with_exit_2(store, args):
    name = unique("bad")
    proc = create(store, name, *args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.strip()
    assert name not in listed_names(store)


@pytest.mark.parametrize("name", [
    "cli_shop", "cli_", "app_shop", "a b", "a:b", "a;b", "a,b", 'a"b',
    "a\\b", ""], ids=["cli-prefix", "cli-alone", "app-prefix", "space",
                       "colon", "semicolon", "comma", "quote", "backslash",
                       "empty"])
def test_client_create_refuses_names_that_could_pass_for_ids(store, name):
    proc = create(store, name, "--grant", "client_credentials")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""


@pytest.mark.parametrize("args,public", [
    (["--grant", "authorization_code", "--redirect-uri", CALLBACK], False),
    (["--grant", "authorization_code", "--redirect-uri",
      "http://127.0.0.1:8080/cb"], False),
    (["--grant", "authorization_code", "--redirect-uri", "http://[::1]/cb",
      "--public"], True),
    (["--grant", "client_credentials"], False),
    (["--grant", "authorization_code", "--grant", "refresh_token",
      "--redirect-uri", CALLBACK, "--redirect-uri",
      "https://client.example/other", "--first-party"], False),
], ids=["https", "http-loopback", "public-ipv6-loopback",
        "client-credentials-no-uri", "several-uris"])
def test_client_create_accepts_good_registrations(store, args, public):
    name = "Good&Co<" + unique("ok") + ">"
    proc = create(store, name, *args)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert re.fullmatch(r"cli_[A-Za-z0-9]+", got["client_id"])
    assert got["name"] == name
    assert got["app"].startswith("app_")
    if public:
        assert got["client_secret"] is None
    else:
        assert got["client_secret"]
    assert name in listed_names(store)


def test_client_create_takes_a_display_name_for_people(store):
    """RFC 7591's client_name: free text, shown on the consent page and
    listed; the name stays the operator's handle."""
    name = unique("acme")
    got = json.loads(create(store, name, "--grant", "client_credentials",
                            "--display-name", "Acme Shop, Inc. — Café").stdout)
    assert got["client_name"] == "Acme Shop, Inc. — Café"
    listed = {c["name"]: c for c in json.loads(
        store.out("client", "list", json=True))}
    assert listed[name]["client_name"] == "Acme Shop, Inc. — Café"
    # without one, people see the name
    other = unique("plain")
    got = json.loads(create(store, other, "--grant",
                            "client_credentials").stdout)
    assert got["client_name"] == other


@pytest.mark.parametrize("display", ["", "a\nb", "tab\there", "x" * 101,
                                     "\x7f", "a\u0085b", "Shop\u202eGOOD",
                                     "\u2067x\u2069"],
                         ids=["empty", "newline", "tab", "long", "del",
                              "c1-control", "rlo", "rli-pdi"])
def test_client_create_refuses_a_display_name_that_is_no_text(store,
                                                              display):
    name = unique("bad")
    proc = create(store, name, "--grant", "client_credentials",
                  "--display-name", display)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "--display-name" in proc.stderr
    assert name not in listed_names(store)


def test_client_create_plain_output_is_id_then_secret(store):
    proc = store.admin("client", "create", unique("plain"), "--grant",
                       "client_credentials", check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("cli_")
    assert lines[1] not in proc.stderr


def test_client_list_never_shows_a_secret(store):
    made = [json.loads(create(store, unique("listed"), "--grant",
                              "client_credentials").stdout)
            for _ in range(3)]
    digests = store.sql("SELECT secret_digest FROM apiauth_clients "
                        "WHERE secret_digest IS NOT NULL").split()
    assert len(digests) >= 3
    for as_json in (True, False):
        out = store.admin("client", "list", json=as_json).stdout
        for client in made:
            assert client["client_id"] in out
            assert client["client_secret"] not in out
        for digest in digests:
            assert digest not in out
        if as_json:
            for entry in json.loads(out):
                assert not any("secret" in k or "digest" in k
                               for k in entry), entry


# ---- client delete --------------------------------------------------------

def test_client_delete_ends_its_tokens_and_its_authentication(o):
    doomed = o.client(unique("doomed"), "client_credentials",
                      "authorization_code", "refresh_token")
    used = client_token(o, doomed)["access_token"]
    unused = client_token(o, doomed)["access_token"]
    users = user_tokens(o, doomed)
    assert o.get("/fresh/v1/env", headers=bearer(used)).status_code == 200

    proc = o.store.admin("client", "delete", doomed["client_id"],
                         check=False)
    assert proc.returncode == 0, proc.stderr

    assert o.get("/fresh/v1/env", headers=bearer(used)).status_code == 401
    r = o.get("/integration/v1/env", headers=bearer(unused))
    assert r.status_code == 401, r.text
    r = o.get("/fresh/v1/env", headers=bearer(users["access_token"]))
    assert r.status_code == 401, r.text
    r = o.post("/auth/v2/token", data={"grant_type": "client_credentials"},
               auth=client_auth(doomed))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    r = refresh(o, doomed, users["refresh_token"])
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert doomed["name"] not in listed_names(o.store)
    # nor can anyone start a new authorization for it
    r = o.get("/auth/v2/authorize", auth=("alice", "wonderland"), params={
        "response_type": "code", "client_id": doomed["client_id"],
        "redirect_uri": CALLBACK})
    assert r.status_code == 400 and "Location" not in r.headers


def test_client_delete_of_an_unknown_client_exits_1(o):
    proc = o.store.admin("client", "delete", "cli_nosuchclient",
                         check=False)
    assert proc.returncode == 1


# ---- grant revoke -----------------------------------------------------------

def test_grant_revoke_ends_the_users_tokens_of_that_client(o):
    shop = o.client(unique("shop"), "authorization_code", "refresh_token")
    other = o.client(unique("other"), "authorization_code", "refresh_token")
    tokens = user_tokens(o, shop)
    unused = user_tokens(o, shop)
    others = user_tokens(o, other)
    assert o.get("/fresh/v1/env",
                 headers=bearer(tokens["access_token"])).status_code == 200

    proc = o.store.admin("grant", "revoke", "alice", shop["name"],
                         check=False)
    assert proc.returncode == 0, proc.stderr

    r = refresh(o, shop, tokens["refresh_token"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    r = o.get("/fresh/v1/env", headers=bearer(tokens["access_token"]))
    assert r.status_code == 401, r.text
    r = o.get("/integration/v1/env", headers=bearer(unused["access_token"]))
    assert r.status_code == 401, r.text
    # alice's consent to another client stands
    r = o.get("/fresh/v1/env", headers=bearer(others["access_token"]))
    assert r.status_code == 200, r.text
    assert refresh(o, other, others["refresh_token"]).status_code == 200
    # and she may consent again
    again = user_tokens(o, shop)
    r = o.get("/fresh/v1/env", headers=bearer(again["access_token"]))
    assert r.status_code == 200, r.text


def test_grant_revoke_voids_a_code_not_yet_redeemed(o):
    shop = o.client(unique("shop"), "authorization_code", "refresh_token")
    code = code_for(o, shop["client_id"])
    assert o.store.admin("grant", "revoke", "alice", shop["client_id"],
                         check=False).returncode == 0
    r = o.post("/auth/v2/token", data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": CALLBACK}, auth=client_auth(shop))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    # a code of a consent given afterwards is good
    code = code_for(o, shop["client_id"])
    r = o.post("/auth/v2/token", data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": CALLBACK}, auth=client_auth(shop))
    assert r.status_code == 200, r.text


def test_grant_revoke_without_a_live_grant_exits_1(o):
    shop = o.client(unique("shop"), "authorization_code")
    proc = o.store.admin("grant", "revoke", "alice", shop["client_id"],
                         check=False)
    assert proc.returncode == 1, proc.stderr
    user_tokens(o, shop)
    assert o.store.admin("grant", "revoke", "alice", shop["client_id"],
                         check=False).returncode == 0
    assert o.store.admin("grant", "revoke", "alice", shop["client_id"],
                         check=False).returncode == 1
    assert o.store.admin("grant", "revoke", "bob", shop["client_id"],
                         check=False).returncode == 1
    assert o.store.admin("grant", "revoke", "alice", "cli_nosuchclient",
                         check=False).returncode == 1


# ---- init: a store of schema version 1 --------------------------------------

SCHEMA_DIR = {"sqlite3": "sqlite", "pgsql": "pgsql"}[DBD]


def newest_schema_version():
    return max(int(p.name[:3]) for p in (ROOT / "sql" / SCHEMA_DIR).glob(
        "[0-9][0-9][0-9]_*.sql"))


class OldStore:
    """A store made by hand as version 1 made it, on this run's backend:
    a SQLite file (the sqlite3 shell) or a PostgreSQL database (psql)."""

    def __init__(self, directory):
        self.directory = directory
        if DBD == "pgsql":
            self.cluster = pg_cluster()
            self.database = self.cluster.create_database()
            self.params = self.cluster.conninfo(self.database)
        else:
            self.database = None
            self.params = str(directory / "apiauth.db")

    def run(self, script):
        if DBD == "pgsql":
            return self.cluster.psql(self.database, script).stdout
        return subprocess.run(["sqlite3", self.params], input=script,
                              capture_output=True, text=True,
                              check=True).stdout

    def rows(self, *tables):
        return "".join(self.run(f"SELECT * FROM {t};") for t in tables)

    def tables(self):
        if DBD == "pgsql":
            return self.run("SELECT tablename FROM pg_tables "
                            "WHERE schemaname = 'public';")
        return self.run("SELECT name FROM sqlite_master WHERE type='table';")


@pytest.fixture
def scratch():
    """A directory the server's user can read, removed afterwards."""
    d = make_workdir("apiauth-scratch-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_init_migrates_a_version_1_store_and_keeps_its_keys(scratch,
                                                            httpd_factory):
    directory = scratch
    old = OldStore(directory)
    secret = secrets.token_hex(16)    # a foreign key format, found by digest
    digest = hashlib.sha256(secret.encode()).hexdigest()
    old.run((ROOT / "sql" / SCHEMA_DIR / "001_core.sql").read_text() + f"""
INSERT INTO apiauth_schema VALUES (1, 0);
INSERT INTO apiauth_apps VALUES ('app_legacy00000001', 'legacy', 1600000000);
INSERT INTO apiauth_credentials (id, digest, kind, app_id, scope, created)
    VALUES ('crd_legacy00000001', '{digest}', 'api_key',
            'app_legacy00000001', 'integration.store', 1600000000);
""")
    before = old.rows("apiauth_apps", "apiauth_credentials")

    proc = subprocess.run([str(ADMIN), "-D", DBD, "-P", old.params,
                           "init"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert old.run("SELECT MAX(version) FROM apiauth_schema;").strip() \
        == str(newest_schema_version())
    assert old.rows("apiauth_apps", "apiauth_credentials") == before
    tables = old.tables()
    for table in ("apiauth_clients", "apiauth_grants", "apiauth_codes",
                  "apiauth_refresh_tokens", "apiauth_denied_jti"):
        assert table in tables

    # runs init again: nothing left to do
    store = Store(directory, database=old.database)
    assert old.run("SELECT COUNT(*) FROM apiauth_schema;").strip() \
        == str(newest_schema_version())
    httpd = httpd_factory(store=store, body="""
<Location /api>
    AuthType apiauth
    AuthName "api"
    Require valid-user
</Location>
""")
    r = httpd.get("/api/env", headers={"X-API-Key": secret})
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_CREDENTIAL_ID"] == "crd_legacy00000001"
    assert env["APIAUTH_APP"] == "app_legacy00000001"
    assert httpd.get("/api/env", headers={
        "X-API-Key": secrets.token_hex(16)}).status_code == 401
    # and the migrated store takes the new version's objects
    client = json.loads(store.out("client", "create", "after-migration",
                                  "--grant", "client_credentials",
                                  "--app", "legacy", json=True))
    assert client["app"] == "app_legacy00000001"


# ---- purge ------------------------------------------------------------------

def count(o, table, where):
    return int(store_sql(o, f"SELECT COUNT(*) FROM {table} WHERE {where}"))


def test_purge_removes_expired_codes_refresh_tokens_grants_and_denials(o):
    # What is to expire belongs to one client, what stays live to another:
    # everything is made before any row is aged, since a token request may
    # itself purge expired rows now and then (handler_token.c), which must
    # not happen between the ageing and the purge checked here.
    shop = o.client(unique("purged"), "authorization_code", "refresh_token",
                    "client_credentials")
    other = o.client(unique("kept"), "authorization_code", "refresh_token")
    cid = shop["client_id"]
    code_for(o, cid)                           # a code never redeemed
    old = user_tokens(o, shop)                 # a grant with a refresh token
    denied = client_token(o, shop)["access_token"]
    assert o.post("/auth/v2/revoke", data={"token": denied},
                  auth=client_auth(shop)).status_code == 200
    jti = unverified(denied)[1]["jti"]
    live = user_tokens(o, other)
    live_code = code_for(o, other["client_id"])
    assert count(o, "apiauth_denied_jti", f"jti = '{jti}'") == 1
    # everything of the first client expires an hour ago
    past = int(time.time()) - 3600
    for table in ("apiauth_codes", "apiauth_refresh_tokens",
                  "apiauth_grants"):
        store_sql(o, f"UPDATE {table} SET expires = {past} "
                     f"WHERE client_id = '{cid}'")
    store_sql(o, f"UPDATE apiauth_denied_jti SET expires = {past} "
                 f"WHERE jti = '{jti}'")
    before = {t: count(o, t, f"client_id = '{other['client_id']}'")
              for t in ("apiauth_codes", "apiauth_refresh_tokens",
                        "apiauth_grants")}
    assert count(o, "apiauth_codes", f"client_id = '{cid}'") == 2
    assert count(o, "apiauth_refresh_tokens", f"client_id = '{cid}'") == 1
    assert count(o, "apiauth_grants", f"client_id = '{cid}'") == 2

    proc = o.store.admin("purge", check=False)
    assert proc.returncode == 0, proc.stderr

    for table in ("apiauth_codes", "apiauth_refresh_tokens",
                  "apiauth_grants", "apiauth_denied_jti"):
        assert count(o, table, f"expires < {past + 1}") == 0, table
    for table, n in before.items():
        assert count(o, table, f"client_id = '{other['client_id']}'") == n
    # what was live still works
    r = refresh(o, other, live["refresh_token"])
    assert r.status_code == 200, r.text
    r = o.post("/auth/v2/token", data={
        "grant_type": "authorization_code", "code": live_code,
        "redirect_uri": CALLBACK}, auth=client_auth(other))
    assert r.status_code == 200, r.text
    # and what was purged is gone for good
    r = refresh(o, shop, old["refresh_token"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_purge_removes_expired_keys_and_keeps_live_ones(store):
    app = store.app(unique("keys"))
    live, live_id = store.key(app)
    _, expired_id = store.key(app)
    store.sql(f"UPDATE apiauth_credentials SET expires = "
              f"{int(time.time()) - 60} WHERE id = '{expired_id}'")
    assert store.admin("purge", check=False).returncode == 0
    ids = store.sql("SELECT id FROM apiauth_credentials").split()
    assert live_id in ids
    assert expired_id not in ids


def test_purge_never_brings_back_a_revoked_access_token(oauth_factory):
    # the deny-list entry of a revoked token may go only once the token
    # itself can no longer be taken, leeway included
    o = oauth_factory(extra="ApiAuthOAuthAccessTokenLifetime 2",
                      body=UNCACHED)
    shop = o.client("shop", "client_credentials")
    token = client_token(o, shop)["access_token"]
    exp = unverified(token)[1]["exp"]
    assert o.post("/auth/v2/revoke", data={"token": token},
                  auth=client_auth(shop)).status_code == 200
    assert o.get("/fresh/v1/env", headers=bearer(token)).status_code == 401
    time.sleep(max(0.0, exp + 1.1 - time.time()))
    assert o.store.admin("purge", check=False).returncode == 0
    r = o.get("/fresh/v1/env", headers=bearer(token))
    assert r.status_code == 401, r.text
    r = o.post("/auth/v2/introspect", data={"token": token},
               auth=client_auth(shop))
    assert r.json() == {"active": False}


def test_purge_never_brings_back_the_tokens_of_a_revoked_grant(
        oauth_factory):
    # the same for a revoked grant family, with access tokens that live as
    # long as the family itself
    o = oauth_factory(extra="ApiAuthOAuthAccessTokenLifetime 2\n"
                            "ApiAuthOAuthRefreshTokenLifetime 1",
                      body=UNCACHED)
    shop = o.client("shop", "authorization_code", "refresh_token")
    tokens = user_tokens(o, shop)
    exp = unverified(tokens["access_token"])[1]["exp"]
    assert o.post("/auth/v2/revoke", data={"token": tokens["refresh_token"]},
                  auth=client_auth(shop)).status_code == 200
    r = o.post("/auth/v2/introspect", data={"token": tokens["access_token"]},
               auth=client_auth(shop))
    assert r.json() == {"active": False}
    time.sleep(max(0.0, exp + 1.1 - time.time()))
    assert o.store.admin("purge", check=False).returncode == 0
    r = o.post("/auth/v2/introspect", data={"token": tokens["access_token"]},
               auth=client_auth(shop))
    assert r.json() == {"active": False}


def test_a_client_limited_to_its_resources(oauth_factory):
    """client create --resource URL (repeatable): the RFC 8707 resources
    it may ask tokens for; anything else is invalid_target."""
    o = oauth_factory(extra="ApiAuthOAuthResource https://api.example/a "
                            "https://api.example/b")
    made = json.loads(o.store.out(
        "client", "create", "limited", "--grant", "client_credentials",
        "--scope", "integration.order", "--resource", "https://api.example/a",
        json=True))
    listed = {c["client_id"]: c for c in json.loads(
        o.store.out("client", "list", json=True))}
    assert listed[made["client_id"]]["resources"] == "https://api.example/a"
    auth = (made["client_id"], made["client_secret"])
    ok = o.post("/auth/v2/token", auth=auth, data={
        "grant_type": "client_credentials",
        "resource": "https://api.example/a"})
    assert ok.status_code == 200, ok.text
    no = o.post("/auth/v2/token", auth=auth, data={
        "grant_type": "client_credentials",
        "resource": "https://api.example/b"})
    assert no.status_code == 400
    assert no.json()["error"] == "invalid_target"
    bad = o.store.admin("client", "create", "worse", "--grant",
                        "client_credentials", "--resource", "not a url",
                        check=False)
    assert bad.returncode == 2
