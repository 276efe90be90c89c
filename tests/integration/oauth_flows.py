"""What the OAuth integration tests do again and again, done once: a
resource owner (alice) going through the authorization endpoint and its
consent page, a token request sent by the real `curl -F` as the Taptouch
document shows it, PKCE pairs, and a server of the module's lifetime.

The helpers return what the server answered and leave the verdict to
the tests, except the steps a test only builds on (code_for: alice got a
code), which fail loudly where they fail.
"""
import base64
import hashlib
import html
import json
import re
import secrets
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests

from harness import SECRETS, OAuthServer, give_to_server

CALLBACK = "https://client.example/cb"
ALICE = ("alice", "wonderland")
TOKEN = "/auth/v2/token"
AUTHORIZE = "/auth/v2/authorize"


class ModuleServers:
    """OAuthServers that live as long as a test module (the conftest only
    has a per-test factory); `stop_all` removes them and their files."""

    def __init__(self, tls):
        self.tls = tls
        self.servers = []

    def make(self, start=True, **kw):
        o = OAuthServer(self.tls[0], self.tls[1], **kw)
        self.servers.append(o)
        return o.start() if start else o

    def stop_all(self):
        for o in self.servers:
            o.remove()


def unique(prefix):
    """A client name no other test of the module uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


def store_sql(o, statement):
    """Changes the server's store behind its back (as an operator with
    sqlite3 or psql would), leaving every file the server's user may need
    writable by it."""
    out = o.store.sql(statement)
    give_to_server(o.store.dir)
    return out


# ---- the resource owner's side -------------------------------------------

def owner_session(o):
    """alice's browser: her Basic login, the test certificate."""
    s = o.session()
    s.auth = ALICE
    return s


def consent_fields(page):
    """The hidden fields of the consent form, as a browser would post
    them."""
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                       page)}


def redirect_params(location):
    """The query of a redirect back to the client, one value per name."""
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def authorize_url(o, **params):
    """The authorization request a client would redirect alice to."""
    request = requests.Request("GET", o.url(AUTHORIZE), params=params)
    return request.prepare().url


def consent(o, url, decision="approve"):
    """alice opens `url` (the authorize request) and answers the consent
    page; returns the page's response and the answer to her decision (the
    303 back to the client)."""
    s = owner_session(o)
    page = s.get(url, allow_redirects=False, timeout=30)
    if page.status_code != 200:
        return page, None
    fields = consent_fields(page.text)
    fields["decision"] = decision
    answer = s.post(o.url(AUTHORIZE), data=fields, allow_redirects=False,
                    timeout=30)
    return page, answer


def code_for(o, client_id, redirect_uri=CALLBACK, **params):
    """A fresh code for `client_id`, alice approving; `params` are more
    authorize parameters (scope, state, code_challenge...)."""
    query = {"response_type": "code", "client_id": client_id, **params}
    if redirect_uri is not None:
        query["redirect_uri"] = redirect_uri
    page, answer = consent(o, authorize_url(o, **query))
    assert answer is not None, (page.status_code, page.text)
    assert answer.status_code == 303, (answer.status_code, answer.text)
    got = redirect_params(answer.headers["Location"])
    assert "code" in got, got
    return got["code"]


def pkce_pair():
    """A code_verifier and its S256 code_challenge (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


# ---- the client's side ---------------------------------------------------

class CurlAnswer:
    """What `curl` received: status, headers (lower-case names), body."""

    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.text = body

    def json(self):
        return json.loads(self.text)


def curl_token(o, *fields, headers=("Cache-Control: no-cache",),
               path=TOKEN):
    """POSTs to the token endpoint with the real curl binary, exactly as
    the Taptouch document does (`-X POST -H "Cache-Control: no-cache"
    -F name=value ...`), trusting only the test certificate."""
    with tempfile.TemporaryDirectory() as d:
        head, body = Path(d) / "head", Path(d) / "body"
        cmd = ["curl", o.url(path), "-X", "POST", "-s", "-S",
               "--cacert", str(o.httpd.cert), "--noproxy", "*",
               "-D", str(head), "-o", str(body), "-w", "%{http_code}"]
        for h in headers:
            cmd += ["-H", h]
        for f in fields:
            cmd += ["-F", f]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        hdrs = {}
        for line in head.read_text(errors="replace").splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        answer = CurlAnswer(int(proc.stdout), hdrs,
                            body.read_text(errors="replace"))
        try:
            SECRETS.add_from_document(answer.json())
        except ValueError:
            pass
        return answer


def assert_token_response(r, scope, refresh=True, lifetime=172800):
    """RFC 6749 §5.1: the JSON shape, and that nobody may cache it."""
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    expected = {"access_token", "token_type", "expires_in", "scope"}
    if refresh:
        expected.add("refresh_token")
    assert set(body) == expected, body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == lifetime
    assert body["scope"] == scope
    assert body["access_token"].count(".") == 2
    return body


def jwt_parts(token):
    """The decoded header and payload of a JWT, unverified (for looking
    at; verification is test_oauth_clients' business)."""
    def part(s):
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    head, payload, _ = token.split(".")
    return part(head), part(payload)
