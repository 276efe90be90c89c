"""The Taptouch API's OAuth document (DESIGN.md, "The systems we must
serve"), replayed as it is written: alice is sent to GET /auth/v2/authorize
with scope, client_id, redirect_uri, response_type=code and state, approves
on the consent page, and the client exchanges the code with the very curl
command of the quickstart (-X POST -H "Cache-Control: no-cache" -F ...).
The access token is a JWT good for 2 days, sent as "Authorization: bearer"
in lower case; the refresh token works once and for 4 days; client
credentials get the scopes the client may have with that grant.  Each
refusal sits next to the request that succeeds."""
import time

import pytest

from harness import env_of
from oauth_flows import (CALLBACK, ModuleServers, assert_token_response,
                         authorize_url, code_for, consent, curl_token,
                         jwt_parts, owner_session, redirect_params, unique)

STORE_API = "/integration/v1/stores/env"
ORDER_API = "/orders/env"


@pytest.fixture(scope="module")
def taptouch(tls):
    """One authorization server as the document describes it, for the
    whole module: the three Taptouch scopes, integration.store for both
    grants, integration.order and integration.inventory for
    client_credentials only."""
    servers = ModuleServers(tls)
    yield servers.make()
    servers.stop_all()


@pytest.fixture
def developer(taptouch):
    """A developer account that may use the code flow and refresh."""
    return taptouch.client(unique("storefront"), "authorization_code",
                           "refresh_token")


def curl_code_exchange(o, client, code, *more):
    """Quickstart step 3, word for word."""
    return curl_token(o, "client_id=" + client["client_id"],
                      "client_secret=" + client["client_secret"],
                      "code=" + code,
                      "redirect_uri=" + CALLBACK,
                      "grant_type=authorization_code", *more)


def curl_refresh(o, client, refresh_token):
    """Section 5, "Refreshing your Token", word for word."""
    return curl_token(o, "client_id=" + client["client_id"],
                      "client_secret=" + client["client_secret"],
                      "refresh_token=" + refresh_token,
                      "grant_type=refresh_token")


def bearer(token):
    """The header as the document writes it: the scheme in lower case."""
    return {"Authorization": "bearer " + token}


def tokens_for(o, client):
    code = code_for(o, client["client_id"], scope="integration.store",
                    state="st")
    r = curl_code_exchange(o, client, code)
    return assert_token_response(r, "integration.store")


def assert_oauth_error(r, status, error, description):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {"error": error, "error_description": description}


# ---- 1. the authorize endpoint and its consent page ---------------------

