"""What the application behind mod_apiauth learns, and what it must not:
r->user and the APIAUTH_* variables after success; neither the key header
nor the Authorization header nor a query key (unless the operator keeps
the credential); never an X-ApiAuth-* header a client made up; and with
ApiAuthForwardHeaders the identity as X-ApiAuth-* headers at a proxied
backend."""
import base64
import time

import pytest

from harness import EchoBackend, env_of

BODY = """
<Location /id>
    AuthType apiauth
    AuthName "id"
    ApiAuthKeyQuery api_key
    CGIPassAuth On
    Require valid-user
</Location>
<Location /keep>
    AuthType apiauth
    AuthName "keep"
    ApiAuthKeyQuery api_key
    ApiAuthKeepCredential on
    CGIPassAuth On
    Require valid-user
</Location>
<Location /open>
    CGIPassAuth On
</Location>
<Location /fwd>
    AuthType apiauth
    AuthName "fwd"
    ApiAuthKeyQuery api_key
    ApiAuthForwardHeaders on
    Require valid-user
    ProxyPass "%(echo)s/backend"
</Location>
<Location /fwd-cgi>
    AuthType apiauth
    AuthName "fwd-cgi"
    ApiAuthForwardHeaders on
    Require valid-user
</Location>
<Location /nofwd>
    AuthType apiauth
    AuthName "nofwd"
    Require valid-user
    ProxyPass "%(echo)s/backend"
</Location>
"""

SPOOFED = {"X-ApiAuth-App": "app_evil", "x-apiauth-user": "root",
           "X-APIAUTH-KIND": "backend", "X-ApiAuth-Scope": "admin"}


class Env:
    pass


@pytest.fixture(scope="module")
def echo():
    backend = EchoBackend().start()
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def env(module_store, module_httpd, echo):
    store = module_store()
    e = Env()
    e.store = store
    e.app = store.app("shop")
    e.key, e.key_id = store.key("shop", "--scope", "orders.read",
                                "--scope", "orders.write", "--expires", "1h")
    e.expires = store.sql("SELECT expires FROM apiauth_credentials "
                          f"WHERE id = '{e.key_id}'")
    e.forever, e.forever_id = store.key("shop")
    # the key ApiAuthKeepCredential leaves in the query for the backend
    e.kept, _ = store.key("shop")
    store.user("alice", "--app", "shop")
    e.token, e.token_id = store.key("shop", "--kind", "token",
                                    "--user", "alice", "--scope", "me")
    e.httpd = module_httpd(store=store, body=BODY % {"echo": echo.url()},
                           modules=("proxy", "proxy_http"))
    return e


def apiauth_vars(seen):
    return {k: v for k, v in seen.items() if k.startswith("APIAUTH_")}


# -- the identity ---------------------------------------------------------

def test_app_key_identity_reaches_the_application(env):
    r = env.httpd.get("/id/env", headers={"X-API-Key": env.key})
    assert r.status_code == 200
    seen = env_of(r)
    assert seen["REMOTE_USER"] == env.app
    assert seen["AUTH_TYPE"] == "apiauth"
    assert apiauth_vars(seen) == {
        "APIAUTH_APP": env.app,
        "APIAUTH_KIND": "api_key",
        "APIAUTH_SCHEME": "apikey",
        "APIAUTH_SCOPE": "orders.read orders.write",
        "APIAUTH_CREDENTIAL_ID": env.key_id,
        "APIAUTH_EXPIRES": env.expires,
    }
    assert abs(int(env.expires) - (time.time() + 3600)) < 60


def test_key_that_never_expires_shows_expires_0(env):
    r = env.httpd.get("/id/env",
                      headers={"Authorization": "Bearer " + env.forever})
    seen = env_of(r)
    assert seen["APIAUTH_EXPIRES"] == "0"
    assert seen["APIAUTH_SCOPE"] == ""
    assert seen["APIAUTH_SCHEME"] == "bearer"


