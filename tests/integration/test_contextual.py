"""Contextual's authentication page (shared/seeds/001), replayed against
conf-examples/contextual.conf as shipped: `Authorization: Token <key>` for
a key bound to one user and one app; a dashboard user gets an install
token with GET /v3/users/token/?app_key=...&installid=... (the seed's own
example, trailing slash included), valid one hour, and the device sends
it on /v3/tooltips as ?installid=X&token=T or in headers.  Each refusal
sits next to the request that succeeds."""
import time

import pytest

from examples import ExampleSite
from harness import env_of, give_to_server

INSTALL = "c12b156b-8592-4545-989b-4468a3936983"
TOKEN_PATH = "/v3/users/token/"
TOOLTIPS = "/v3/tooltips/env"


@pytest.fixture(scope="module")
def contextual(tls):
    c = ExampleSite("apiauth-contextual-")
    store = c.store
    c.app = store.app("demo2278440")
    store.user("dash", "--app", "demo2278440")
    c.key, c.key_id = store.key("demo2278440", "--kind", "token",
                                "--user", "dash")
    c.other_app = store.app("elsewhere")
    store.user("eve", "--app", "elsewhere")
    c.other_key, _ = store.key("elsewhere", "--kind", "token",
                               "--user", "eve")
    c.serve(tls, c.example("contextual.conf"))
    yield c
    c.remove()


def token_auth(key):
    """The header exactly as the seed shows it."""
    return {"Authorization": "Token " + key}


def store_sql(c, statement):
    out = c.store.sql(statement)
    give_to_server(c.store.dir)
    return out


def install_token(c, installid=INSTALL, app_key="demo2278440", key=None):
    params = {"app_key": app_key, "installid": installid}
    return c.get(TOKEN_PATH, params=params, headers=token_auth(key or c.key))


def minted(c, installid=INSTALL):
    r = install_token(c, installid)
    assert r.status_code == 200, r.text
    return r.json()["token"]


# ---- Authorization: Token -------------------------------------------------

def test_token_key_is_its_user_in_its_app(contextual):
    r = contextual.get("/v3/anything/env", headers=token_auth(contextual.key))
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["REMOTE_USER"] == "dash"
    assert env["APIAUTH_APP"] == contextual.app
    assert env["APIAUTH_KIND"] == "token"
    assert env["APIAUTH_CREDENTIAL_ID"] == contextual.key_id


def test_seed_example_key_that_is_not_known_is_401(contextual):
    r = contextual.get("/v3/anything/env", headers=token_auth(
        "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Token")


def test_no_credential_is_401_with_token_challenge(contextual):
    r = contextual.get("/v3/anything/env")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Token")


def test_revoked_token_key_is_401(contextual):
    key, key_id = contextual.store.key("demo2278440", "--kind", "token",
                                       "--user", "dash")
    contextual.store.revoke(key_id)
    r = contextual.get("/v3/anything/env", headers=token_auth(key))
    assert r.status_code == 401


def test_expired_token_key_is_401(contextual):
    key, key_id = contextual.store.key("demo2278440", "--kind", "token",
                                       "--user", "dash", "--expires", "1h")
    store_sql(contextual, "UPDATE apiauth_credentials SET expires = "
                          f"{int(time.time()) - 5} WHERE id = '{key_id}'")
    r = contextual.get("/v3/anything/env", headers=token_auth(key))
    assert r.status_code == 401


# ---- minting install tokens -----------------------------------------------

def test_seed_example_mints_an_install_token(contextual):
    r = install_token(contextual)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"token", "installid", "expires_in"}
    assert body["installid"] == INSTALL
    assert body["expires_in"] == 3600
    assert body["token"]


def test_install_token_without_trailing_slash_or_app_key(contextual):
    r = contextual.get("/v3/users/token", params={"installid": INSTALL},
                       headers=token_auth(contextual.key))
    assert r.status_code == 200, r.text


def test_app_key_may_be_the_public_id(contextual):
    r = install_token(contextual, app_key=contextual.app)
    assert r.status_code == 200, r.text


def test_app_key_of_another_app_is_403(contextual):
    for app_key in ("elsewhere", contextual.other_app, "no-such-app"):
        r = install_token(contextual, app_key=app_key)
        assert r.status_code == 403, (app_key, r.text)
        assert "token" not in r.json()


