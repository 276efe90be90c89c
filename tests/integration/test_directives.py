"""One setting, one directive: ApiAuthCache on|off|SECONDS, ApiAuthKeyFrom
header=... query=..., ApiAuthJWT issuer=... audience=... keys=... [leeway=]
[local].  Each works as the pair (or four) it replaces; a wrong word is
refused at start with the word named; and the previous release's
spellings still work, each use logged once as deprecated with what to
write instead (the other test files keep using them, which is how they
keep working)."""
import re
import shutil
import time

import pytest

from harness import Httpd, env_of, make_workdir
from oauth_tokens import bearer, client_token, public_pem

TTL = 2


def location(path, *lines, scheme="apikey"):
    body = "\n    ".join(("AuthType apiauth", 'AuthName "api"',
                          f"ApiAuthScheme {scheme}") + lines)
    return f"<Location {path}>\n    {body}\n    Require valid-user\n" \
           "</Location>\n"


class World:
    pass


@pytest.fixture(scope="module")
def w(module_store, module_httpd, servers):
    k = World()
    k.dir = make_workdir("apiauth-directives-")
    k.store = module_store()
    k.store.app("shop")
    k.as_ = servers.make(key_kind="ec")
    k.client = k.as_.client("shop", "client_credentials")
    pem = public_pem(k.as_.signing_key, k.dir / "as.pub.pem")
    issuer = k.as_.issuer
    k.old_jwt_line = 0
    body = (location("/ttl", f"ApiAuthCache {TTL}")
            + location("/off", "ApiAuthCache off")
            + location("/from", "ApiAuthKeyFrom header=X-Shop-Key "
                       "query=shop_key")
            + location("/jwt", f'ApiAuthJWT issuer={issuer} '
                       f'audience={issuer} keys="{pem}" leeway=5 local',
                       "ApiAuthProvider jwt", scheme="bearer")
            + location("/old-jwt", "ApiAuthProvider jwt",
                       f'ApiAuthJWTKeys "{pem}"',
                       f"ApiAuthJWTIssuer {issuer} local",
                       f"ApiAuthJWTAudience {issuer}", scheme="bearer")
            + location("/old-key", "ApiAuthKeyHeader X-Old-Key",
                       "ApiAuthCacheTTL 30"))
    k.httpd = module_httpd(store=k.store, body=body)
    yield k
    shutil.rmtree(k.dir, ignore_errors=True)


def test_cache_seconds_is_the_cache_on_with_that_lifetime(w):
    key, key_id = w.store.key("shop")
    first = time.time()
    assert w.httpd.get("/ttl/env", headers={"X-API-Key": key}).status_code \
        == 200
    w.store.revoke(key_id)
    assert w.httpd.get("/ttl/env", headers={"X-API-Key": key}).status_code \
        == 200
    assert time.time() < first + TTL, "too slow to observe the cache"
    time.sleep(max(0, first + TTL + 0.5 - time.time()))
    assert w.httpd.get("/ttl/env", headers={"X-API-Key": key}).status_code \
        == 401


def test_cache_off_is_off(w):
    key, key_id = w.store.key("shop")
    assert w.httpd.get("/off/env", headers={"X-API-Key": key}).status_code \
        == 200
    w.store.revoke(key_id)
    assert w.httpd.get("/off/env", headers={"X-API-Key": key}).status_code \
        == 401


def test_key_from_names_the_header_and_the_query(w):
    key, key_id = w.store.key("shop")
    r = w.httpd.get("/from/env", headers={"X-Shop-Key": key})
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_CREDENTIAL_ID"] == key_id
    r = w.httpd.get("/from/env", params={"shop_key": key})
    assert r.status_code == 200, r.text
    # the default header is not read where another is named
    assert w.httpd.get("/from/env",
                       headers={"X-API-Key": key}).status_code == 401


