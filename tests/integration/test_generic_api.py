"""The generic API guide (shared/seeds/003), replayed against
conf-examples/generic-api.conf as shipped: a client gets an access token
with POST /oauth2/token (grant_type=client_credentials&client_id=...&
client_secret=..., urlencoded, as the guide writes it) and calls GET
/v1/users with `Authorization: Bearer`; legacy services (/v1/data) still
take `X-API-Key`.  Each refusal sits next to the request that succeeds."""
import json
from urllib.parse import quote

import pytest

from examples import ExampleSite, make_named_files
from harness import env_of, header_values

USERS = "/v1/users/env"
DATA = "/v1/data/env"


@pytest.fixture(scope="module")
def api(tls):
    g = ExampleSite("apiauth-generic-")
    make_named_files(g.dir)
    store = g.store
    g.client = json.loads(store.out(
        "client", "create", "backend", "--grant", "client_credentials",
        "--scope", "users", "--scope", "data", json=True))
    g.users_only = json.loads(store.out(
        "client", "create", "reporting", "--grant", "client_credentials",
        "--scope", "users", json=True))
    g.legacy_app = store.app("legacy-app")
    g.key, g.key_id = store.key("legacy-app", "--scope", "data")
    g.unscoped_key, _ = store.key("legacy-app")
    g.serve(tls, g.example("generic-api.conf"))
    yield g
    g.remove()


def token_request(api, client_id, client_secret):
    """The guide's request, byte for byte in shape."""
    body = (f"grant_type=client_credentials&client_id={quote(client_id)}"
            f"&client_secret={quote(client_secret)}")
    return api.post("/oauth2/token", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})


def access_token(api, client=None):
    client = client or api.client
    r = token_request(api, client["client_id"], client["client_secret"])
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token):
    return {"Authorization": "Bearer " + token}


# ---- the token endpoint ------------------------------------------------------

def test_client_credentials_as_the_guide_writes_it(api):
    r = token_request(api, api.client["client_id"],
                      api.client["client_secret"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"].count(".") == 2
    assert set(body["scope"].split()) == {"users", "data"}
    assert body["expires_in"] > 0
    assert "refresh_token" not in body


def test_wrong_client_secret_is_401(api):
    r = token_request(api, api.client["client_id"], "not-the-secret")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "access_token" not in r.json()


def test_unknown_client_is_401(api):
    r = token_request(api, "cli_doesnotexist", "whatever")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_token_endpoint_over_plain_http_fails(api):
    r = api.post("/oauth2/token", tls=False, data={
        "grant_type": "client_credentials",
        "client_id": api.client["client_id"],
        "client_secret": api.client["client_secret"]})
    assert r.status_code == 403
    assert "access_token" not in r.text


# ---- GET /v1/users: Bearer only -----------------------------------------------

def test_bearer_token_reads_users(api):
    r = api.get(USERS, headers=bearer(access_token(api)))
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["REMOTE_USER"] == api.client["client_id"]
    assert env["APIAUTH_KIND"] == "oauth"
    assert env["APIAUTH_SCHEME"] == "bearer"
    assert "users" in env["APIAUTH_SCOPE"].split()


def test_api_key_at_bearer_only_location_is_401(api):
    r = api.get(USERS, headers={"X-API-Key": api.key})
    assert r.status_code == 401
    challenges = header_values(r, "WWW-Authenticate")
    assert challenges and all(c.startswith("Bearer") for c in challenges)


def test_api_key_as_bearer_at_bearer_only_location_is_401(api):
    r = api.get(USERS, headers=bearer(api.key))
    assert r.status_code == 401


def test_no_token_at_users_is_401(api):
    r = api.get(USERS)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'realm="api.example.com"' in r.headers["WWW-Authenticate"]


def test_forged_token_is_401(api):
    token = access_token(api)
    head, payload, sig = token.split(".")
    forged = ".".join([head, payload, sig[::-1]])
    r = api.get(USERS, headers=bearer(forged))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


# ---- GET /v1/data: X-API-Key or Bearer ----------------------------------------

def test_api_key_reads_data(api):
    r = api.get(DATA, headers={"X-API-Key": api.key})
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_KIND"] == "api_key"
    assert env["APIAUTH_APP"] == api.legacy_app
    assert env["REMOTE_USER"] == api.legacy_app
    assert env["APIAUTH_CREDENTIAL_ID"] == api.key_id
    assert api.key not in api.error_log()


def test_bearer_token_reads_data(api):
    r = api.get(DATA, headers=bearer(access_token(api)))
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_KIND"] == "oauth"


def test_both_key_and_bearer_is_400(api):
    headers = dict(bearer(access_token(api)), **{"X-API-Key": api.key})
    r = api.get(DATA, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_scope_is_enforced_at_data(api):
    r = api.get(DATA, headers=bearer(access_token(api, api.users_only)))
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    r = api.get(DATA, headers={"X-API-Key": api.unscoped_key})
    assert r.status_code == 403


def test_unknown_or_revoked_key_is_401(api):
    r = api.get(DATA, headers={"X-API-Key": "aak_not_a_real_key"})
    assert r.status_code == 401
    key, key_id = api.store.key("legacy-app", "--scope", "data")
    api.store.revoke(key_id)
    assert api.get(DATA, headers={"X-API-Key": key}).status_code == 401


def test_plain_http_fails(api):
    r = api.get(DATA, tls=False, headers={"X-API-Key": api.key})
    assert r.status_code == 403
    r = api.get(USERS, tls=False, headers=bearer(access_token(api)))
    assert r.status_code == 403
