"""DPoP (RFC 9449) on both sides: the token endpoint binds the tokens of a
request with a proof to its key (token_type DPoP, cnf.jkt), and a
location with `ApiAuthScheme dpop` takes such a token only with a fresh
proof by that key, for this request.

Each refusal is a request a thief or a careless client would send: the
same proof twice, a proof for another URL, another method, another token,
an old one, none, a proof by another key, the bound token as Bearer, a
proof signed with no key or a symmetric one; and, where the server asks
for nonces, a proof without its nonce (the answer names the nonce to use)."""
import json
import time

import pytest

from dpop_keys import DPoPKey, claims_of
from harness import env_of
from oauth_flows import TOKEN
from oauth_tokens import client_auth

RESOURCE = """
<Location /dpop>
    AuthType apiauth
    AuthName "dpop"
    ApiAuthScheme dpop bearer
    ApiAuthProvider oauth
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.order
</Location>
<Location /dpop-nonce>
    AuthType apiauth
    AuthName "dpop"
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    ApiAuthDPoP nonce window=30
    Require valid-user
</Location>
"""


# a front controller: whatever is not a file goes to one script, which
# mod_dir reaches by an internal subrequest under its own configuration
FRONT = """
<Location /front>
    AuthType apiauth
    AuthName "front"
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    Require valid-user
    FallbackResource /app/env
</Location>
<Location /app>
    AuthType apiauth
    AuthName "front"
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    Require valid-user
</Location>
"""


class World:
    pass


@pytest.fixture(scope="module")
def w(servers):
    k = World()
    k.o = servers.make(body=RESOURCE)
    k.client = k.o.client("dpop-cc", "client_credentials",
                          scopes=("integration.order",))
    k.nonce_o = servers.make(extra="ApiAuthOAuthDPoP nonce")
    k.nonce_client = k.nonce_o.client("dpop-nonce", "client_credentials",
                                      scopes=("integration.order",))
    return k


def token_with(o, client, key, **proof_kw):
    headers = {}
    if key:
        headers["DPoP"] = key.proof("POST", o.issuer + TOKEN, **proof_kw)
    return o.post(TOKEN, data={"grant_type": "client_credentials"},
                  auth=client_auth(client), headers=headers)


def dpop_token(w, key):
    r = token_with(w.o, w.client, key)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def call(w, path, token, proof, scheme="DPoP"):
    headers = {"Authorization": f"{scheme} {token}"}
    if proof:
        headers["DPoP"] = proof
    return w.o.get(path, headers=headers)


def url(w, path):
    return w.o.issuer + path


# --- the token endpoint -----------------------------------------------------

def test_a_proof_binds_the_token_to_its_key(w):
    key = DPoPKey()
    r = token_with(w.o, w.client, key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.thumbprint}
    # introspection says so too
    rs = w.o.client("dpop-rs", "client_credentials", resource_server=True,
                    scopes=("integration.order",))
    i = w.o.post("/auth/v2/introspect",
                 data={"token": body["access_token"]},
                 auth=client_auth(rs)).json()
    assert i["active"] and i["token_type"] == "DPoP"
    assert i["cnf"] == {"jkt": key.thumbprint}


def test_without_a_proof_the_token_is_a_bearer_token(w):
    r = token_with(w.o, w.client, None)
    assert r.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(r.json()["access_token"])


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "rsa-pss"])
def test_every_asymmetric_algorithm_of_ours(w, kind):
    key = DPoPKey(kind)
    r = token_with(w.o, w.client, key)
    assert r.status_code == 200, r.text
    assert claims_of(r.json()["access_token"])["cnf"]["jkt"] \
        == key.thumbprint


@pytest.mark.parametrize("change, words", [
    ({"payload": {"htu": "https://elsewhere.example/auth/v2/token"}}, "htu"),
    ({"payload": {"htm": "GET"}}, "htm"),
    ({"iat": int(time.time()) - 300}, "iat"),
    ({"header": {"typ": "JWT"}}, "typ"),
    ({"payload": {"jti": None}}, "jti"),
])
def test_a_bad_proof_at_the_token_endpoint_is_refused(w, change, words):
    r = token_with(w.o, w.client, DPoPKey(), **change)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_dpop_proof"
    assert words in r.json()["error_description"]


def test_a_proof_is_good_once_at_the_token_endpoint(w):
    key = DPoPKey()
    proof = key.proof("POST", url(w, TOKEN))
    first = w.o.post(TOKEN, data={"grant_type": "client_credentials"},
                     auth=client_auth(w.client), headers={"DPoP": proof})
    again = w.o.post(TOKEN, data={"grant_type": "client_credentials"},
                     auth=client_auth(w.client), headers={"DPoP": proof})
    assert first.status_code == 200, first.text
    assert again.status_code == 400
    assert "used before" in again.json()["error_description"]