def test_user_token_identity_is_its_user(env):
    r = env.httpd.get("/id/env",
                      headers={"Authorization": "Token " + env.token})
    assert r.status_code == 200
    seen = env_of(r)
    assert seen["REMOTE_USER"] == "alice"
    assert apiauth_vars(seen) == {
        "APIAUTH_APP": env.app,
        "APIAUTH_USER": "alice",
        "APIAUTH_KIND": "token",
        "APIAUTH_SCHEME": "token",
        "APIAUTH_SCOPE": "me",
        "APIAUTH_CREDENTIAL_ID": env.token_id,
        "APIAUTH_EXPIRES": "0",
    }


def test_twake_basic_identity_is_the_app(env):
    pair = base64.b64encode(f"{env.app}:{env.forever}".encode()).decode()
    r = env.httpd.get("/id/env", headers={"Authorization": "Basic " + pair})
    seen = env_of(r)
    assert seen["REMOTE_USER"] == env.app
    assert seen["APIAUTH_SCHEME"] == "basic"
    assert seen["APIAUTH_CREDENTIAL_ID"] == env.forever_id


# -- the credential does not go on ----------------------------------------

def test_key_header_is_not_passed_to_the_application(env):
    r = env.httpd.get("/id/env", headers={"X-API-Key": env.key})
    assert r.status_code == 200
    assert "HTTP_X_API_KEY" not in env_of(r)


def test_cgi_pass_auth_shows_authorization_where_nothing_removes_it(env):
    # the control for the next test: CGIPassAuth works on this server
    r = env.httpd.get("/open/env", headers={"Authorization": "Custom abc"})
    assert env_of(r)["HTTP_AUTHORIZATION"] == "Custom abc"


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_authorization_is_not_passed_on_even_with_cgi_pass_auth(env, scheme):
    r = env.httpd.get("/id/env",
                      headers={"Authorization": f"{scheme} {env.key}"})
    assert r.status_code == 200
    assert "HTTP_AUTHORIZATION" not in env_of(r)


def test_keep_credential_leaves_authorization(env):
    r = env.httpd.get("/keep/env",
                      headers={"Authorization": "Token " + env.key})
    assert r.status_code == 200
    assert env_of(r)["HTTP_AUTHORIZATION"] == "Token " + env.key


def test_keep_credential_leaves_key_header(env):
    r = env.httpd.get("/keep/env", headers={"X-API-Key": env.key})
    assert r.status_code == 200
    assert env_of(r)["HTTP_X_API_KEY"] == env.key


def test_keep_credential_leaves_query_key(env):
    r = env.httpd.get(f"/keep/env?api_key={env.kept}&page=2")
    assert r.status_code == 200
    assert env_of(r)["QUERY_STRING"] == f"api_key={env.kept}&page=2"
    # the backend got the key; the access log (%r and %q) did not
    log = env.httpd.wait_for_access_log("/keep/env?api_key=***&page=2")
    assert env.kept not in log
    assert '"/keep/env?api_key=***&page=2 ' in log.replace("GET ", "")
    assert '"?api_key=***&page=2"' in log


def test_query_key_is_removed_from_query_string(env):
    r = env.httpd.get(f"/id/env?a=1&api_key={env.key}&b=two%20words")
    assert r.status_code == 200
    assert env_of(r)["QUERY_STRING"] == "a=1&b=two%20words"


def test_query_holding_only_the_key_becomes_empty(env):
    r = env.httpd.get(f"/id/env?api_key={env.key}")
    assert r.status_code == 200
    assert env_of(r)["QUERY_STRING"] == ""


