"""Discovery from a 401, as a client that knows only a URL goes about it
(the MCP authorization profile): the challenge names the protected
resource metadata (RFC 9728), which names the authorization server, whose
metadata (RFC 8414) names the registration endpoint (RFC 7591); the client
registers, runs the code flow with a `resource` (RFC 8707), and gets a
token for that resource alone.

Each refusal sits next to its success: a token for one resource at
another, a resource the server does not know, a registration that would
make a confidential client without the initial access token, a redirect
URI that is plain http off loopback."""
import base64
import hashlib
import json
import re
import secrets
import shutil

import pytest

from harness import env_of, make_workdir
from oauth_flows import (AUTHORIZE, TOKEN, consent_fields, owner_session,
                         redirect_params)

LOOPBACK_CB = "http://127.0.0.1:43123/callback"

BODY = """
ApiAuthOAuthResource @ISSUER@/mcp @ISSUER@/other
ApiAuthOAuthRegistration open token={token_file} app=mcp-clients
<Location /oauth2/register>
    SetHandler apiauth-register
</Location>
<Location /.well-known/oauth-protected-resource>
    SetHandler apiauth-resource-metadata
</Location>
<Location /mcp>
    AuthType apiauth
    AuthName "mcp"
    ApiAuthScheme dpop bearer
    ApiAuthProvider oauth
    ApiAuthResource @ISSUER@/mcp
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.store
</Location>
<Location /other>
    AuthType apiauth
    AuthName "other"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    ApiAuthResource @ISSUER@/other
    Require valid-user
</Location>
<Location /orders-mcp>
    AuthType apiauth
    AuthName "orders"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    ApiAuthResource @ISSUER@/mcp
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.order
</Location>
"""


class World:
    pass


@pytest.fixture(scope="module")
def w(servers):
    k = World()
    k.dir = make_workdir("apiauth-discovery-")
    k.initial_token = secrets.token_urlsafe(32)
    token_file = k.dir / "initial-token"
    token_file.write_text(k.initial_token + "\n")
    token_file.chmod(0o644)
    k.o = servers.make(body=BODY.format(token_file=token_file))
    k.o.store.app("mcp-clients")
    k.mcp = k.o.issuer + "/mcp"
    yield k
    shutil.rmtree(k.dir, ignore_errors=True)


def challenges(r):
    """The WWW-Authenticate challenges, in order (requests joins them)."""
    header = r.headers.get("WWW-Authenticate", "")
    return [tuple(part.split(" ", 1)) for part in
            re.split(r', (?=[A-Za-z]+ [a-z_]+=)', header) if part]


