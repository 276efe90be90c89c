"""How mod_apiauth says no (DESIGN.md, "Responses"): 401 with challenges
when nothing usable was sent, 400 invalid_request for anything malformed
or doubled (and never 200 or 500, and the server keeps serving), 403 for a
valid credential that Require does not admit, each next to the request
that succeeds.  Every error body is JSON and not to be cached."""
import base64

import pytest

from harness import env_of, header_values

BODY = """
<Location /all>
    AuthType apiauth
    AuthName "refusals realm"
    ApiAuthScheme apikey token basic bearer
    ApiAuthKeyQuery api_key
    AuthzSendForbiddenOnFailure On
    Require valid-user
</Location>
<Location /reordered>
    AuthType apiauth
    AuthName "second"
    ApiAuthScheme bearer basic
    Require valid-user
</Location>
<Location /scoped>
    AuthType apiauth
    AuthName "scoped"
    ApiAuthScheme bearer apikey
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.store orders.read
</Location>
<Location /scoped-401>
    AuthType apiauth
    AuthName "scoped"
    ApiAuthScheme bearer apikey
    Require apiauth-scope integration.store orders.read
</Location>
<Location /shop-only>
    AuthType apiauth
    AuthName "apps"
    AuthzSendForbiddenOnFailure On
    Require apiauth-app %(shop)s
</Location>
<Location /user-tokens-only>
    AuthType apiauth
    AuthName "kinds"
    AuthzSendForbiddenOnFailure On
    Require apiauth-kind token
</Location>
<Location /scope-or-app>
    AuthType apiauth
    AuthName "either"
    ApiAuthScheme apikey
    AuthzSendForbiddenOnFailure On
    <RequireAny>
        Require apiauth-scope integration.store
        Require apiauth-app %(shop)s
    </RequireAny>
</Location>
"""

ALL_CHALLENGES = [
    'ApiKey realm="refusals realm", header="X-API-Key", query="api_key"',
    'Token realm="refusals realm"',
    'Basic realm="refusals realm"',
    'Bearer realm="refusals realm"',
]


class Env:
    pass


@pytest.fixture(scope="module")
def env(module_store, module_httpd):
    store = module_store()
    e = Env()
    e.shop = store.app("shop")
    e.other = store.app("other")
    e.key, e.key_id = store.key("shop")
    e.scoped, e.scoped_id = store.key("shop", "--scope", "integration.store",
                                      "--scope", "orders.read")
    e.half_scoped, e.half_scoped_id = store.key(
        "shop", "--scope", "integration.store")
    e.other_key, e.other_key_id = store.key("other")
    e.other_scoped, _ = store.key("other", "--scope", "integration.store")
    store.user("bob", "--app", "shop")
    e.user_token, _ = store.key("shop", "--kind", "token", "--user", "bob")
    e.httpd = module_httpd(store=store, body=BODY % {"shop": e.shop})
    return e


def b64(text):
    return base64.b64encode(text.encode()).decode()


def assert_json_error(r, status, body):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.json() == body


def invalid_request(description):
    return {"error": "invalid_request", "error_description": description}


# RFC 6750 §3.1: no error code when no credential came; the body says why
NO_CREDENTIAL = {"error": "unauthorized",
                 "error_description": "authentication is required"}


# -- no credential ------------------------------------------------------

def test_no_credential_gets_one_challenge_per_scheme_in_order(env):
    r = env.httpd.get("/all/env")
    assert_json_error(r, 401, NO_CREDENTIAL)
    assert header_values(r, "WWW-Authenticate") == ALL_CHALLENGES


def test_challenges_follow_this_locations_scheme_order(env):
    r = env.httpd.get("/reordered/env")
    assert r.status_code == 401
    assert header_values(r, "WWW-Authenticate") == [
        'Bearer realm="second"', 'Basic realm="second"']


def test_unknown_authorization_scheme_counts_as_no_credential(env):
    r = env.httpd.get("/all/env", headers={"Authorization": "Digest abc"})
    assert_json_error(r, 401, NO_CREDENTIAL)
    assert header_values(r, "WWW-Authenticate") == ALL_CHALLENGES


def test_every_scheme_succeeds_on_the_location_that_refuses_malformed(env):
    for headers, params in (({"X-API-Key": env.key}, None),
                            (None, {"api_key": env.key}),
                            ({"Authorization": "Token " + env.key}, None),
                            ({"Authorization": "Basic " + b64(env.key + ":")},
                             None),
                            ({"Authorization": "Bearer " + env.key}, None)):
        r = env.httpd.get("/all/env", headers=headers, params=params)
        assert r.status_code == 200, (headers, params, r.text)
        assert env_of(r)["APIAUTH_CREDENTIAL_ID"] == env.key_id


