"""The connection memo (mod_apiauth/apiauth_memo.c): a keep-alive
connection's previous credential, parsed and keyed, and the identity its
cache entry gave.  It may only ever save work: on one connection, another
credential, another location's schemes, a changed byte or a revocation is
seen exactly as on a fresh connection."""
import base64
import time

import pytest

from harness import env_of

TTL = 1

BODY = f"""
<Location /all>
    AuthType apiauth
    AuthName "all"
    ApiAuthCacheTTL {TTL}
    Require valid-user
</Location>
<Location /keys-only>
    AuthType apiauth
    AuthName "keys-only"
    ApiAuthScheme apikey
    Require valid-user
</Location>
<Location /uncached>
    AuthType apiauth
    AuthName "uncached"
    ApiAuthCache off
    Require valid-user
</Location>
"""


def basic(user, password=""):
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


PRESENTED = {
    "X-API-Key": lambda k: {"X-API-Key": k},
    "Token": lambda k: {"Authorization": f"Token {k}"},
    "Bearer": lambda k: {"Authorization": f"Bearer {k}"},
    "Basic": lambda k: {"Authorization": basic(k)},
}


class Env:
    pass


@pytest.fixture(scope="module")
def env(module_store, module_httpd):
    e = Env()
    e.store = module_store()
    e.store.app("shop")
    e.key1, e.id1 = e.store.key("shop")
    e.key2, e.id2 = e.store.key("shop")
    e.httpd = module_httpd(store=e.store, body=BODY)
    return e


def on_one_connection(env):
    s = env.httpd.session()
    s.headers["Connection"] = "keep-alive"
    return s


def get(env, s, path, headers):
    return s.get(env.httpd.url(path), headers=headers, timeout=30,
                 allow_redirects=False)


@pytest.mark.parametrize("how", PRESENTED)
def test_alternating_credentials_each_get_their_own_identity(env, how):
    with on_one_connection(env) as s:
        for _ in range(3):
            for key, cid in ((env.key1, env.id1), (env.key2, env.id2),
                             (env.key2, env.id2)):
                r = get(env, s, "/all/env", PRESENTED[how](key))
                assert r.status_code == 200, r.text
                assert env_of(r)["APIAUTH_CREDENTIAL_ID"] == cid


def test_a_header_is_read_again_where_its_scheme_is_not_accepted(env):
    headers = PRESENTED["Token"](env.key1)
    with on_one_connection(env) as s:
        assert get(env, s, "/all/hello", headers).status_code == 200
        r = get(env, s, "/keys-only/hello", headers)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
        assert get(env, s, "/all/hello", headers).status_code == 200


@pytest.mark.parametrize("how", PRESENTED)
def test_a_changed_byte_is_another_credential(env, how):
    changed = env.key1[:-1] + ("A" if env.key1[-1] != "A" else "B")
    with on_one_connection(env) as s:
        assert get(env, s, "/all/hello",
                   PRESENTED[how](env.key1)).status_code == 200
        r = get(env, s, "/all/hello", PRESENTED[how](changed))
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "invalid_token"


def test_a_basic_password_is_part_of_what_is_compared(env):
    with on_one_connection(env) as s:
        assert get(env, s, "/all/hello",
                   {"Authorization": basic(env.key1)}).status_code == 200
        r = get(env, s, "/all/hello",
                {"Authorization": basic(env.key1, "x")})
        assert r.status_code == 401
        assert r.json()["error_description"] == (
            "a key sent as the Basic user takes an empty password")


def test_a_revocation_reaches_an_open_connection(env):
    key, cid = env.store.key("shop")
    headers = PRESENTED["Bearer"](key)
    with on_one_connection(env) as s:
        assert get(env, s, "/all/hello", headers).status_code == 200
        assert get(env, s, "/uncached/hello", headers).status_code == 200
        env.store.revoke(cid)
        r = get(env, s, "/uncached/hello", headers)
        assert r.status_code == 401
        assert r.json()["error_description"] == (
            "the credential has been revoked")
        time.sleep(TTL + 0.2)
        r = get(env, s, "/all/hello", headers)
        assert r.status_code == 401
        assert r.json()["error_description"] == (
            "the credential has been revoked")