def test_a_dpop_bound_client_must_send_a_proof(w):
    c = json.loads(w.o.store.out("client", "create", "dpop-only", "--grant",
                                 "client_credentials", "--scope",
                                 "integration.order", "--dpop-bound",
                                 json=True))
    r = token_with(w.o, c, None)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_dpop_proof"
    assert token_with(w.o, c, DPoPKey()).status_code == 200
    listed = json.loads(w.o.store.out("client", "list", json=True))
    assert [x["dpop_bound"] for x in listed
            if x["client_id"] == c["client_id"]] == [True]


def test_the_token_endpoint_asks_for_its_nonce(w):
    key = DPoPKey()
    first = token_with(w.nonce_o, w.nonce_client, key)
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    again = token_with(w.nonce_o, w.nonce_client, key, nonce=nonce)
    assert again.status_code == 200, again.text
    # and gives the next one with the answer
    assert again.headers.get("DPoP-Nonce")
    # its MAC changed (the nonce starts with the time slot, mostly zeros)
    forged = nonce[:-4] + ("AAAA" if nonce[-4:] != "AAAA" else "BBBB")
    bad = token_with(w.nonce_o, w.nonce_client, key, nonce=forged)
    assert bad.status_code == 400 and bad.json()["error"] == "use_dpop_nonce"


def test_metadata_says_which_algorithms(w):
    m = w.o.get("/.well-known/oauth-authorization-server").json()
    assert m["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA",
                                                      "Ed25519", "RS256",
                                                      "PS256"]


# --- the resource -------------------------------------------------------------

def test_a_bound_token_works_with_a_proof_by_its_key(w):
    key = DPoPKey()
    token = dpop_token(w, key)
    r = call(w, "/dpop/env", token, key.proof("GET", url(w, "/dpop/env"),
                                              token=token))
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_SCHEME"] == "dpop"
    # again, with a new proof: the token comes from the cache, the proof not
    r = call(w, "/dpop/env", token, key.proof("GET", url(w, "/dpop/env"),
                                              token=token))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("kind", ["ec", "rsa", "rsa-pss", "ed25519"])
def test_every_algorithm_at_the_resource(w, kind):
    key = DPoPKey(kind)
    token = dpop_token(w, key)
    for _ in range(2):             # the second time, its key is known
        r = call(w, "/dpop/env", token,
                 key.proof("GET", url(w, "/dpop/env"), token=token))
        assert r.status_code == 200, r.text


def test_a_kid_in_the_proof_header_is_no_key_of_ours(w):
    """A proof carries its key; a kid beside it names nothing here, the
    first time the key is seen or any later time."""
    key = DPoPKey()
    token = dpop_token(w, key)
    # the thumbprint as kid: a child that knew the key already read the
    # header's kid against a key it kept without one (and died of it)
    for kid in ("client-key-1", key.thumbprint, key.thumbprint, "x"):
        r = call(w, "/dpop/env", token,
                 key.proof("GET", url(w, "/dpop/env"), token=token,
                           header={"kid": kid}))
        assert r.status_code == 200, r.text


def test_an_rsa_proof_key_of_more_than_4096_bits_is_refused(w):
    """Whoever sends a proof picks its key, and so the work of checking
    it: no more than an ES256 proof's."""
    key = DPoPKey("rsa", bits=4608)
    r = token_with(w.o, w.client, key)
    assert r.status_code == 400, r.text
    assert "4096" in r.json()["error_description"]


def test_an_rs256_signature_is_no_ps256_proof(w):
    """The alg the proof names is the padding it is checked with."""
    key = DPoPKey("rsa")
    token = dpop_token(w, key)
    here = url(w, "/dpop/env")
    head, body, sig = key.proof("GET", here, token=token).split(".")
    import base64
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    header["alg"] = "PS256"
    head = base64.urlsafe_b64encode(json.dumps(header).encode()) \
        .rstrip(b"=").decode()
    assert_dpop_refusal(call(w, "/dpop/env", token, f"{head}.{body}.{sig}"),
                        "signature")


def assert_dpop_refusal(r, words):
    assert r.status_code == 401, r.text
    challenges = r.headers["WWW-Authenticate"]
    assert 'DPoP realm="dpop"' in challenges
    assert 'algs="ES256 EdDSA Ed25519 RS256 PS256"' in challenges
    assert r.json()["error"] in ("invalid_dpop_proof", "invalid_token")
    assert words in r.json()["error_description"], r.json()


