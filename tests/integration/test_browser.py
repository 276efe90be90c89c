"""The authorization code flow in a real browser: Debian's Chromium, driven
by playwright-core (tests/clients/consent.mjs), logs in, reads the consent
page, clicks Allow or Deny, and follows the answer to the client's
redirect URI -- a server of the test's on a loopback port, which records
what reached it.  Then the client exchanges the code.

What only a browser shows is checked here: that the page's own policy
(CSP form-action) lets the answer reach the client, that the page fits a
phone's screen, that the form cannot be answered twice.  A screenshot of
each consent page is kept in tests/artifacts/ to look at."""
import json
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from examples import ExampleSite, make_named_files
from harness import ROOT, SECRETS
from oauth_flows import TOKEN, authorize_url, pkce_pair

CLIENTS = ROOT / "tests" / "clients"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module", autouse=True)
def browser_present():
    """A missing browser is a broken machine, not a reason to skip: the
    test line installs both (support/setup-debian, make clients)."""
    assert Path(CHROMIUM).exists(), \
        "no /usr/bin/chromium: run support/setup-debian"
    assert (CLIENTS / "node_modules" / "playwright-core").exists(), \
        "no playwright-core: run make clients (npm ci in tests/clients)"
    ARTIFACTS.mkdir(exist_ok=True)


