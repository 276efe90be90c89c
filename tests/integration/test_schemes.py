"""Every way a client may present a key (DESIGN.md, "How each scheme is
resolved"), each accepted with a good key and refused with a wrong, an
expired, a revoked and a mistyped one.

One server serves the whole module: /keys accepts every key scheme (and
the query parameter), /default leaves ApiAuthScheme unset, /bearer-only
takes Bearer alone, /nolookup has a provider that cannot answer (its file
does not exist), so that only a refusal made before any lookup can be a
401 there.  The cache is off where a revocation must show at once."""
import base64
import time

import pytest

from harness import env_of, file_key, header_values, with_wrong_checksum

BODY = """
<Location /keys>
    AuthType apiauth
    AuthName "keys"
    ApiAuthScheme apikey token basic bearer
    ApiAuthKeyQuery api_key
    ApiAuthCache off
    Require valid-user
</Location>
<Location /default>
    AuthType apiauth
    AuthName "default"
    ApiAuthCache off
    Require valid-user
</Location>
<Location /bearer-only>
    AuthType apiauth
    AuthName "bearer-only"
    ApiAuthScheme bearer
    ApiAuthCache off
    Require valid-user
</Location>
<Location /nolookup>
    AuthType apiauth
    AuthName "nolookup"
    ApiAuthScheme apikey token basic bearer
    ApiAuthKeyQuery api_key
    ApiAuthProvider file
    ApiAuthCredentialFile "%(missing)s"
    ApiAuthCache off
    Require valid-user
</Location>
"""

NOT_KNOWN = {"error": "invalid_token",
             "error_description": "the credential is not known"}
EXPIRED = {"error": "invalid_token",
           "error_description": "the credential has expired"}
REVOKED = {"error": "invalid_token",
           "error_description": "the credential has been revoked"}
BAD_CHECKSUM = {"error": "invalid_token",
                "error_description": "the key's checksum is wrong "
                                     "(mistyped or truncated?)"}


def basic(user, password):
    return "Basic " + base64.b64encode(
        f"{user}:{password}".encode()).decode()


# How each scheme carries a key: name -> (request arguments, the
# challenge scheme that answers it, APIAUTH_SCHEME on success).
PRESENTED = {
    "apikey-header": (lambda key, app: {"headers": {"X-API-Key": key}},
                      "ApiKey", "apikey"),
    "apikey-query": (lambda key, app: {"params": {"api_key": key}},
                     "ApiKey", "apikey"),
    "token": (
        lambda key, app: {"headers": {"Authorization": "Token " + key}},
        "Token", "token"),
    "basic-key-empty-password": (
        lambda key, app: {"headers": {"Authorization": basic(key, "")}},
        "Basic", "basic"),
    "basic-app-id-and-key": (
        lambda key, app: {"headers": {"Authorization": basic(app, key)}},
        "Basic", "basic"),
    "bearer": (
        lambda key, app: {"headers": {"Authorization": "Bearer " + key}},
        "Bearer", "bearer"),
    "bearer-lower-case": (
        lambda key, app: {"headers": {"Authorization": "bearer " + key}},
        "Bearer", "bearer"),
}


def keys_challenges(presented=None, body=None, realm="keys"):
    """What /keys (and /nolookup) answer in WWW-Authenticate: one challenge
    per scheme in ApiAuthScheme order, the error on the presented one."""
    out = []
    for scheme in ("ApiKey", "Token", "Basic", "Bearer"):
        c = f'{scheme} realm="{realm}"'
        if scheme == presented:
            c += (f', error="{body["error"]}", '
                  f'error_description="{body["error_description"]}"')
        if scheme == "ApiKey":
            c += ', header="X-API-Key", query="api_key"'
        out.append(c)
    return out


class Keys:
    pass


@pytest.fixture(scope="module")
def env(module_store, module_httpd, tmp_path_factory):
    store = module_store()
    k = Keys()
    k.app = store.app("shop")
    k.other_app = store.app("elsewhere")
    k.good, k.good_id = store.key("shop")
    k.revoked, k.revoked_id = store.key("shop")
    store.revoke(k.revoked_id)
    k.expiring, k.expiring_id = store.key("shop", "--expires", "1s")
    k.expired_after = time.time() + 2.1
    k.other, _ = store.key("elsewhere")
    store.user("alice", "--app", "shop")
    k.user_token, _ = store.key("shop", "--kind", "token", "--user", "alice")
    # a key of the right shape that this store has never seen
    scratch = tmp_path_factory.mktemp("scratch") / "credentials"
    k.unknown, _ = file_key(scratch, k.app)
    missing = tmp_path_factory.mktemp("nofile") / "absent" / "credentials"
    k.httpd = module_httpd(store=store, body=BODY % {"missing": missing})
    k.store = store
    return k


def wait_until_expired(env):
    delay = env.expired_after - time.time()
    if delay > 0:
        time.sleep(delay)


def assert_refused(r, body, presented, realm="keys"):
    assert r.status_code == 401, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == body
    assert header_values(r, "WWW-Authenticate") == keys_challenges(
        presented, body, realm)


@pytest.mark.parametrize("how", PRESENTED)
def test_good_key_is_accepted(env, how):
    make, _, scheme = PRESENTED[how]
    r = env.httpd.get("/keys/env", **make(env.good, env.app))
    assert r.status_code == 200, r.text
    seen = env_of(r)
    assert seen["REMOTE_USER"] == env.app
    assert seen["APIAUTH_CREDENTIAL_ID"] == env.good_id
    assert seen["APIAUTH_SCHEME"] == scheme