def test_resource_refusals(w):
    key, other = DPoPKey(), DPoPKey()
    token = dpop_token(w, key)
    here = url(w, "/dpop/env")

    def proof(**kw):
        return key.proof("GET", here, token=token, **kw)

    # the same proof twice
    p = proof()
    assert call(w, "/dpop/env", token, p).status_code == 200
    assert_dpop_refusal(call(w, "/dpop/env", token, p), "used before")
    # another URL, another method, another token, too old
    assert_dpop_refusal(call(w, "/dpop/env", token,
                             key.proof("GET", url(w, "/dpop/other"),
                                       token=token)), "htu")
    assert_dpop_refusal(call(w, "/dpop/env", token,
                             key.proof("POST", here, token=token)), "htm")
    assert_dpop_refusal(call(w, "/dpop/env", token,
                             key.proof("GET", here, token="another")), "ath")
    assert_dpop_refusal(call(w, "/dpop/env", token,
                             proof(iat=int(time.time()) - 120)), "iat")
    # no proof; a proof by another key
    assert_dpop_refusal(call(w, "/dpop/env", token, None), "one DPoP proof")
    assert_dpop_refusal(call(w, "/dpop/env", token,
                             other.proof("GET", here, token=token)),
                        "another key")
    # the bound token as a bearer token
    r = call(w, "/dpop/env", token, None, scheme="Bearer")
    assert r.status_code == 401
    assert "DPoP" in r.json()["error_description"]
    # a bearer token sent as DPoP
    bearer = token_with(w.o, w.client, None).json()["access_token"]
    assert_dpop_refusal(call(w, "/dpop/env", bearer,
                             key.proof("GET", here, token=bearer)),
                        "not bound")


def test_proofs_signed_with_no_key_or_a_secret_are_refused(w):
    key = DPoPKey()
    token = dpop_token(w, key)
    here = url(w, "/dpop/env")
    good = key.proof("GET", here, token=token)
    head, body, _ = good.split(".")
    unsigned = f"{head}.{body}."
    assert_dpop_refusal(call(w, "/dpop/env", token, unsigned),
                        "three base64url segments")
    import jwt
    hs = jwt.encode(claims_of(good), "secret", algorithm="HS256",
                    headers={"typ": "dpop+jwt", "jwk": key.jwk})
    assert_dpop_refusal(call(w, "/dpop/env", token, hs), "alg")
    private = dict(key.jwk, d="AAAA")
    with_private = key.proof("GET", here, token=token,
                             header={"jwk": private})
    assert_dpop_refusal(call(w, "/dpop/env", token, with_private), "private")


def test_a_location_that_asks_for_nonces(w):
    key = DPoPKey()
    token = dpop_token(w, key)
    here = url(w, "/dpop-nonce/env")
    r = call(w, "/dpop-nonce/env", token, key.proof("GET", here, token=token))
    assert r.status_code == 401
    assert 'error="use_dpop_nonce"' in r.headers["WWW-Authenticate"]
    nonce = r.headers["DPoP-Nonce"]
    r = call(w, "/dpop-nonce/env", token,
             key.proof("GET", here, token=token, nonce=nonce))
    assert r.status_code == 200, r.text
    assert r.headers.get("DPoP-Nonce")


def test_a_front_controller_reached_inside_httpd_keeps_the_proof(servers):
    """The client's proof names the URL it asked for; httpd then serves it
    from another location (FallbackResource, ErrorDocument, a rewrite),
    which authenticates again: the proof was checked once, for the
    request it came with, and holds for what httpd does on its behalf."""
    o = servers.make(body=FRONT, modules=("dir",))
    client = o.client("front", "client_credentials",
                      scopes=("integration.order",))
    key = DPoPKey()
    r = o.post(TOKEN, data={"grant_type": "client_credentials"},
               auth=client_auth(client),
               headers={"DPoP": key.proof("POST", o.issuer + TOKEN)})
    token = r.json()["access_token"]
    url = o.issuer + "/front/orders/42"
    proof = key.proof("GET", url, token=token)
    r = o.get("/front/orders/42", headers={"Authorization": "DPoP " + token,
                                           "DPoP": proof})
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_SCHEME"] == "dpop"
    # the same proof again is still a replay
    r = o.get("/front/orders/42", headers={"Authorization": "DPoP " + token,
                                           "DPoP": proof})
    assert r.status_code == 401
    # and the script's own location asked directly needs its own proof
    r = o.get("/app/env", headers={"Authorization": "DPoP " + token,
                                   "DPoP": key.proof("GET", url,
                                                     token=token)})
    assert r.status_code == 401 and "htu" in r.json()["error_description"]