# -- malformed: 400 -----------------------------------------------------

MALFORMED = {
    "empty-authorization": (
        {"Authorization": ""}, "the Authorization header is empty"),
    "bearer-without-token": (
        {"Authorization": "Bearer"},
        "the Authorization header has a scheme but no credentials"),
    "token-without-key": (
        {"Authorization": "Token   "},
        "the Authorization header has a scheme but no credentials"),
    "basic-not-base64": (
        {"Authorization": "Basic %%%%"},
        "the Authorization credentials are malformed (two credentials, or "
        "characters outside token68)"),
    "basic-bad-base64-padding": (
        {"Authorization": "Basic a==="},
        "Basic credentials are not valid base64"),
    "basic-without-colon": (
        {"Authorization": "Basic " + b64("aak_nocolonhere")},
        "Basic credentials lack the ':' separator"),
    "basic-empty-user": (
        {"Authorization": "Basic " + b64(":secret")},
        "Basic credentials have an empty user part"),
    "two-tokens-in-authorization": (
        {"Authorization": "Bearer abc def"},
        "the Authorization credentials are malformed (two credentials, or "
        "characters outside token68)"),
    "huge-token": (
        {"Authorization": "Token " + "a" * 7000},
        "the Token credential is too long"),
    "huge-bearer": (
        {"Authorization": "Bearer " + "a" * 7000},
        "the Bearer credential is too long"),
    "huge-api-key": (
        {"X-API-Key": "a" * 7000}, "the API key is empty or malformed"),
    "empty-api-key": (
        {"X-API-Key": ""}, "the API key is empty or malformed"),
    "bearer-and-api-key": (
        {"Authorization": "Bearer abc", "X-API-Key": "abc"},
        "more than one credential in the request"),
    "token-and-api-key": (
        {"Authorization": "Token abc", "X-API-Key": "abc"},
        "more than one credential in the request"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_credential_is_400_invalid_request(env, case):
    headers, description = MALFORMED[case]
    r = env.httpd.get("/all/env", headers=headers)
    assert_json_error(r, 400, invalid_request(description))
    assert env.httpd.is_serving()


def test_key_in_header_and_in_query_is_400(env):
    r = env.httpd.get("/all/env", headers={"X-API-Key": env.key},
                      params={"api_key": env.key})
    assert_json_error(r, 400, invalid_request(
        "more than one credential in the request"))


def test_repeated_query_key_is_400(env):
    r = env.httpd.get(f"/all/env?api_key={env.key}&api_key={env.key}")
    assert_json_error(r, 400, invalid_request(
        "the API key parameter is repeated"))


def test_undecodable_query_key_is_400(env):
    # sent raw: requests would re-quote the broken escape
    r = raw_get(env, "/all/env?api_key=%zz", [])
    assert r.status_code == 400
    assert r.header("Content-Type") == "application/json"
    assert r.json() == invalid_request(
        "a credential in the query string is not decodable")


def test_two_credentials_are_400_even_when_both_are_valid(env):
    r = env.httpd.get("/all/env", headers={
        "Authorization": "Bearer " + env.key, "X-API-Key": env.key})
    assert_json_error(r, 400, invalid_request(
        "more than one credential in the request"))


def test_400_carries_the_challenges_with_the_error_on_bearer(env):
    r = env.httpd.get("/all/env", headers={"Authorization": "Bearer"})
    assert r.status_code == 400
    error = ('error="invalid_request", error_description="the Authorization '
             'header has a scheme but no credentials"')
    assert header_values(r, "WWW-Authenticate") == ALL_CHALLENGES[:3] + [
        'Bearer realm="refusals realm", ' + error]


def test_header_beyond_httpds_limit_is_refused_by_httpd(env):
    # LimitRequestFieldSize (8190) stops this before any module sees it
    r = env.httpd.get("/all/env",
                      headers={"Authorization": "Bearer " + "a" * 20000})
    assert r.status_code == 400
    assert env.httpd.is_serving()


def raw_get(env, path, header_lines):
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Connection: close\r\n").encode()
    for line in header_lines:
        request += line + b"\r\n"
    return env.httpd.raw(request + b"\r\n")


@pytest.mark.parametrize("line", [
    b"Authorization: Bearer aak_\xc3\xa9\xc3\xa8",
    b"Authorization: Token \xff\xfe\xfd",
    b"Authorization: Basic \x80\x81",
    b"X-API-Key: aak_\xe2\x82\xac\xe2\x82\xac",
])
def test_non_ascii_bytes_in_credential_are_400(env, line):
    r = raw_get(env, "/all/env", [line])
    assert r.status_code == 400
    assert r.header("Content-Type") == "application/json"
    assert r.header("Cache-Control") == "no-store"
    assert r.json()["error"] == "invalid_request"
    assert env.httpd.is_serving()


def test_non_ascii_basic_user_is_400(env):
    user_pass = base64.b64encode("k\u00e9y:".encode()).decode()
    r = env.httpd.get("/all/env",
                      headers={"Authorization": "Basic " + user_pass})
    assert_json_error(r, 400, invalid_request(
        "Basic credentials must be printable ASCII"))


# -- scope: 403 insufficient_scope ----------------------------------------

def insufficient_scope_body():
    return {"error": "insufficient_scope",
            "error_description": "the credential lacks a scope this "
                                 "resource requires"}


def test_key_with_every_required_scope_is_admitted(env):
    r = env.httpd.get("/scoped/env", headers={"X-API-Key": env.scoped})
    assert r.status_code == 200
    assert env_of(r)["APIAUTH_SCOPE"] == "integration.store orders.read"


@pytest.mark.parametrize("scheme, challenge", [
    ("Bearer", "Bearer"), ("X-API-Key", "ApiKey")])
def test_missing_scope_is_403_insufficient_scope(env, scheme, challenge):
    headers = ({"X-API-Key": env.half_scoped} if scheme == "X-API-Key"
               else {"Authorization": "Bearer " + env.half_scoped})
    r = env.httpd.get("/scoped/env", headers=headers)
    assert_json_error(r, 403, insufficient_scope_body())
    assert header_values(r, "WWW-Authenticate") == [
        f'{challenge} realm="scoped", error="insufficient_scope", '
        'error_description="the credential lacks a scope this resource '
        'requires", scope="integration.store orders.read"']


def test_missing_scope_is_401_without_send_forbidden_on_failure(env):
    r = env.httpd.get("/scoped-401/env",
                      headers={"Authorization": "Bearer " + env.half_scoped})
    assert_json_error(r, 401, insufficient_scope_body())
    assert header_values(r, "WWW-Authenticate") == [
        'Bearer realm="scoped", error="insufficient_scope", '
        'error_description="the credential lacks a scope this resource '
        'requires", scope="integration.store orders.read"']


def test_key_with_every_scope_is_admitted_without_send_forbidden(env):
    r = env.httpd.get("/scoped-401/env",
                      headers={"Authorization": "Bearer " + env.scoped})
    assert r.status_code == 200


# -- app and kind: 403 access_denied ---------------------------------------

def test_key_of_the_required_app_is_admitted(env):
    r = env.httpd.get("/shop-only/env", headers={"X-API-Key": env.key})
    assert r.status_code == 200
    assert env_of(r)["APIAUTH_APP"] == env.shop


def test_key_of_another_app_is_403_access_denied(env):
    r = env.httpd.get("/shop-only/env", headers={"X-API-Key": env.other_key})
    assert_json_error(r, 403, {"error": "access_denied",
                               "error_description":
                                   "this app may not use this resource"})
    assert header_values(r, "WWW-Authenticate") == []


def test_credential_of_the_required_kind_is_admitted(env):
    r = env.httpd.get("/user-tokens-only/env",
                      headers={"Authorization": "Token " + env.user_token})
    assert r.status_code == 200
    assert env_of(r)["APIAUTH_KIND"] == "token"


def test_credential_of_another_kind_is_403_access_denied(env):
    r = env.httpd.get("/user-tokens-only/env",
                      headers={"Authorization": "Token " + env.key})
    assert_json_error(r, 403, {"error": "access_denied",
                               "error_description": "this kind of credential "
                                                    "may not use this "
                                                    "resource"})


def test_refused_credential_never_reaches_authorization(env):
    # an unknown key on an authz-guarded location is 401, not 403
    r = env.httpd.get("/shop-only/env", headers={"X-API-Key": "nosuchkey"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


# -- <RequireAny> ---------------------------------------------------------

@pytest.mark.parametrize("who", ["scoped-key-of-other-app",
                                 "unscoped-key-of-shop"])
def test_require_any_admits_scope_or_app(env, who):
    key = env.other_scoped if who == "scoped-key-of-other-app" else env.key
    r = env.httpd.get("/scope-or-app/env", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    # the scope Require denied before the app Require granted: nothing of
    # that denial may ride on the success
    assert header_values(r, "WWW-Authenticate") == []
    assert r.headers["Content-Type"].startswith("text/plain")


def test_require_any_refuses_key_with_neither_with_one_consistent_reason(env):
    # both Requires deny; the answer is the last one's, body and headers
    r = env.httpd.get("/scope-or-app/env",
                      headers={"X-API-Key": env.other_key})
    assert_json_error(r, 403, {"error": "access_denied",
                               "error_description":
                                   "this app may not use this resource"})
    assert header_values(r, "WWW-Authenticate") == []
