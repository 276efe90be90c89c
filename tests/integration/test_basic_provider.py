"""AuthType Basic with AuthBasicProvider apiauth: Twake's
public_id:private_api_key only, because mod_auth_basic treats the user
part as a name to log; every form that puts a secret there is refused."""
import base64

import pytest

from harness import env_of, header_values

BODY = """
<Location /twake>
    AuthType Basic
    AuthName "twake"
    AuthBasicProvider apiauth
    ApiAuthCache off
    Require valid-user
</Location>
<Location /twake-scope-messages>
    AuthType Basic
    AuthName "twake"
    AuthBasicProvider apiauth
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope messages
</Location>
<Location /twake-scope-admin>
    AuthType Basic
    AuthName "twake"
    AuthBasicProvider apiauth
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope admin
</Location>
<Location /twake-dev>
    AuthType Basic
    AuthName "twake"
    AuthBasicProvider apiauth
    ApiAuthRequireTLS off
    Require valid-user
</Location>
"""


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(
        f"{user}:{password}".encode()).decode()}


class Env:
    pass


@pytest.fixture(scope="module")
def env(module_store, module_httpd):
    store = module_store()
    e = Env()
    e.store = store
    e.app = store.app("twake-app")
    e.other_app = store.app("other")
    e.key, e.key_id = store.key("twake-app", "--scope", "messages")
    e.other_key, _ = store.key("other")
    e.httpd = module_httpd(store=store, body=BODY)
    return e


def assert_basic_refusal(r):
    assert r.status_code == 401
    assert header_values(r, "WWW-Authenticate") == ['Basic realm="twake"']


def test_app_id_and_its_key_are_accepted(env):
    r = env.httpd.get("/twake/env", headers=basic(env.app, env.key))
    assert r.status_code == 200, r.text
    seen = env_of(r)
    assert seen["REMOTE_USER"] == env.app
    assert seen["AUTH_TYPE"] == "Basic"
    assert seen["APIAUTH_APP"] == env.app
    assert seen["APIAUTH_KIND"] == "api_key"
    assert seen["APIAUTH_SCHEME"] == "basic"
    assert seen["APIAUTH_SCOPE"] == "messages"
    assert seen["APIAUTH_CREDENTIAL_ID"] == env.key_id


def test_key_as_user_with_empty_password_is_refused(env):
    r = env.httpd.get("/twake/env", headers=basic(env.key, ""))
    assert_basic_refusal(r)


@pytest.mark.parametrize("kind", ["api_key", "app_token", "backend"])
def test_a_secret_sent_as_the_user_reaches_no_log(env, kind):
    """mod_auth_basic logs the user part of a refused pair (AH01617) and
    leaves it in r->user (%u): a secret sent there is masked before
    either sees it."""
    secret, _ = env.store.key("twake-app", "--kind", kind)
    assert_basic_refusal(env.httpd.get("/twake/env",
                                       headers=basic(secret, "alice")))
    line = env.httpd.wait_for_access_log('"GET /twake/env')
    assert secret not in env.httpd.error_log()
    assert secret not in env.httpd.access_log()
    assert "AH01617: user ***: authentication failure" in \
        env.httpd.error_log()
    assert " *** \"GET /twake/env" in env.httpd.access_log(), line


def test_app_id_with_a_wrong_key_is_refused(env):
    r = env.httpd.get("/twake/env", headers=basic(env.app, env.other_key))
    assert_basic_refusal(r)


def test_app_id_with_an_unknown_key_is_refused(env):
    r = env.httpd.get("/twake/env", headers=basic(env.app, "not-a-key"))
    assert_basic_refusal(r)


def test_app_id_with_a_revoked_key_is_refused(env):
    key, key_id = env.store.key("twake-app")
    assert env.httpd.get("/twake/env",
                         headers=basic(env.app, key)).status_code == 200
    env.store.revoke(key_id)
    assert_basic_refusal(env.httpd.get("/twake/env",
                                       headers=basic(env.app, key)))


def test_plain_http_is_refused_where_tls_is_required(env):
    r = env.httpd.get("/twake/env", tls=False,
                      headers=basic(env.app, env.key))
    assert_basic_refusal(r)


def test_plain_http_is_accepted_with_require_tls_off(env):
    r = env.httpd.get("/twake-dev/env", tls=False,
                      headers=basic(env.app, env.key))
    assert r.status_code == 200
    assert env_of(r)["REMOTE_USER"] == env.app


@pytest.mark.parametrize("scope, status", [("messages", 200),
                                           ("admin", 403)])
def test_require_apiauth_scope_applies_under_auth_basic(env, scope, status):
    r = env.httpd.get(f"/twake-scope-{scope}/env",
                      headers=basic(env.app, env.key))
    assert r.status_code == status, r.text
    if status == 403:
        assert r.headers["Content-Type"] == "application/json"
        assert r.json() == {"error": "insufficient_scope",
                            "error_description": "the credential lacks a "
                                                 "scope this resource "
                                                 "requires"}
        assert header_values(r, "WWW-Authenticate") == [
            'Basic realm="twake", error="insufficient_scope", '
            'error_description="the credential lacks a scope this resource '
            'requires", scope="admin"']


def test_store_failure_is_httpds_500(new_store, httpd_factory, tmp_path):
    # DESIGN.md: under mod_auth_basic a store failure is its 500, not 503
    class Nowhere:
        def httpd_conf(self):
            return (f'DBDriver sqlite3\n'
                    f'DBDParams "{tmp_path}/absent/apiauth.db"\n')
    store = new_store()
    app = store.app("x")
    key, _ = store.key("x")
    httpd = httpd_factory(store=Nowhere(), body=BODY)
    r = httpd.get("/twake/env", headers=basic(app, key))
    assert r.status_code == 500
    assert httpd.is_serving()
