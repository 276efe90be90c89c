"""DPoP with the client users bring: oauth4webapi (npm, pinned in
tests/clients), which implements RFC 9449 and the server nonce retry,
through client credentials, authorization code + PKCE and a refresh,
each followed by a call to a resource that takes DPoP-bound tokens.

The server asks for nonces at the token endpoint and at the resource, so
the client's retry is exercised too; a token with a proof by another key,
and the next refresh token with another key, are refused."""
import json
import os
import subprocess

import pytest

from harness import ROOT

CLIENTS = ROOT / "tests" / "clients"
REDIRECT = "http://127.0.0.1:8765/cb"

RESOURCE = """
<Location /api>
    AuthType apiauth
    AuthName "api"
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    ApiAuthDPoP nonce
    Require apiauth-scope integration.store
</Location>
<Location /api/hello>
    SetHandler none
</Location>
"""


@pytest.fixture(scope="module", autouse=True)
def client_present():
    assert (CLIENTS / "node_modules" / "oauth4webapi").exists(), \
        "no oauth4webapi: run make clients (npm ci in tests/clients)"


def test_oauth4webapi_gets_and_uses_dpop_bound_tokens(servers, tls):
    o = servers.make(body=RESOURCE, extra="ApiAuthOAuthDPoP nonce")
    cc = o.client("o4w-cc", "client_credentials",
                  scopes=("integration.store",))
    pub = o.client("o4w-pub", "authorization_code", "refresh_token",
                   public=True, first_party=True, redirect_uris=(REDIRECT,),
                   scopes=("integration.store",))
    (o.httpd.root / "htdocs" / "api").mkdir(exist_ok=True)
    (o.httpd.root / "htdocs" / "api" / "hello").write_text("hello\n")
    env = dict(os.environ, ISSUER=o.issuer, CC_ID=cc["client_id"],
               CC_SECRET=cc["client_secret"], PUB_ID=pub["client_id"],
               USER="alice", PASSWORD="wonderland", REDIRECT=REDIRECT,
               RESOURCE=o.issuer + "/api/hello", SCOPE="integration.store",
               NODE_EXTRA_CA_CERTS=str(tls[0]))
    proc = subprocess.run(["node", str(CLIENTS / "dpop_client.mjs")],
                          env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dpop_algs"] == ["ES256", "EdDSA", "Ed25519", "RS256",
                                "PS256"]
    # client credentials: the nonce asked for, then a bound token that
    # works with its key and not with another
    assert out["nonce_retries"] >= 1
    assert out["cc_token_type"].lower() == "dpop"
    assert out["cc_resource"] == 200
    assert out["cc_resource_other_key"] == 401
    # code + PKCE and a refresh, one key throughout
    assert out["code_token_type"].lower() == "dpop"
    assert out["code_resource"] == 200
    assert out["refresh_token_type"].lower() == "dpop"
    assert out["refresh_resource"] == 200
    assert out["resource_nonce_retries"] >= 1
    # the family is bound to the key of its first proof
    assert out["refresh_other_key"] == "invalid_dpop_proof"