def test_install_token_needs_an_installid(contextual):
    r = contextual.get(TOKEN_PATH, params={"app_key": "demo2278440"},
                       headers=token_auth(contextual.key))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_install_token_needs_a_dashboard_user(contextual):
    r = contextual.get(TOKEN_PATH, params={"app_key": "demo2278440",
                                           "installid": INSTALL})
    assert r.status_code == 401


# ---- using install tokens -------------------------------------------------

def test_device_uses_token_in_query_as_the_seed_shows(contextual):
    token = minted(contextual)
    masked = f"GET /v3/tooltips/env?installid={INSTALL}&token=*** "
    before = contextual.access_log().count(masked)
    r = contextual.get(f"{TOOLTIPS}?installid={INSTALL}&token={token}")
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_KIND"] == "install"
    assert env["APIAUTH_INSTALL_ID"] == INSTALL
    assert env["APIAUTH_APP"] == contextual.app
    assert token not in env["QUERY_STRING"]
    assert "token=" not in env["QUERY_STRING"]
    deadline = time.time() + 5
    while (contextual.access_log().count(masked) == before
           and time.time() < deadline):
        time.sleep(0.05)
    log = contextual.access_log()
    assert log.count(masked) == before + 1, log[-1000:]
    assert token not in log


def test_device_uses_token_in_headers(contextual):
    token = minted(contextual)
    r = contextual.get(TOOLTIPS, headers={"X-Install-Id": INSTALL,
                                          "X-Install-Token": token})
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_KIND"] == "install"
    assert env["APIAUTH_INSTALL_ID"] == INSTALL


def test_install_token_of_another_install_is_401(contextual):
    token = minted(contextual)
    r = contextual.get(TOOLTIPS, params={
        "installid": "0b0c0d0e-0000-4000-8000-000000000000", "token": token})
    assert r.status_code == 401
    r = contextual.get(TOOLTIPS, headers={
        "X-Install-Id": "0b0c0d0e-0000-4000-8000-000000000000",
        "X-Install-Token": token})
    assert r.status_code == 401


def test_install_token_refused_where_install_is_not_accepted(contextual):
    token = minted(contextual)
    r = contextual.get("/v3/other/env", params={"installid": INSTALL,
                                                "token": token})
    assert r.status_code == 401
    r = contextual.get("/v3/other/env", headers=token_auth(token))
    assert r.status_code == 401


def test_install_token_is_not_a_token_key(contextual):
    token = minted(contextual)
    r = contextual.get(TOOLTIPS, headers=token_auth(token))
    assert r.status_code == 401


def test_install_token_cannot_mint_install_tokens(contextual):
    token = minted(contextual)
    r = contextual.get(TOKEN_PATH, params={"installid": INSTALL,
                                           "token": token})
    assert r.status_code == 401


def test_expired_install_token_is_401(contextual):
    token = minted(contextual)
    tid = contextual.store.credential_id(token)
    lifetime = store_sql(contextual, "SELECT expires - created FROM "
                                     "apiauth_credentials WHERE id = "
                                     f"'{tid}' AND kind = 'install'")
    assert lifetime == "3600"          # ApiAuthInstallTokenLifetime
    store_sql(contextual, "UPDATE apiauth_credentials SET expires = "
                          f"{int(time.time()) - 5} WHERE id = '{tid}'")
    r = contextual.get(TOOLTIPS, params={"installid": INSTALL,
                                         "token": token})
    assert r.status_code == 401


def test_install_token_in_query_and_headers_is_400(contextual):
    token = minted(contextual)
    r = contextual.get(TOOLTIPS, params={"installid": INSTALL,
                                         "token": token},
                       headers={"X-Install-Id": INSTALL,
                                "X-Install-Token": token})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_token_key_still_works_on_tooltips(contextual):
    r = contextual.get(TOOLTIPS, headers=token_auth(contextual.key))
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_KIND"] == "token"


def test_plain_http_fails(contextual):
    r = contextual.get("/v3/anything/env", tls=False,
                       headers=token_auth(contextual.key))
    assert r.status_code == 403
    r = contextual.get(TOKEN_PATH, tls=False, params={
        "app_key": "demo2278440", "installid": INSTALL},
        headers=token_auth(contextual.key))
    assert r.status_code == 403
    assert "token" not in r.json()
