"""conf-examples/taptouch.conf, as shipped, serves the Taptouch paths: a
client gets a token at /auth/v2/token and uses it at /integration/v1, and
the scopes are enforced per API as the example says."""
import json

import pytest

from harness import ROOT, Httpd, Store, make_workdir
from examples import local_paths, make_named_files


@pytest.fixture(scope="module")
def taptouch(tls):
    d = make_workdir("apiauth-taptouch-")
    make_named_files(d)
    store = Store(d / "store")
    body = local_paths((ROOT / "conf-examples" / "taptouch.conf").read_text(),
                       d)
    httpd = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body,
                  store=store, modules=("oauth",)).start()
    yield httpd, store
    httpd.stop()


def client_credentials(httpd, store, scopes):
    args = ["client", "create", "pos-" + "-".join(s.split(".")[1] for s in scopes),
            "--grant", "client_credentials"]
    for s in scopes:
        args += ["--scope", s]
    c = json.loads(store.out(*args, json=True))
    r = httpd.post("/auth/v2/token", files={
        "client_id": (None, c["client_id"]),
        "client_secret": (None, c["client_secret"]),
        "grant_type": (None, "client_credentials")})
    assert r.status_code == 200, r.text
    return r.json()


def test_example_issues_tokens_for_the_documented_scopes(taptouch):
    httpd, store = taptouch
    t = client_credentials(httpd, store, ["integration.order",
                                          "integration.inventory"])
    assert t["token_type"] == "Bearer"
    assert t["expires_in"] == 172800
    assert t["scope"] == "integration.order integration.inventory"
    assert "refresh_token" not in t


def test_example_enforces_a_scope_per_api(taptouch):
    httpd, store = taptouch
    t = client_credentials(httpd, store, ["integration.order"])
    bearer = {"Authorization": "bearer " + t["access_token"]}
    assert httpd.get("/integration/v1/orders/hello",
                     headers=bearer).status_code == 200
    r = httpd.get("/integration/v1/inventory/hello", headers=bearer)
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert httpd.get("/integration/v1/stores/hello",
                     headers=bearer).status_code == 403
    assert httpd.get("/integration/v1/orders/hello").status_code == 401


def test_example_publishes_keys_and_metadata(taptouch):
    httpd, _ = taptouch
    keys = httpd.get("/.well-known/jwks.json").json()["keys"]
    assert [k["alg"] for k in keys] == ["RS256"]
    meta = httpd.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == "https://api.taptouch.net"
    assert meta["token_endpoint"] == "https://api.taptouch.net/auth/v2/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