def test_query_key_is_masked_in_access_log(env):
    marker = f"masked{time.time_ns()}"
    r = env.httpd.get(f"/id/env?{marker}=1&api_key={env.key}&z=9")
    assert r.status_code == 200
    log = env.httpd.wait_for_access_log(marker)
    line = [x for x in log.splitlines() if marker in x]
    assert line == [f'127.0.0.1 {env.app} "GET /id/env?{marker}=1&api_key=***'
                    f'&z=9 HTTP/1.1" 200 {len(r.content)} "?{marker}=1&z=9"']
    assert env.key not in log


def test_query_key_is_removed_before_proxying(env, echo):
    r = env.httpd.get(f"/fwd/x?api_key={env.key}&keep=1")
    assert r.status_code == 200
    assert env_of(r)["REQUEST_URI"] == "/backend/x?keep=1"


# -- X-ApiAuth-* ----------------------------------------------------------

@pytest.mark.parametrize("path", ["/id/env", "/open/env"])
def test_spoofed_identity_headers_never_reach_the_application(env, path):
    headers = dict(SPOOFED)
    headers["X-API-Key"] = env.key
    r = env.httpd.get(path, headers=headers)
    assert r.status_code == 200
    seen = env_of(r)
    assert [k for k in seen if k.startswith("HTTP_X_APIAUTH_")] == []
    if path == "/id/env":
        assert seen["APIAUTH_APP"] == env.app


def test_spoofed_headers_are_replaced_where_identity_is_forwarded(env):
    headers = dict(SPOOFED)
    headers["X-API-Key"] = env.key
    r = env.httpd.get("/fwd-cgi/env", headers=headers)
    assert r.status_code == 200
    seen = env_of(r)
    assert seen["HTTP_X_APIAUTH_APP"] == env.app
    assert seen["HTTP_X_APIAUTH_KIND"] == "api_key"
    assert seen["HTTP_X_APIAUTH_SCOPE"] == "orders.read orders.write"
    assert "HTTP_X_APIAUTH_USER" not in seen


def test_forward_headers_carry_the_identity_to_a_proxied_backend(env, echo):
    r = env.httpd.get("/fwd/orders",
                      headers={"Authorization": "Token " + env.token})
    assert r.status_code == 200
    seen = env_of(r)
    assert seen["REQUEST_URI"] == "/backend/orders"
    assert {k: v for k, v in seen.items()
            if k.startswith("HTTP_X_APIAUTH_")} == {
        "HTTP_X_APIAUTH_APP": env.app,
        "HTTP_X_APIAUTH_USER": "alice",
        "HTTP_X_APIAUTH_KIND": "token",
        "HTTP_X_APIAUTH_SCHEME": "token",
        "HTTP_X_APIAUTH_SCOPE": "me",
        "HTTP_X_APIAUTH_CREDENTIAL_ID": env.token_id,
        "HTTP_X_APIAUTH_EXPIRES": "0",
    }
    assert "HTTP_AUTHORIZATION" not in seen


def test_forward_headers_replace_spoofed_ones(env, echo):
    headers = dict(SPOOFED)
    headers["X-API-Key"] = env.key
    r = env.httpd.get("/fwd/orders", headers=headers)
    assert r.status_code == 200
    seen = env_of(r)
    assert seen["HTTP_X_APIAUTH_APP"] == env.app
    assert seen["HTTP_X_APIAUTH_KIND"] == "api_key"
    assert seen["HTTP_X_APIAUTH_SCOPE"] == "orders.read orders.write"
    assert "HTTP_X_APIAUTH_USER" not in seen
    assert "HTTP_X_API_KEY" not in seen


def test_without_forward_headers_the_backend_gets_no_identity(env, echo):
    headers = dict(SPOOFED)
    headers["X-API-Key"] = env.key
    r = env.httpd.get("/nofwd/orders", headers=headers)
    assert r.status_code == 200
    seen = env_of(r)
    assert seen["REQUEST_URI"] == "/backend/orders"
    assert [k for k in seen if k.startswith("HTTP_X_APIAUTH_")] == []
    assert "HTTP_X_API_KEY" not in seen