class Callback:
    """The client's redirect URI: http://HOST:PORT/cb on a loopback
    address, answering 200 (or, with `then`, a 302 there, as a client
    that moves the user on at once) and keeping the query of every
    request that reached /cb."""

    def __init__(self, host="127.0.0.1", then=None):
        self.hits = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/cb"):   # not /favicon.ico
                    hits.append(self.path)
                    if then:
                        self.send_response(302)
                        self.send_header("Location", then)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                body = b"<!DOCTYPE html><title>client</title>back at the client"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            address_family = (socket.AF_INET6 if ":" in host
                              else socket.AF_INET)
        self.host = host
        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    @property
    def uri(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/cb"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callback():
    c = Callback()
    yield c
    c.stop()


def browse(url, back_to, decision="approve", login=None, screenshot=None,
           viewport=None, again=False):
    """consent.mjs on `url`; what it saw, as a dict."""
    args = {"url": url, "back_to": back_to, "decision": decision,
            "login": login or {"how": "basic", "user": "alice",
                               "password": "wonderland"},
            "again": again}
    if screenshot:
        args["screenshot"] = str(ARTIFACTS / screenshot)
    if viewport:
        args["viewport"] = viewport
    proc = subprocess.run(["node", str(CLIENTS / "consent.mjs"),
                           json.dumps(args)], capture_output=True, text=True,
                          timeout=120, cwd=CLIENTS)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def o(servers):
    return servers.make()


@pytest.fixture(scope="module")
def shop(o):
    """A confidential client of the code flow whose redirect URI is a
    loopback one (any port: RFC 8252 §7.3)."""
    return o.client("shop", "authorization_code", "refresh_token",
                    redirect_uris=("http://127.0.0.1/cb",),
                    display_name="Acme Shop")


def request_for(o, client, callback, state, challenge):
    return authorize_url(o, response_type="code",
                         client_id=client["client_id"],
                         redirect_uri=callback.uri, state=state,
                         code_challenge=challenge,
                         code_challenge_method="S256",
                         scope="integration.store")


def csp_violations(seen):
    return [m for m in seen["console"] if "Content Security Policy" in m]


def exchange(o, client, code, redirect_uri, verifier):
    r = o.post(TOKEN, auth=(client["client_id"], client["client_secret"]),
               data={"grant_type": "authorization_code", "code": code,
                     "redirect_uri": redirect_uri,
                     "code_verifier": verifier})
    return r


def test_allow_in_chromium_reaches_the_client_with_a_code(o, shop, callback):
    verifier, challenge = pkce_pair()
    seen = browse(request_for(o, shop, callback, "b-allow", challenge),
                  callback.uri, screenshot="consent-page.png")
    assert seen["page_status"] == 200, seen
    assert "Acme Shop wants access to your account" in seen["page_text"]
    assert "127.0.0.1:%d" % callback.port in seen["page_text"]
    # the answer went where the page said, past the page's own CSP
    assert csp_violations(seen) == []
    assert seen["landed"], seen["console"]
    assert seen["landed_text"] == "back at the client"
    assert len(callback.hits) == 1
    got = {k: v[0] for k, v in parse_qs(urlparse(callback.hits[0]).query)
           .items()}
    assert got["state"] == "b-allow" and got["iss"] == o.issuer
    SECRETS.add("authorization code", got["code"])
    r = exchange(o, shop, got["code"], callback.uri, verifier)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "integration.store"
    # clickjacking defences kept
    assert seen["page_headers"]["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in \
        seen["page_headers"]["content-security-policy"]
    assert (ARTIFACTS / "consent-page.png").stat().st_size > 1000


def test_deny_in_chromium_reaches_the_client_with_access_denied(
        o, shop, callback):
    _, challenge = pkce_pair()
    seen = browse(request_for(o, shop, callback, "b-deny", challenge),
                  callback.uri, decision="deny")
    assert csp_violations(seen) == []
    assert seen["landed"], seen["console"]
    got = {k: v[0] for k, v in parse_qs(urlparse(callback.hits[0]).query)
           .items()}
    assert got == {"error": "access_denied",
                   "error_description": "the user denied the request",
                   "state": "b-deny", "iss": o.issuer}


def test_an_ipv6_loopback_client_gets_its_answer_in_chromium(o):
    """http://[::1]/cb is a loopback redirect URI like 127.0.0.1's (RFC
    8252 §7.3); CSP can name no IPv6 address, so the page's policy must
    not depend on naming the client."""
    native = o.client("native6", "authorization_code",
                      redirect_uris=("http://[::1]/cb",), public=True)
    back = Callback("::1")
    try:
        verifier, challenge = pkce_pair()
        seen = browse(request_for(o, native, back, "b-v6", challenge),
                      back.uri)
        assert csp_violations(seen) == []
        assert seen["landed"], seen["console"]
        got = {k: v[0] for k, v in parse_qs(urlparse(back.hits[0]).query)
               .items()}
        assert got["state"] == "b-v6"
        SECRETS.add("authorization code", got["code"])
        r = o.post(TOKEN, data={"grant_type": "authorization_code",
                                "code": got["code"], "client_id":
                                native["client_id"], "redirect_uri": back.uri,
                                "code_verifier": verifier})
        assert r.status_code == 200, r.text
    finally:
        back.stop()


def test_a_client_that_sends_the_user_on_is_followed(o, shop):
    """The redirect URI itself redirects (to the client's own pages on
    another port): the browser follows it, the page's policy stands in
    nothing's way."""
    landing = Callback()
    back = Callback(then=landing.uri + "?landed=1")
    try:
        _, challenge = pkce_pair()
        seen = browse(request_for(o, shop, back, "b-on", challenge),
                      landing.uri)
        assert csp_violations(seen) == []
        assert seen["landed"] == landing.uri + "?landed=1", seen["console"]
        assert len(back.hits) == 1 and "code=" in back.hits[0]
        SECRETS.add("authorization code", parse_qs(
            urlparse(back.hits[0]).query)["code"][0])
    finally:
        back.stop()
        landing.stop()


def test_the_same_form_cannot_be_answered_twice(o, shop, callback):
    _, challenge = pkce_pair()
    seen = browse(request_for(o, shop, callback, "b-twice", challenge),
                  callback.uri, again=True)
    assert seen["landed"]
    assert seen["again_status"] == 403
    assert seen["again_location"] is None
    assert len(callback.hits) == 1


def test_the_consent_page_fits_a_phone(o, shop, callback):
    _, challenge = pkce_pair()
    seen = browse(request_for(o, shop, callback, "b-phone", challenge),
                  callback.uri, decision="none", viewport=[390, 844],
                  screenshot="consent-page-phone.png")
    assert seen["page_status"] == 200
    assert seen["fits"], "the page scrolls sideways on a 390 px screen"
    assert "Allow" in seen["page_text"] and "Deny" in seen["page_text"]


@pytest.fixture(scope="module")
def form_site(tls):
    """conf-examples/form-login.conf in place of taptouch.conf's Basic
    login (test_form_login.py serves it the same way)."""
    from test_form_login import MODULES, without_basic_login
    s = ExampleSite("apiauth-browser-form-")
    make_named_files(s.dir)
    s.serve(tls, without_basic_login(s.example("taptouch.conf"))
            + s.example("form-login.conf"), modules=MODULES)
    s.shop = json.loads(s.store.out(
        "client", "create", "shop", "--grant", "authorization_code",
        "--redirect-uri", "http://127.0.0.1/cb", "--scope",
        "integration.store", "--display-name", "Acme Shop", json=True))
    yield s
    s.remove()


def test_form_login_then_consent_in_chromium(form_site, callback):
    verifier, challenge = pkce_pair()
    seen = browse(request_for(form_site, form_site.shop, callback, "b-form",
                              challenge),
                  callback.uri, screenshot="consent-after-form-login.png",
                  login={"how": "form", "user": "alice",
                         "password": "wonderland"})
    assert seen["login_status"] == 401      # the login page, first
    assert seen["page_status"] == 200, seen
    assert "Acme Shop wants access" in seen["page_text"]
    assert csp_violations(seen) == []
    assert seen["landed"], seen["console"]
    got = {k: v[0] for k, v in parse_qs(urlparse(callback.hits[0]).query)
           .items()}
    SECRETS.add("authorization code", got["code"])
    r = exchange(form_site, form_site.shop, got["code"], callback.uri,
                 verifier)
    assert r.status_code == 200, r.text