def test_jwt_in_one_line_verifies_tokens(w):
    token = client_token(w.as_, w.client)["access_token"]
    r = w.httpd.get("/jwt/env", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_ISSUER"] == w.as_.issuer
    assert w.httpd.get("/jwt/env",
                       headers=bearer(token[:-2] + "AA")).status_code == 401


def test_previous_spellings_still_work_and_are_logged(w):
    token = client_token(w.as_, w.client)["access_token"]
    assert w.httpd.get("/old-jwt/env",
                       headers=bearer(token)).status_code == 200
    key, _ = w.store.key("shop")
    assert w.httpd.get("/old-key/env",
                       headers={"X-Old-Key": key}).status_code == 200
    log = w.httpd.error_log()
    warned = [line for line in log.splitlines() if "AA10003" in line]
    said = "\n".join(warned)
    for old, new in (("ApiAuthJWTKeys", "ApiAuthJWT keys="),
                     ("ApiAuthJWTIssuer", "ApiAuthJWT issuer="),
                     ("ApiAuthJWTAudience", "ApiAuthJWT audience="),
                     ("ApiAuthKeyHeader", "ApiAuthKeyFrom header=X-Old-Key"),
                     ("ApiAuthCacheTTL", "ApiAuthCache 30")):
        assert re.search(rf"httpd\.conf:\d+: {old} is deprecated.*"
                         rf"write {re.escape(new)}", said), (old, said)
    # once each, not once per start phase
    assert len(warned) == 5, said


@pytest.fixture
def server(tls):
    made = []

    def make(body):
        h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body)
        made.append(h)
        return h
    yield make
    for h in made:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)


@pytest.mark.parametrize("line, said", [
    ("ApiAuthCache sometimes", "ApiAuthCache takes a number of seconds"),
    ("ApiAuthCache 0", "from 1 to 86400"),
    ("ApiAuthKeyFrom cookie=k", "ApiAuthKeyFrom takes header=NAME"),
    ("ApiAuthKeyFrom header=", "ApiAuthKeyFrom takes header=NAME"),
    ("ApiAuthJWT issuer=https://as.example colour=blue",
     "not 'colour=blue'"),
    ("ApiAuthJWT audience=x local", "'local' goes with issuer=URL"),
    ("ApiAuthJWT leeway=-1", "ApiAuthJWT takes a number of seconds"),
    ("ApiAuthJWT keys=/nonexistent.pem", "ApiAuthJWT keys:"),
    ("ApiAuthDPoP window=0", "ApiAuthDPoP takes nonce and window=SECONDS"),
    ("ApiAuthDPoP sometimes", "not 'sometimes'"),
])
def test_a_wrong_word_is_refused_at_start(server, line, said):
    h = server(location("/api", line))
    test = h.config_test()
    assert test.returncode != 0
    assert said in test.stderr, test.stderr


def test_jwt_provider_missing_a_part_of_apiauthjwt_does_not_start(server):
    h = server(location("/api", "ApiAuthProvider jwt",
                        "ApiAuthJWT issuer=https://as.example "
                        "audience=https://api.example", scheme="bearer"))
    test = h.config_test()
    assert test.returncode != 0
    assert "missing: keys=" in test.stderr, test.stderr


METADATA = "/.well-known/oauth-authorization-server"
ENDPOINTS = {"authorization_endpoint": "/auth/v2/authorize",
             "token_endpoint": "/auth/v2/token",
             "jwks_uri": "/.well-known/jwks.json",
             "introspection_endpoint": "/auth/v2/introspect",
             "revocation_endpoint": "/auth/v2/revoke"}


def test_metadata_finds_each_endpoint_where_its_handler_is(servers):
    """Each path written once, in its <Location>: no ApiAuthOAuthEndpoint."""
    o = servers.make(endpoints=False)
    m = o.get(METADATA).json()
    for name, path in ENDPOINTS.items():
        assert m[name] == o.issuer + path, (name, m)
    # and they are where it says
    assert o.get(ENDPOINTS["jwks_uri"]).json()["keys"]


def test_apiauthoauthendpoint_still_overrides(servers):
    """Behind a proxy that publishes another address, the operator says
    where: a URL as it is, a path joined to the issuer."""
    o = servers.make(endpoints=False, extra=(
        "ApiAuthOAuthEndpoint token https://login.example/token\n"
        "ApiAuthOAuthEndpoint revocation /elsewhere/revoke"))
    m = o.get(METADATA).json()
    assert m["token_endpoint"] == "https://login.example/token"
    assert m["revocation_endpoint"] == o.issuer + "/elsewhere/revoke"
    assert m["jwks_uri"] == o.issuer + "/.well-known/jwks.json"


def test_a_handler_set_nowhere_is_left_out_of_the_metadata(servers):
    o = servers.make(endpoints=False, extra="")
    o.httpd.stop()
    conf = o.httpd.conf.read_text().replace(
        "<Location /auth/v2/introspect>\n    SetHandler apiauth-introspect",
        "<Location /auth/v2/introspect>\n    SetHandler none")
    o.httpd.conf.write_text(conf)
    o.httpd.start()
    m = o.get(METADATA).json()
    assert "introspection_endpoint" not in m
    assert m["token_endpoint"] == o.issuer + "/auth/v2/token"
