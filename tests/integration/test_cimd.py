"""Client ID Metadata Documents: a client_id that is the https URL of a
JSON document describing the client, as MCP clients name themselves.  The
authorization server fetches it (libcurl, fenced: https only, no
redirects, 16 KiB, 5 s, never a loopback or private address unless the
test-only switch allows loopback), checks it names itself, and knows the
client from then on: code, token, apiauth-admin.

The documents are served here, over HTTPS on loopback, by a small server
that counts what it is asked for; each refusal is a document (or a URL)
as a careless or hostile client would publish it."""
import base64
import hashlib
import http.server
import json
import secrets
import ssl
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dpop_keys import ec_jwk
from harness import free_port
from oauth_flows import AUTHORIZE, TOKEN, consent_fields, owner_session, \
    redirect_params

CB = "http://127.0.0.1:43123/callback"
# the key a private_key_jwt client signs its assertions with
CLIENT_KEY = ec.generate_private_key(ec.SECP256R1())
CLIENT_JWKS = {"keys": [dict(ec_jwk(CLIENT_KEY), kid="k1", use="sig",
                              alg="ES256")]}


class Documents:
    """An HTTPS server on loopback with the test certificate."""

    def __init__(self, cert, key):
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.hits = []
        docs = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                docs.hits.append(self.path)
                status, ctype, body, extra = docs.answer(self.path)
                if self.path == "/slow.json":
                    time.sleep(7)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port),
                                                     Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def doc(self, path, **changes):
        d = {"client_id": self.base + path, "client_name": "Doc Agent",
             "redirect_uris": [CB], "token_endpoint_auth_method": "none",
             "grant_types": ["authorization_code", "refresh_token"]}
        d.update(changes)
        return json.dumps(d).encode()

    def answer(self, path):
        j = "application/json"
        cache = {"Cache-Control": "max-age=60"}
        if path in ("/agent.json", "/slow.json", "/other-agent.json"):
            return 200, j, self.doc(path), cache
        if path == "/wrong-id.json":
            return 200, j, self.doc(path, client_id=self.base
                                    + "/agent.json"), cache
        if path == "/big.json":
            return 200, j, self.doc(path, padding="x" * 20000), cache
        if path == "/text.json":
            return 200, "text/plain", self.doc(path), cache
        if path == "/moved.json":
            return 302, j, b"", {"Location": self.base + "/agent.json"}
        if path in ("/keyed.json", "/keyed-uri.json"):
            keys = ({"jwks": CLIENT_JWKS} if path == "/keyed.json"
                    else {"jwks_uri": self.base + "/client-jwks.json"})
            return 200, j, self.doc(
                path, token_endpoint_auth_method="private_key_jwt",
                grant_types=["client_credentials"], scope="integration.order",
                **keys), cache
        if path == "/client-jwks.json":
            return 200, j, json.dumps(CLIENT_JWKS).encode(), cache
        if path == "/confidential.json":
            return 200, j, self.doc(path, token_endpoint_auth_method=
                                    "client_secret_basic"), cache
        return 404, j, b"{}", {}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def docs(tls):
    d = Documents(*tls)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def o(servers, docs, tls):
    o = servers.make(extra=(
        "ApiAuthOAuthClientDomains app=agents 127.0.0.1\n"
        f'ApiAuthOAuthFetchTestOnly loopback ca={tls[0]}'))
    o.store.app("agents")
    return o


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(o, client_id, redirect_uri=CB):
    verifier, challenge = pkce()
    s = owner_session(o)
    page = s.get(o.url(AUTHORIZE), params={
        "response_type": "code", "client_id": client_id,
        "redirect_uri": redirect_uri, "scope": "integration.store",
        "state": "st", "code_challenge": challenge,
        "code_challenge_method": "S256"}, allow_redirects=False)
    return s, page, verifier


def test_metadata_says_documents_are_taken(o):
    m = o.get("/.well-known/oauth-authorization-server").json()
    assert m["client_id_metadata_document_supported"] is True


