"""Plain HTTP fails where TLS is required (the default), even with a good
key; ApiAuthRequireTLS off is the development escape; a request is on TLS
when a trusted proxy says X-Forwarded-Proto: https, and only then."""
import pytest

from harness import env_of

LOCATIONS = """
<Location /api>
    AuthType apiauth
    AuthName "api"
    Require valid-user
</Location>
<Location /dev>
    AuthType apiauth
    AuthName "dev"
    ApiAuthRequireTLS off
    Require valid-user
</Location>
"""

HTTPS_REQUIRED = {
    "error": "invalid_request",
    "error_description": "this API is served over HTTPS only: calls made "
                         "over plain HTTP fail"}


class Env:
    pass


def start(module_store, module_httpd, trusted):
    store = module_store()
    e = Env()
    e.app = store.app("shop")
    e.key, _ = store.key("shop")
    e.httpd = module_httpd(store=store, body=LOCATIONS,
                           extra_global=f"ApiAuthTrustedProxy {trusted}")
    return e


@pytest.fixture(scope="module")
def behind_proxy(module_store, module_httpd):
    """A server that trusts 127.0.0.1, where the tests connect from."""
    return start(module_store, module_httpd, "127.0.0.1/32")


@pytest.fixture(scope="module")
def proxy_elsewhere(module_store, module_httpd):
    """A server that trusts a proxy the tests are not."""
    return start(module_store, module_httpd, "10.0.0.0/8")


def assert_https_required(r):
    assert r.status_code == 403, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.json() == HTTPS_REQUIRED


def test_valid_key_over_https_is_accepted(behind_proxy):
    r = behind_proxy.httpd.get("/api/env",
                               headers={"X-API-Key": behind_proxy.key})
    assert r.status_code == 200
    assert env_of(r)["REMOTE_USER"] == behind_proxy.app


def test_valid_key_over_plain_http_is_403(proxy_elsewhere):
    r = proxy_elsewhere.httpd.get("/api/env", tls=False,
                                  headers={"X-API-Key": proxy_elsewhere.key})
    assert_https_required(r)


def test_plain_http_without_credential_is_403_not_401(proxy_elsewhere):
    r = proxy_elsewhere.httpd.get("/api/env", tls=False)
    assert_https_required(r)
    assert "WWW-Authenticate" not in r.headers


def test_require_tls_off_allows_plain_http(proxy_elsewhere):
    r = proxy_elsewhere.httpd.get("/dev/env", tls=False,
                                  headers={"X-API-Key": proxy_elsewhere.key})
    assert r.status_code == 200
    assert env_of(r)["REMOTE_USER"] == proxy_elsewhere.app


def test_require_tls_off_still_needs_a_credential(proxy_elsewhere):
    r = proxy_elsewhere.httpd.get("/dev/env", tls=False)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"


@pytest.mark.parametrize("proto", ["https", "HTTPS"])
def test_forwarded_https_from_trusted_proxy_counts_as_tls(behind_proxy,
                                                          proto):
    r = behind_proxy.httpd.get("/api/env", tls=False, headers={
        "X-API-Key": behind_proxy.key, "X-Forwarded-Proto": proto})
    assert r.status_code == 200, r.text
    assert env_of(r)["REMOTE_USER"] == behind_proxy.app


@pytest.mark.parametrize("proto", [None, "http", "https, http", "httpsx"])
def test_trusted_proxy_saying_anything_but_https_is_403(behind_proxy, proto):
    headers = {"X-API-Key": behind_proxy.key}
    if proto:
        headers["X-Forwarded-Proto"] = proto
    r = behind_proxy.httpd.get("/api/env", tls=False, headers=headers)
    assert_https_required(r)


def test_forwarded_https_from_untrusted_address_is_403(proxy_elsewhere):
    r = proxy_elsewhere.httpd.get("/api/env", tls=False, headers={
        "X-API-Key": proxy_elsewhere.key, "X-Forwarded-Proto": "https"})
    assert_https_required(r)
