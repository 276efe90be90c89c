"""ApiAuthFailureLimit: refused attempts are counted per client address in
the socache; past the limit the address gets 429 with Retry-After, even
with a good credential, while other addresses are not affected."""
import base64
import http.client
import json
import ssl
import subprocess

import requests
import requests.auth

import pytest

from harness import Httpd, OAuthServer, Store, make_workdir

LIMIT = 3


def from_address(httpd, source, method, path, headers=None, body=None):
    """A request over TLS from a chosen loopback source address."""
    ctx = ssl.create_default_context(cafile=str(httpd.cert))
    conn = http.client.HTTPSConnection("127.0.0.1", httpd.https_port,
                                       context=ctx, timeout=30,
                                       source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def limited(tls):
    store = Store(make_workdir("apiauth-store-"))
    store.app("shop")
    good, _ = store.key("shop")
    httpd = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], store=store,
                  extra_global=f"ApiAuthFailureLimit {LIMIT} 60",
                  body="""
<Location /api>
    AuthType apiauth
    AuthName "api"
    ApiAuthCache off
    Require valid-user
</Location>
""").start()
    yield httpd, good
    httpd.stop()


def test_address_over_the_limit_gets_429_even_with_a_good_key(limited):
    httpd, good = limited
    src = "127.0.0.3"
    ok = from_address(httpd, src, "GET", "/api/hello", {"X-API-Key": good})
    assert ok[0] == 200
    for _ in range(LIMIT):
        st, _, body = from_address(httpd, src, "GET", "/api/hello",
                                   {"X-API-Key": "aak_wrong"})
        assert st == 401
    st, headers, body = from_address(httpd, src, "GET", "/api/hello",
                                     {"X-API-Key": good})
    assert st == 429
    assert 0 < int(headers["Retry-After"]) <= 60
    assert json.loads(body)["error"] == "too_many_requests"
    assert headers["Content-Type"] == "application/json"


def test_other_addresses_are_not_affected(limited):
    httpd, good = limited
    for _ in range(LIMIT + 1):
        from_address(httpd, "127.0.0.4", "GET", "/api/hello",
                     {"X-API-Key": "aak_wrong"})
    assert from_address(httpd, "127.0.0.4", "GET", "/api/hello",
                        {"X-API-Key": good})[0] == 429
    assert from_address(httpd, "127.0.0.5", "GET", "/api/hello",
                        {"X-API-Key": good})[0] == 200


def test_malformed_credentials_count_too(limited):
    httpd, good = limited
    for _ in range(LIMIT):
        assert from_address(httpd, "127.0.0.6", "GET", "/api/hello",
                            {"Authorization": "Bearer"})[0] == 400
    assert from_address(httpd, "127.0.0.6", "GET", "/api/hello",
                        {"X-API-Key": good})[0] == 429


def test_successes_do_not_count(limited):
    httpd, good = limited
    for _ in range(LIMIT * 3):
        assert from_address(httpd, "127.0.0.7", "GET", "/api/hello",
                            {"X-API-Key": good})[0] == 200


def test_requests_without_a_credential_do_not_count(limited):
    # a client first calling without credentials learns the challenge; it
    # has guessed nothing, so the limit is not spent on it
    httpd, good = limited
    for _ in range(LIMIT * 3):
        st, headers, _ = from_address(httpd, "127.0.0.8", "GET", "/api/hello")
        assert st == 401 and "WWW-Authenticate" in headers
    assert from_address(httpd, "127.0.0.8", "GET", "/api/hello",
                        {"X-API-Key": good})[0] == 200


def test_token_endpoint_wrong_secrets_count_and_get_429(tls):
    o = OAuthServer(tls[0], tls[1], extra=f"ApiAuthFailureLimit {LIMIT} 60")
    o.start()
    try:
        c = o.client("backend", "client_credentials",
                     scopes=("integration.order",))
        form = "grant_type=client_credentials&client_id={}&client_secret={}"
        hdr = {"Content-Type": "application/x-www-form-urlencoded"}
        for _ in range(LIMIT):
            st, _, _ = from_address(o.httpd, "127.0.0.8", "POST",
                                    "/auth/v2/token", hdr,
                                    form.format(c["client_id"], "aacs_wrong"))
            assert st == 401
        st, headers, body = from_address(
            o.httpd, "127.0.0.8", "POST", "/auth/v2/token", hdr,
            form.format(c["client_id"], c["client_secret"]))
        assert st == 429
        assert int(headers["Retry-After"]) > 0
        assert headers["Cache-Control"] == "no-store"
        st, _, body = from_address(
            o.httpd, "127.0.0.9", "POST", "/auth/v2/token", hdr,
            form.format(c["client_id"], c["client_secret"]))
        assert st == 200, body
    finally:
        o.stop()


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(
        f"{user}:{password}".encode()).decode()}