def test_a_document_client_gets_a_token(o, docs):
    client_id = docs.base + "/agent.json"
    s, page, verifier = authorize(o, client_id)
    assert page.status_code == 200, page.text
    assert "Doc Agent" in page.text and "127.0.0.1" in page.text
    fields = consent_fields(page.text)
    fields["decision"] = "approve"
    answer = s.post(o.url(AUTHORIZE), data=fields, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    code = redirect_params(answer.headers["Location"])["code"]
    r = o.post(TOKEN, data={"grant_type": "authorization_code",
                            "code": code, "redirect_uri": CB,
                            "code_verifier": verifier,
                            "client_id": client_id})
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"]
    listed = json.loads(o.store.out("client", "list", json=True))
    assert any(c["client_id"] == client_id and c["client_name"] == "Doc Agent"
               for c in listed)
    # fetched once: the document is fresh for its max-age
    assert docs.hits.count("/agent.json") == 1


def test_a_deleted_document_client_stays_out(o, docs):
    client_id = docs.base + "/other-agent.json"
    _, page, _ = authorize(o, client_id)
    assert page.status_code == 200, page.text
    o.store.admin("client", "delete", client_id)
    _, page, _ = authorize(o, client_id)
    assert page.status_code == 400
    assert "unknown client" in page.text


@pytest.mark.parametrize("path,words", [
    ("/wrong-id.json", "another client_id"),
    ("/big.json", "too large"),
    ("/text.json", "not application/json"),
    ("/moved.json", "answered 302"),
    ("/missing.json", "answered 404"),
    ("/confidential.json", "a client is public"),
])
def test_a_document_refused(o, docs, path, words):
    _, page, _ = authorize(o, docs.base + path)
    assert page.status_code == 400, page.text
    assert words in page.text, page.text


def test_a_redirect_uri_the_document_does_not_list(o, docs):
    _, page, _ = authorize(o, docs.base + "/agent.json",
                           redirect_uri="http://127.0.0.1:9/elsewhere")
    assert page.status_code == 400
    assert "redirect_uri" in page.text


def test_a_document_too_slow(o, docs):
    started = time.time()
    _, page, _ = authorize(o, docs.base + "/slow.json")
    assert page.status_code == 400
    assert "did not come in time" in page.text
    assert time.time() - started < 7


@pytest.mark.parametrize("client_id,words", [
    ("https://localhost:{port}/agent.json", "domain"),
    ("https://127.0.0.1:{port}/", "with a path"),
    ("https://127.0.0.1:{port}/agent.json?x=1", "without query"),
])
def test_a_url_refused_before_any_fetch(o, docs, client_id, words):
    before = len(docs.hits)
    _, page, _ = authorize(o, client_id.format(port=docs.port))
    assert page.status_code == 400
    assert words in page.text
    assert len(docs.hits) == before


def test_without_the_test_switch_no_loopback_or_private_address(servers,
                                                                 docs, tls):
    o = servers.make(extra="ApiAuthOAuthClientDomains app=agents *\n")
    o.store.app("agents")
    before = len(docs.hits)
    for client_id in (docs.base + "/agent.json",
                      "https://10.1.2.3/agent.json",
                      "https://[::1]:%d/agent.json" % docs.port):
        _, page, _ = authorize(o, client_id)
        assert page.status_code == 400, client_id
        assert "not fetched from" in page.text, page.text
    assert len(docs.hits) == before


# ---- private_key_jwt (RFC 7523) -------------------------------------------

def assertion(o, client_id, key=CLIENT_KEY, aud=None, jti=None):
    now = int(time.time())
    return jwt.encode({"iss": client_id, "sub": client_id,
                       "aud": aud or o.issuer + TOKEN,
                       "jti": jti or secrets.token_urlsafe(16),
                       "iat": now, "exp": now + 60},
                      key, algorithm="ES256", headers={"kid": "k1"})


def by_key(o, client_id, signed):
    return o.post(TOKEN, data={
        "grant_type": "client_credentials", "client_id": client_id,
        "client_assertion_type":
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed})


@pytest.mark.parametrize("path", ["/keyed.json", "/keyed-uri.json"])
def test_a_document_client_authenticates_with_its_key(o, docs, path):
    client_id = docs.base + path
    signed = assertion(o, client_id)
    r = by_key(o, client_id, signed)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "integration.order"
    # the same assertion twice is a copied one
    again = by_key(o, client_id, signed)
    assert again.status_code == 401
    assert "used before" in again.json()["error_description"]


def test_a_key_client_is_refused_without_its_key(o, docs):
    client_id = docs.base + "/keyed.json"
    other = ec.generate_private_key(ec.SECP256R1())
    for signed in (assertion(o, client_id, key=other),
                   assertion(o, client_id, aud="https://elsewhere.example"),
                   assertion(o, docs.base + "/agent.json")):
        r = by_key(o, client_id, signed)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "invalid_client"
    r = o.post(TOKEN, data={"grant_type": "client_credentials",
                            "client_id": client_id})
    assert r.status_code == 401
    assert "assertion" in r.json()["error_description"]


def test_metadata_names_private_key_jwt(o):
    m = o.get("/.well-known/oauth-authorization-server").json()
    assert "private_key_jwt" in m["token_endpoint_auth_methods_supported"]
    assert "ES256" in m["token_endpoint_auth_signing_alg_values_supported"]