@pytest.mark.parametrize("how", PRESENTED)
def test_unknown_key_is_refused(env, how):
    make, presented, _ = PRESENTED[how]
    r = env.httpd.get("/keys/env", **make(env.unknown, env.app))
    assert_refused(r, NOT_KNOWN, presented)


@pytest.mark.parametrize("how", PRESENTED)
def test_revoked_key_is_refused(env, how):
    make, presented, _ = PRESENTED[how]
    r = env.httpd.get("/keys/env", **make(env.revoked, env.app))
    assert_refused(r, REVOKED, presented)


@pytest.mark.parametrize("how", PRESENTED)
def test_expired_key_is_refused(env, how):
    wait_until_expired(env)
    make, presented, _ = PRESENTED[how]
    r = env.httpd.get("/keys/env", **make(env.expiring, env.app))
    assert_refused(r, EXPIRED, presented)


@pytest.mark.parametrize("how", PRESENTED)
def test_key_with_wrong_checksum_is_refused_before_any_lookup(env, how):
    # /nolookup cannot look anything up (503, next test): a 401 there
    # means the key was judged by its checksum alone
    make, presented, _ = PRESENTED[how]
    r = env.httpd.get("/nolookup/env",
                      **make(with_wrong_checksum(env.good), env.app))
    assert_refused(r, BAD_CHECKSUM, presented, realm="nolookup")


def test_well_formed_key_is_looked_up_where_mistyped_one_is_not(env):
    r = env.httpd.get("/nolookup/env", headers={"X-API-Key": env.good})
    assert r.status_code == 503
    assert r.json() == {"error": "temporarily_unavailable",
                        "error_description":
                            "the credential store is unreachable"}


def test_key_in_query_is_ignored_without_api_key_query(env):
    r = env.httpd.get("/default/env", params={"api_key": env.good})
    assert r.status_code == 401
    assert r.json() == {"error": "unauthorized",
                        "error_description": "authentication is required"}
    assert 'error=' not in r.headers["WWW-Authenticate"]


def test_empty_query_key_beside_a_header_is_no_second_credential(env):
    """DESIGN: a parameter without a value counts as absent (RFC 6749
    §3.1), so ?api_key= next to X-API-Key is one credential, not two."""
    for query in ("api_key=", "api_key", "api_key=&x=1"):
        r = env.httpd.get("/keys/env?" + query,
                          headers={"X-API-Key": env.good})
        assert r.status_code == 200, (query, r.text)
        assert env_of(r)["APIAUTH_SCHEME"] == "apikey"
    # alone it is no credential at all: the challenges, not a 400
    r = env.httpd.get("/keys/env?api_key=")
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorized"
    # two with values are two
    r = env.httpd.get("/keys/env", params={"api_key": env.good},
                      headers={"X-API-Key": env.good})
    assert r.status_code == 400, r.text


def test_app_id_with_a_key_of_another_app_is_refused(env):
    r = env.httpd.get("/keys/env",
                      headers={"Authorization": basic(env.app, env.other)})
    assert_refused(r, {"error": "invalid_token",
                       "error_description":
                           "the key is not an API key of this app"}, "Basic")


def test_app_id_with_a_user_token_is_refused(env):
    # Twake's form takes the app's api_key keys only
    r = env.httpd.get("/keys/env",
                      headers={"Authorization": basic(env.app,
                                                      env.user_token)})
    assert_refused(r, {"error": "invalid_token",
                       "error_description":
                           "the key is not an API key of this app"}, "Basic")


def test_app_id_with_empty_password_is_refused(env):
    r = env.httpd.get("/keys/env", headers={"Authorization": basic(env.app,
                                                                   "")})
    assert_refused(r, {"error": "invalid_token",
                       "error_description": "an app id needs one of its "
                                            "keys as the password"}, "Basic")


def test_key_as_basic_user_takes_no_password(env):
    r = env.httpd.get("/keys/env",
                      headers={"Authorization": basic(env.good, "x")})
    assert_refused(r, {"error": "invalid_token",
                       "error_description": "a key sent as the Basic user "
                                            "takes an empty password"},
                   "Basic")


def test_key_as_bearer_is_refused_where_only_bearer_is_accepted(env):
    r = env.httpd.get("/bearer-only/env",
                      headers={"Authorization": "Bearer " + env.good})
    body = {"error": "invalid_token",
            "error_description": "this location takes OAuth access tokens "
                                 "as Bearer credentials"}
    assert r.status_code == 401
    assert r.json() == body
    assert header_values(r, "WWW-Authenticate") == [
        'Bearer realm="bearer-only", error="invalid_token", '
        f'error_description="{body["error_description"]}"']


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
def test_key_of_a_scheme_not_accepted_here_is_ignored(env, header):
    value = env.good if header == "X-API-Key" else "Token " + env.good
    r = env.httpd.get("/bearer-only/env", headers={header: value})
    assert r.status_code == 401
    assert r.json() == {"error": "unauthorized",
                        "error_description": "authentication is required"}
    assert header_values(r, "WWW-Authenticate") == [
        'Bearer realm="bearer-only"']


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", "BEARER "])
def test_key_as_bearer_is_accepted_with_the_default_schemes(env, prefix):
    # the default ApiAuthScheme (bearer apikey token basic) accepts keys,
    # so a key may come as a Bearer credential too
    r = env.httpd.get("/default/env",
                      headers={"Authorization": prefix + env.good})
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_SCHEME"] == "bearer"


def test_user_token_is_accepted_by_token_scheme(env):
    r = env.httpd.get("/keys/env",
                      headers={"Authorization": "Token " + env.user_token})
    assert r.status_code == 200
    seen = env_of(r)
    assert seen["REMOTE_USER"] == "alice"
    assert seen["APIAUTH_KIND"] == "token"