def test_wrong_passwords_at_the_authorize_endpoint_count(tls):
    """The resource owner's login is mod_auth_basic's: its refusals count
    towards the limit all the same, and past it the address gets 429
    before mod_auth_basic checks any password."""
    o = OAuthServer(tls[0], tls[1], extra=f"ApiAuthFailureLimit {LIMIT} 60")
    o.start()
    try:
        for _ in range(LIMIT):
            st, headers, _ = from_address(o.httpd, "127.0.0.11", "GET",
                                          "/auth/v2/authorize",
                                          basic("alice", "guess"))
            assert st == 401
            assert headers["WWW-Authenticate"].startswith("Basic")
        st, headers, _ = from_address(o.httpd, "127.0.0.11", "GET",
                                      "/auth/v2/authorize",
                                      basic("alice", "wonderland"))
        assert st == 429
        assert 0 < int(headers["Retry-After"]) <= 60
        # alice's right password from elsewhere reaches the endpoint (a
        # 400 page: this request names no client)
        st, _, _ = from_address(o.httpd, "127.0.0.12", "GET",
                                "/auth/v2/authorize",
                                basic("alice", "wonderland"))
        assert st == 400
        # asking without a password is no attempt
        for _ in range(LIMIT + 1):
            st, _, _ = from_address(o.httpd, "127.0.0.13", "GET",
                                    "/auth/v2/authorize")
            assert st == 401
    finally:
        o.stop()


def test_the_basic_provider_counts_each_refusal_once(tls):
    """AuthBasicProvider apiauth counts its own refusal; the count of
    httpd's logins must not count it again: 429 after exactly LIMIT."""
    store = Store(make_workdir("apiauth-store-"))
    app = store.app("twake")
    key, _ = store.key("twake")
    httpd = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], store=store,
                  extra_global=f"ApiAuthFailureLimit {LIMIT} 60", body="""
<Location /twake>
    AuthType Basic
    AuthName "twake"
    AuthBasicProvider apiauth
    Require valid-user
</Location>
""").start()
    try:
        for _ in range(LIMIT - 1):
            assert from_address(httpd, "127.0.0.14", "GET", "/twake/hello",
                                basic(app, "aak_wrong"))[0] == 401
        # one attempt left: the right key still gets in
        assert from_address(httpd, "127.0.0.14", "GET", "/twake/hello",
                            basic(app, key))[0] == 200
        assert from_address(httpd, "127.0.0.14", "GET", "/twake/hello",
                            basic(app, "aak_wrong"))[0] == 401
        assert from_address(httpd, "127.0.0.14", "GET", "/twake/hello",
                            basic(app, key))[0] == 429
    finally:
        httpd.stop()


def test_digest_handshakes_are_not_counted(tls):
    """mod_auth_digest names the user of every stale nonce's 401, a step
    of its handshake: only Basic and form logins count."""
    users = make_workdir("apiauth-digest-") / "digest-users"
    subprocess.run(["htdigest", "-c", str(users), "realm", "dora"],
                   input="explorer\nexplorer\n", text=True, check=True,
                   capture_output=True)
    users.chmod(0o644)
    httpd = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1],
                  modules=("auth_digest",),
                  extra_global=f"ApiAuthFailureLimit {LIMIT} 60", body=f"""
<Location /digest>
    AuthType Digest
    AuthName "realm"
    AuthDigestProvider file
    AuthUserFile "{users}"
    Require valid-user
</Location>
""").start()
    try:
        s = httpd.session()
        for _ in range(LIMIT + 1):
            r = s.get(httpd.url("/digest/hello"),
                      auth=requests.auth.HTTPDigestAuth("dora", "wrong"))
            assert r.status_code == 401
        r = s.get(httpd.url("/digest/hello"),
                  auth=requests.auth.HTTPDigestAuth("dora", "explorer"))
        assert r.status_code == 200, r.status_code
    finally:
        httpd.stop()


def test_without_the_directive_nothing_is_counted(tls):
    store = Store(make_workdir("apiauth-store-"))
    store.app("shop")
    good, _ = store.key("shop")
    httpd = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], store=store,
                  body="""
<Location /api>
    AuthType apiauth
    AuthName "api"
    Require valid-user
</Location>
""").start()
    try:
        for _ in range(20):
            from_address(httpd, "127.0.0.10", "GET", "/api/hello",
                         {"X-API-Key": "aak_wrong"})
        assert from_address(httpd, "127.0.0.10", "GET", "/api/hello",
                            {"X-API-Key": good})[0] == 200
    finally:
        httpd.stop()