def test_authorize_request_shows_consent_page_naming_client_and_scope(
        taptouch, developer):
    url = authorize_url(taptouch, scope="integration.store",
                        client_id=developer["client_id"],
                        redirect_uri=CALLBACK, response_type="code",
                        state="af0ifjsldkj")
    r = owner_session(taptouch).get(url, allow_redirects=False, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert developer["name"] in r.text
    assert "Read and change your store" in r.text      # the scope in words
    assert "alice" in r.text
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"

    # nobody logged in: httpd's Basic login refuses before any consent
    anonymous = taptouch.session().get(url, allow_redirects=False,
                                       timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")


def test_approving_redirects_to_client_with_code_state_and_iss(
        taptouch, developer):
    url = authorize_url(taptouch, scope="integration.store",
                        client_id=developer["client_id"],
                        redirect_uri=CALLBACK, response_type="code",
                        state="af0ifjsldkj")
    page, answer = consent(taptouch, url, decision="approve")
    assert page.status_code == 200
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    got = redirect_params(location)
    assert set(got) == {"code", "state", "iss"}
    assert got["state"] == "af0ifjsldkj"
    assert got["iss"] == taptouch.issuer                 # RFC 9207

    # alice says no: back to the client, with state and iss, without code
    page, answer = consent(taptouch, url, decision="deny")
    assert answer.status_code == 303
    got = redirect_params(answer.headers["Location"])
    assert got["error"] == "access_denied"
    assert got["state"] == "af0ifjsldkj"
    assert got["iss"] == taptouch.issuer
    assert "code" not in got


def test_first_party_client_gets_code_without_consent_page(taptouch):
    own = taptouch.client(unique("taptouch-web"), "authorization_code",
                          "refresh_token", first_party=True)
    url = authorize_url(taptouch, scope="integration.store",
                        client_id=own["client_id"], redirect_uri=CALLBACK,
                        response_type="code", state="fp")
    r = owner_session(taptouch).get(url, allow_redirects=False, timeout=30)
    assert r.status_code == 302
    got = redirect_params(r.headers["Location"])
    assert got["state"] == "fp" and got["iss"] == taptouch.issuer
    assert_token_response(curl_code_exchange(taptouch, own, got["code"]),
                          "integration.store")

    # the same request from a third-party client stops at the consent page
    third = taptouch.client(unique("third-party"), "authorization_code")
    url = authorize_url(taptouch, scope="integration.store",
                        client_id=third["client_id"], redirect_uri=CALLBACK,
                        response_type="code", state="fp")
    r = owner_session(taptouch).get(url, allow_redirects=False, timeout=30)
    assert r.status_code == 200
    assert "Location" not in r.headers


# ---- 3. the token exchange, with curl -F --------------------------------

def test_curl_multipart_code_exchange_returns_documented_token_response(
        taptouch, developer):
    code = code_for(taptouch, developer["client_id"],
                    scope="integration.store", state="s")
    r = curl_code_exchange(taptouch, developer, code)
    body = assert_token_response(r, "integration.store")
    assert r.headers["cache-control"] == "no-store"
    head, claims = jwt_parts(body["access_token"])
    assert head["alg"] == "RS256" and head["typ"] == "at+jwt"
    assert claims["sub"] == "alice"
    assert claims["client_id"] == developer["client_id"]
    assert claims["exp"] - claims["iat"] == 172800      # "last 2 days"
    assert body["refresh_token"] and "." not in body["refresh_token"]

    # the same command with a wrong secret gets no token
    code = code_for(taptouch, developer["client_id"],
                    scope="integration.store")
    wrong = dict(developer, client_secret=developer["client_secret"] + "x")
    r = curl_code_exchange(taptouch, wrong, code)
    assert_oauth_error(r, 401, "invalid_client",
                       "unknown client or wrong secret")
    assert r.headers["www-authenticate"].startswith("Basic ")


def test_scope_sent_with_code_within_grant_is_accepted(taptouch, developer):
    code = code_for(taptouch, developer["client_id"],
                    scope="integration.store")
    r = curl_code_exchange(taptouch, developer, code,
                           "scope=integration.store")
    assert_token_response(r, "integration.store")


def test_scope_sent_with_code_beyond_grant_is_invalid_scope(taptouch,
                                                            developer):
    code = code_for(taptouch, developer["client_id"],
                    scope="integration.store")
    r = curl_code_exchange(taptouch, developer, code,
                           "scope=integration.store integration.inventory")
    assert_oauth_error(r, 400, "invalid_scope",
                       "the requested scope exceeds what was granted")


# ---- 4. making requests --------------------------------------------------

def test_lower_case_bearer_token_reaches_store_api_as_alice(taptouch,
                                                            developer):
    tokens = tokens_for(taptouch, developer)
    r = taptouch.get(STORE_API, headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["REMOTE_USER"] == "alice"
    assert env["APIAUTH_KIND"] == "oauth"
    assert env["APIAUTH_CLIENT_ID"] == developer["client_id"]
    assert env["APIAUTH_SCOPE"] == "integration.store"
    mixed = {"Authorization": "BeArEr " + tokens["access_token"]}
    assert taptouch.get(STORE_API, headers=mixed).status_code == 200

    # "Calls made over plain HTTP will fail", even with a good token
    r = taptouch.get(STORE_API, tls=False,
                     headers=bearer(tokens["access_token"]))
    assert r.status_code == 403
    # without the token, or with one altered, there is no store
    r = taptouch.get(STORE_API)
    assert r.status_code == 401
    head, payload, sig = tokens["access_token"].split(".")
    forged = ".".join([head, payload, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA"
                                                  else "BBBB")])
    r = taptouch.get(STORE_API, headers=bearer(forged))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    # and the store scope does not open the order API
    r = taptouch.get(ORDER_API, headers=bearer(tokens["access_token"]))
    assert r.status_code == 403


# ---- 5. refreshing ---------------------------------------------------------

def test_curl_refresh_returns_new_tokens_for_two_more_days(taptouch,
                                                           developer):
    first = tokens_for(taptouch, developer)
    r = curl_refresh(taptouch, developer, first["refresh_token"])
    second = assert_token_response(r, "integration.store")
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    _, claims = jwt_parts(second["access_token"])
    assert claims["exp"] - claims["iat"] == 172800
    assert claims["sub"] == "alice"
    r = taptouch.get(STORE_API, headers=bearer(second["access_token"]))
    assert r.status_code == 200 and env_of(r)["REMOTE_USER"] == "alice"

    # a refresh token the server never issued refreshes nothing
    r = curl_refresh(taptouch, developer, "aar_" + "x" * 38)
    assert_oauth_error(r, 400, "invalid_grant", "unknown refresh token")


def test_refresh_token_may_be_used_for_four_days(taptouch, developer):
    tokens = tokens_for(taptouch, developer)
    before = int(time.time())
    r = taptouch.post("/auth/v2/introspect",
                      data={"token": tokens["refresh_token"]},
                      auth=(developer["client_id"],
                            developer["client_secret"]))
    assert r.status_code == 200 and r.json()["active"] is True
    assert abs(r.json()["exp"] - before - 345600) <= 5


def test_refresh_token_reuse_revokes_family(taptouch, developer):
    first = tokens_for(taptouch, developer)
    r = curl_refresh(taptouch, developer, first["refresh_token"])
    second = assert_token_response(r, "integration.store")

    # "The refresh token can only be used once."
    r = curl_refresh(taptouch, developer, first["refresh_token"])
    assert_oauth_error(r, 400, "invalid_grant",
                       "the refresh token was used before; its grant is "
                       "revoked")
    # and what the first use issued goes with it (RFC 9700 §4.14.2)
    r = curl_refresh(taptouch, developer, second["refresh_token"])
    assert_oauth_error(r, 400, "invalid_grant", "the grant has been revoked")
    r = taptouch.get(STORE_API, headers=bearer(second["access_token"]))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_family_revocation_stops_access_token_already_in_use(taptouch,
                                                             developer):
    """Like the reuse above, but the newer access token has been used
    (and so validated and cached) before the old refresh token comes back:
    the revocation passes through this server, so DESIGN.md's cache
    promise ("deleted at once by a revocation that passes through this
    server") says it stops at once, not ApiAuthCacheTTL later."""
    first = tokens_for(taptouch, developer)
    second = assert_token_response(
        curl_refresh(taptouch, developer, first["refresh_token"]),
        "integration.store")
    r = taptouch.get(STORE_API, headers=bearer(second["access_token"]))
    assert r.status_code == 200

    r = curl_refresh(taptouch, developer, first["refresh_token"])
    assert r.status_code == 400
    r = taptouch.get(STORE_API, headers=bearer(second["access_token"]))
    assert r.status_code == 401, "a revoked family's access token still works"
    assert r.json()["error"] == "invalid_token"


# ---- client credentials ----------------------------------------------------

def test_curl_client_credentials_grants_order_and_inventory(taptouch):
    backend = taptouch.client(unique("warehouse"), "client_credentials",
                              scopes=("integration.order",
                                      "integration.inventory"))
    r = curl_token(taptouch, "client_id=" + backend["client_id"],
                   "client_secret=" + backend["client_secret"],
                   "grant_type=client_credentials")
    body = assert_token_response(
        r, "integration.order integration.inventory", refresh=False)
    _, claims = jwt_parts(body["access_token"])
    assert claims["sub"] == backend["client_id"]        # the client itself
    r = taptouch.get(ORDER_API, headers=bearer(body["access_token"]))
    assert r.status_code == 200
    env = env_of(r)
    assert env["APIAUTH_CLIENT_ID"] == backend["client_id"]
    assert "APIAUTH_USER" not in env
    # the store API needs integration.store, which this token lacks
    r = taptouch.get(STORE_API, headers=bearer(body["access_token"]))
    assert r.status_code == 403

    # asking for one of its scopes narrows the token to it
    r = curl_token(taptouch, "client_id=" + backend["client_id"],
                   "client_secret=" + backend["client_secret"],
                   "scope=integration.order",
                   "grant_type=client_credentials")
    assert_token_response(r, "integration.order", refresh=False)
    # one it may not have is refused, and nothing is issued
    r = curl_token(taptouch, "client_id=" + backend["client_id"],
                   "client_secret=" + backend["client_secret"],
                   "scope=integration.order integration.store",
                   "grant_type=client_credentials")
    assert_oauth_error(r, 400, "invalid_scope",
                       "a requested scope is unknown, or not allowed to "
                       "this client with client_credentials")