def register(w, metadata, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    return w.o.post("/oauth2/register", data=json.dumps(metadata),
                    headers=headers)


def public_client(w):
    r = register(w, {"redirect_uris": [LOOPBACK_CB],
                     "token_endpoint_auth_method": "none",
                     "grant_types": ["authorization_code", "refresh_token"],
                     "client_name": "An agent"})
    assert r.status_code == 201, r.text
    return r.json()


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def token_for(w, client, resource):
    """alice consents to `client` for `resource`; the token response."""
    verifier, challenge = pkce()
    query = {"response_type": "code", "client_id": client["client_id"],
             "redirect_uri": LOOPBACK_CB, "scope": "integration.store",
             "state": "s1", "code_challenge": challenge,
             "code_challenge_method": "S256"}
    if resource:
        query["resource"] = resource
    s = owner_session(w.o)
    page = s.get(w.o.url(AUTHORIZE), params=query, allow_redirects=False)
    assert page.status_code == 200, page.text
    assert "An agent" in page.text
    if resource:
        assert f"At <b>{resource}</b> only." in page.text
    fields = consent_fields(page.text)
    assert fields.get("resource") == resource
    fields["decision"] = "approve"
    answer = s.post(w.o.url(AUTHORIZE), data=fields, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    code = redirect_params(answer.headers["Location"])["code"]
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": LOOPBACK_CB, "code_verifier": verifier,
            "client_id": client["client_id"]}
    if resource:
        form["resource"] = resource
    r = w.o.post(TOKEN, data=form)
    assert r.status_code == 200, r.text
    return r.json()


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ---- from the 401 to the authorization server --------------------------

def test_the_401_names_the_resource_metadata_bearer_first(w):
    r = w.o.get("/mcp/env")
    assert r.status_code == 401
    found = challenges(r)
    assert [scheme for scheme, _ in found] == ["Bearer", "DPoP"]
    bearer = found[0][1]
    metadata = w.o.issuer + "/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata}"' in bearer
    assert 'scope="integration.store"' in bearer
    assert f'resource_metadata="{metadata}"' in found[1][1]


def test_the_resource_metadata_names_the_authorization_server(w):
    r = w.o.get("/.well-known/oauth-protected-resource/mcp")
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["resource"] == w.mcp
    assert m["authorization_servers"] == [w.o.issuer]
    assert set(m["scopes_supported"]) == {"integration.store"}
    assert m["bearer_methods_supported"] == ["header"]
    assert m["dpop_bound_access_tokens_required"] is False
    assert "ES256" in m["dpop_signing_alg_values_supported"]
    assert w.o.get("/.well-known/oauth-protected-resource/nothing"
                   ).status_code == 404
    assert w.o.get("/.well-known/oauth-protected-resource").status_code \
        == 404
    assert w.o.post("/.well-known/oauth-protected-resource/mcp"
                    ).status_code == 405


def test_the_server_metadata_names_the_registration_endpoint(w):
    m = w.o.get("/.well-known/oauth-authorization-server").json()
    assert m["registration_endpoint"] == w.o.issuer + "/oauth2/register"


# ---- registration (RFC 7591) -------------------------------------------

def test_open_registration_makes_a_public_client(w):
    c = public_client(w)
    assert c["client_id"].startswith("cli_")
    assert "client_secret" not in c
    assert c["token_endpoint_auth_method"] == "none"
    assert c["redirect_uris"] == [LOOPBACK_CB]
    assert c["grant_types"] == ["authorization_code", "refresh_token"]
    listed = json.loads(w.o.store.out("client", "list", json=True))
    mine = [x for x in listed if x["client_id"] == c["client_id"]]
    assert mine and mine[0]["client_name"] == "An agent"
    # and the operator can delete it
    w.o.store.admin("client", "delete", c["client_id"])


@pytest.mark.parametrize("metadata,error", [
    ({"redirect_uris": ["http://agent.example/cb"],
      "token_endpoint_auth_method": "none"}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://agent.example/cb#x"],
      "token_endpoint_auth_method": "none"}, "invalid_redirect_uri"),
    ({"redirect_uris": ["com.example.agent:/cb"],
      "token_endpoint_auth_method": "none"}, "invalid_redirect_uri"),
    ({"token_endpoint_auth_method": "none"}, "invalid_redirect_uri"),
    ({"redirect_uris": [LOOPBACK_CB],
      "token_endpoint_auth_method": "client_secret_basic"},
     "invalid_client_metadata"),
    ({"redirect_uris": [LOOPBACK_CB], "token_endpoint_auth_method": "none",
      "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
    ({"redirect_uris": [LOOPBACK_CB], "token_endpoint_auth_method": "none",
      "scope": "integration.store admin"}, "invalid_client_metadata"),
    ({"redirect_uris": [LOOPBACK_CB], "token_endpoint_auth_method": "none",
      "response_types": ["token"]}, "invalid_client_metadata"),
])
def test_open_registration_refuses(w, metadata, error):
    r = register(w, metadata)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == error


def test_an_open_registration_without_a_method_is_public(w):
    """RFC 7591's default is client_secret_basic, which an open
    registration does not give: the answer says what was registered."""
    r = register(w, {"redirect_uris": [LOOPBACK_CB]})
    assert r.status_code == 201, r.text
    assert r.json()["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in r.json()


def key_client_metadata(**extra):
    from cryptography.hazmat.primitives.asymmetric import ec
    from dpop_keys import ec_jwk
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = dict(ec_jwk(key), kid="k1", use="sig", alg="ES256")
    return dict({"redirect_uris": [LOOPBACK_CB],
                 "token_endpoint_auth_method": "private_key_jwt",
                 "jwks": {"keys": [jwk]}}, **extra)


def test_an_open_registration_with_keys_gets_no_secret(w):
    """A private_key_jwt client authenticates with its key: a secret
    beside it would be one handed to whoever asks."""
    r = register(w, key_client_metadata())
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["token_endpoint_auth_method"] == "private_key_jwt"
    assert "client_secret" not in c
    # and its client_id with any secret is refused as such
    got = w.o.post(TOKEN, data={"grant_type": "refresh_token",
                                "refresh_token": "x"},
                   auth=(c["client_id"], "aacs_guess"))
    assert got.status_code == 401
    assert "assertion" in got.json()["error_description"]


def test_an_open_registration_cannot_use_client_credentials(w):
    """With a key the registrant proves it is the same client each time,
    not who it is; no user consents to client_credentials, so nobody
    would have vouched for it."""
    r = register(w, key_client_metadata(
        grant_types=["client_credentials"], scope="integration.order"))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_client_metadata"
    assert "client_credentials" in r.json()["error_description"]


def test_a_native_app_may_register_its_own_scheme(w):
    r = register(w, {"redirect_uris": ["com.example.agent:/cb"],
                     "application_type": "native",
                     "token_endpoint_auth_method": "none"})
    assert r.status_code == 201, r.text


def test_registration_takes_json_only(w):
    r = w.o.post("/oauth2/register", data={"redirect_uris": LOOPBACK_CB})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_client_metadata"
    r = w.o.post("/oauth2/register", data="{not json",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_the_initial_access_token_makes_a_confidential_client(w):
    metadata = {"grant_types": ["client_credentials"],
                "scope": "integration.order", "client_name": "A backend"}
    r = register(w, metadata, token=w.initial_token)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["client_secret"].startswith("aacs")
    assert c["token_endpoint_auth_method"] == "client_secret_basic"
    got = w.o.post(TOKEN, data={"grant_type": "client_credentials"},
                   auth=(c["client_id"], c["client_secret"]))
    assert got.status_code == 200, got.text
    # a wrong token is no token
    r = register(w, metadata, token=w.initial_token[:-2] + "xx")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


# ---- tokens for one resource (RFC 8707) --------------------------------

def test_a_token_for_the_resource_works_there_only(w):
    client = public_client(w)
    t = token_for(w, client, w.mcp)
    assert claims(t["access_token"])["aud"] == w.mcp
    bearer = {"Authorization": "Bearer " + t["access_token"]}
    ok = w.o.get("/mcp/env", headers=bearer)
    assert ok.status_code == 200, ok.text
    assert env_of(ok)["APIAUTH_CLIENT_ID"] == client["client_id"]
    for elsewhere in ("/other/env", "/integration/v1/env"):
        r = w.o.get(elsewhere, headers=bearer)
        assert r.status_code == 401, (elsewhere, r.text)
        assert "another resource" in r.json()["error_description"]
    # refreshed, it is still for that resource
    r = w.o.post(TOKEN, data={"grant_type": "refresh_token",
                              "refresh_token": t["refresh_token"],
                              "client_id": client["client_id"]})
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["aud"] == w.mcp


def test_a_token_without_the_resource_is_refused_there(w):
    client = public_client(w)
    t = token_for(w, client, None)
    assert claims(t["access_token"])["aud"] == w.o.issuer
    r = w.o.get("/mcp/env",
                headers={"Authorization": "Bearer " + t["access_token"]})
    assert r.status_code == 401
    assert "another resource" in r.json()["error_description"]


def test_a_resource_the_server_does_not_know_is_invalid_target(w):
    client = public_client(w)
    verifier, challenge = pkce()
    s = owner_session(w.o)
    r = s.get(w.o.url(AUTHORIZE), params={
        "response_type": "code", "client_id": client["client_id"],
        "redirect_uri": LOOPBACK_CB, "code_challenge": challenge,
        "code_challenge_method": "S256", "state": "s2",
        "resource": "https://elsewhere.example/mcp"}, allow_redirects=False)
    assert r.status_code in (302, 303), r.text
    assert redirect_params(r.headers["Location"])["error"] == "invalid_target"


def test_insufficient_scope_names_the_metadata(w):
    client = public_client(w)
    t = token_for(w, client, w.mcp)
    r = w.o.get("/orders-mcp/env",
                headers={"Authorization": "Bearer " + t["access_token"]})
    assert r.status_code == 403, r.text
    challenge = r.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="integration.order"' in challenge
    assert ("resource_metadata=\"" + w.o.issuer
            + "/.well-known/oauth-protected-resource/mcp\"") in challenge


@pytest.mark.parametrize("body,words", [
    # no ApiAuthOAuthIssuer on this server, none named
    ("<Location /r>\n AuthType apiauth\n AuthName r\n"
     " ApiAuthResource https://api.example/r\n Require valid-user\n"
     "</Location>\n", "names no authorization server"),
    # two resources whose metadata would share a path
    ("<Location /a>\n AuthType apiauth\n AuthName a\n"
     " ApiAuthResource https://one.example/x https://as.example\n"
     " Require valid-user\n</Location>\n"
     "<Location /b>\n AuthType apiauth\n AuthName b\n"
     " ApiAuthResource https://two.example/x https://as.example\n"
     " Require valid-user\n</Location>\n", "same path"),
])
def test_a_resource_that_cannot_be_described_does_not_start(tls, body,
                                                            words):
    from harness import Httpd
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body)
    try:
        assert h.stopped_at_start()
        assert words in h.error_log()
    finally:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)


def test_a_resource_with_its_issuer_named_starts(tls):
    from harness import Httpd
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=(
        "<Location /r>\n AuthType apiauth\n AuthName r\n"
        " ApiAuthResource https://api.example/r https://as.example\n"
        " Require valid-user\n</Location>\n"
        "<Location /.well-known/oauth-protected-resource>\n"
        " SetHandler apiauth-resource-metadata\n</Location>\n"))
    try:
        h.start()
        m = h.get("/.well-known/oauth-protected-resource/r").json()
        assert m["authorization_servers"] == ["https://as.example"]
    finally:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)
