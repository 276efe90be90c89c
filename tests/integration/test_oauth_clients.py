"""Real OAuth client libraries against the authorization server, used the
way their documentation shows: requests-oauthlib (BackendApplicationClient
for client credentials, WebApplicationClient for the code flow) and
authlib's requests OAuth2Session (client_secret_basic, client_secret_post,
and "none" for a public client, S256 PKCE, refresh).  Where a library
needs the consent page answered, alice answers it with requests.

Then the access tokens are checked the way a resource server elsewhere
would: PyJWT against the JWKS from /.well-known/jwks.json, for an RSA,
a P-256 and an Ed25519 signing key (RFC 9068 claims, typ at+jwt, kid)."""
import json

import jwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import (
    OAuth2Session as AuthlibSession)
from oauthlib.oauth2 import BackendApplicationClient
from oauthlib.oauth2.rfc6749.errors import (InvalidClientError,
                                            InvalidGrantError)
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session as OAuthlibSession

from harness import env_of
from oauth_flows import (AUTHORIZE, CALLBACK, TOKEN, authorize_url, consent,
                         redirect_params, unique)

ORDER_API = "/orders/env"
STORE_API = "/integration/v1/stores/env"


@pytest.fixture(scope="module")
def signers(servers):
    """Servers by kind of signing key (and a number, for a second server
    of the same kind), each made when first asked for."""
    made = {}

    def server(kind, nth=0):
        if (kind, nth) not in made:
            made[kind, nth] = servers.make(key_kind=kind)
        return made[kind, nth]
    return server


@pytest.fixture(scope="module")
def o(signers):
    return signers("rsa")


def cert_of(o):
    return str(o.httpd.cert)


def trusting(session, o):
    """A library's session, made to trust the test certificate only (the
    environment's REQUESTS_CA_BUNDLE would otherwise win)."""
    session.trust_env = False
    session.verify = cert_of(o)
    return session


def metadata(o):
    r = o.session().get(o.url("/.well-known/oauth-authorization-server"),
                        timeout=30)
    assert r.status_code == 200
    return r.json()


def approve(o, url):
    """alice approves the authorization request `url`; the redirect back
    to the client."""
    page, answer = consent(o, url)
    assert answer is not None and answer.status_code == 303, page.text
    return answer.headers["Location"]


def recording(session):
    """The requests the session sends, as they went out."""
    sent = []
    session.hooks["response"].append(
        lambda r, *args, **kw: sent.append(r.request))
    return sent


# ---- requests-oauthlib -----------------------------------------------------

def test_requests_oauthlib_backend_client_gets_client_credentials_token(o):
    c = o.client(unique("backend"), "client_credentials",
                 scopes=("integration.order",))
    session = trusting(OAuthlibSession(
        client=BackendApplicationClient(client_id=c["client_id"]),
        scope=["integration.order"]), o)
    token = session.fetch_token(o.url(TOKEN), client_secret=c["client_secret"],
                                verify=cert_of(o))
    assert token["token_type"] == "Bearer"
    assert token["scope"] == ["integration.order"]
    assert token["expires_in"] == 172800
    assert "refresh_token" not in token
    r = session.get(o.url(ORDER_API), verify=cert_of(o), timeout=30)
    assert r.status_code == 200
    assert env_of(r)["APIAUTH_CLIENT_ID"] == c["client_id"]

    # the same with the secret in the body (include_client_id)
    token = session.fetch_token(o.url(TOKEN), client_secret=c["client_secret"],
                                include_client_id=True, verify=cert_of(o))
    assert token["scope"] == ["integration.order"]

    with pytest.raises(InvalidClientError) as refused:
        session.fetch_token(o.url(TOKEN), client_secret="aacs_not-the-secret",
                            verify=cert_of(o))
    assert refused.value.status_code == 401


def test_requests_oauthlib_web_client_code_flow_then_refresh(o):
    c = o.client(unique("webapp"), "authorization_code", "refresh_token")
    session = trusting(OAuthlibSession(c["client_id"], redirect_uri=CALLBACK,
                                       scope=["integration.store"]), o)
    url, state = session.authorization_url(o.url(AUTHORIZE))
    response = approve(o, url)
    assert redirect_params(response)["state"] == state
    token = session.fetch_token(o.url(TOKEN), authorization_response=response,
                                client_secret=c["client_secret"],
                                verify=cert_of(o))
    assert token["scope"] == ["integration.store"]
    r = session.get(o.url(STORE_API), verify=cert_of(o), timeout=30)
    assert r.status_code == 200
    assert env_of(r)["REMOTE_USER"] == "alice"

    refreshed = session.refresh_token(
        o.url(TOKEN), auth=HTTPBasicAuth(c["client_id"], c["client_secret"]),
        verify=cert_of(o))
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    r = session.get(o.url(STORE_API), verify=cert_of(o), timeout=30)
    assert r.status_code == 200

    # the library presenting the same authorization response again gets
    # invalid_grant: a code is good once
    with pytest.raises(InvalidGrantError):
        session.fetch_token(o.url(TOKEN), authorization_response=response,
                            client_secret=c["client_secret"],
                            verify=cert_of(o))


# ---- authlib ---------------------------------------------------------------

@pytest.mark.parametrize("method", ["client_secret_basic",
                                    "client_secret_post"])
def test_authlib_client_credentials_with_each_auth_method(o, method):
    meta = metadata(o)
    assert method in meta["token_endpoint_auth_methods_supported"]
    c = o.client(unique("authlib-m2m"), "client_credentials",
                 scopes=("integration.order", "integration.inventory"))
    session = trusting(AuthlibSession(
        c["client_id"], c["client_secret"], token_endpoint_auth_method=method,
        scope="integration.order"), o)
    sent = recording(session)
    token = session.fetch_token(meta["token_endpoint"],
                                grant_type="client_credentials")
    assert token["scope"] == "integration.order"
    assert token["token_type"] == "Bearer" and token["expires_in"] == 172800
    request = sent[-1]
    if method == "client_secret_basic":
        assert request.headers["Authorization"].startswith("Basic ")
        assert "client_secret" not in request.body
    else:
        assert "Authorization" not in request.headers
        assert "client_secret=" in request.body
    r = session.get(o.url(ORDER_API), timeout=30)
    assert r.status_code == 200

    wrong = trusting(AuthlibSession(
        c["client_id"], c["client_secret"] + "x",
        token_endpoint_auth_method=method, scope="integration.order"), o)
    with pytest.raises(OAuthError) as refused:
        wrong.fetch_token(meta["token_endpoint"],
                          grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


def authlib_code_flow(o, session, verifier):
    """authlib builds the authorization URL with the S256 challenge of
    `verifier`; alice approves; the redirect back."""
    meta = metadata(o)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier)
    got = redirect_params(url)
    assert got["code_challenge_method"] == "S256"
    response = approve(o, url)
    back = redirect_params(response)
    assert back["state"] == state and back["iss"] == meta["issuer"]
    return response


def test_authlib_public_client_code_flow_with_s256_then_refresh(o):
    c = o.client(unique("spa"), "authorization_code", "refresh_token",
                 public=True)
    assert c.get("client_secret") is None

    def fresh_session():
        return trusting(AuthlibSession(
            c["client_id"], token_endpoint_auth_method="none",
            redirect_uri=CALLBACK, scope="integration.store",
            code_challenge_method="S256"), o)

    session = fresh_session()
    verifier = generate_token(48)
    response = authlib_code_flow(o, session, verifier)
    token = session.fetch_token(o.url(TOKEN), authorization_response=response,
                                code_verifier=verifier)
    assert token["scope"] == "integration.store"
    r = session.get(o.url(STORE_API), timeout=30)
    assert r.status_code == 200 and env_of(r)["REMOTE_USER"] == "alice"
    refreshed = session.refresh_token(o.url(TOKEN),
                                      refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    r = session.get(o.url(STORE_API), timeout=30)
    assert r.status_code == 200

    # another verifier than the one challenged: no token
    session = fresh_session()
    response = authlib_code_flow(o, session, generate_token(48))
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(o.url(TOKEN), authorization_response=response,
                            code_verifier=generate_token(48))
    assert refused.value.error == "invalid_grant"

    # and a public client without PKCE gets no code at all
    plain = trusting(AuthlibSession(c["client_id"], redirect_uri=CALLBACK,
                                    scope="integration.store"), o)
    url, state = plain.create_authorization_url(o.url(AUTHORIZE))
    r = o.session().get(url, auth=("alice", "wonderland"),
                        allow_redirects=False, timeout=30)
    assert r.status_code == 302
    back = redirect_params(r.headers["Location"])
    assert back["error"] == "invalid_request" and "code" not in back
    assert back["state"] == state


def test_authlib_confidential_client_code_flow_with_s256_then_refresh(o):
    c = o.client(unique("webapp"), "authorization_code", "refresh_token")

    def fresh_session():
        return trusting(AuthlibSession(
            c["client_id"], c["client_secret"],
            token_endpoint_auth_method="client_secret_basic",
            redirect_uri=CALLBACK, scope="integration.store",
            code_challenge_method="S256"), o)

    session = fresh_session()
    verifier = generate_token(64)
    response = authlib_code_flow(o, session, verifier)
    token = session.fetch_token(o.url(TOKEN), authorization_response=response,
                                code_verifier=verifier)
    assert token["scope"] == "integration.store"
    refreshed = session.refresh_token(o.url(TOKEN),
                                      refresh_token=token["refresh_token"])
    assert refreshed["expires_in"] == 172800
    r = session.get(o.url(STORE_API), timeout=30)
    assert r.status_code == 200 and env_of(r)["REMOTE_USER"] == "alice"

    # the code was challenged, so the verifier may not be left out
    session = fresh_session()
    response = authlib_code_flow(o, session, generate_token(64))
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(o.url(TOKEN), authorization_response=response)
    assert refused.value.error == "invalid_grant"


# ---- the JWT, as another resource server sees it ---------------------------

ALGORITHMS = {"rsa": "RS256", "ec": "ES256", "ed25519": "EdDSA"}


def jwks_key(o, token):
    """The PyJWK of the JWKS published at /.well-known/jwks.json whose kid
    the token names (PyJWKClient cannot be given the test CA)."""
    r = o.session().get(o.url("/.well-known/jwks.json"), timeout=30)
    assert r.status_code == 200
    keys = jwt.PyJWKSet.from_dict(r.json()).keys
    kid = jwt.get_unverified_header(token)["kid"]
    matching = [k for k in keys if k.key_id == kid]
    assert len(matching) == 1, (kid, r.json())
    return matching[0], r.json()


def verified_claims(o, token, alg):
    key, jwks = jwks_key(o, token)
    published = [k for k in jwks["keys"] if k["kid"] == key.key_id][0]
    assert published.get("alg") == alg and published.get("use") == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)
    return jwt.decode(token, key.key, algorithms=[alg], audience=o.issuer,
                      issuer=o.issuer,
                      options={"require": ["exp", "iat", "nbf", "iss", "aud",
                                           "sub", "jti"]})


def tokens_of_both_grants(o):
    c = o.client(unique("verifier"), "authorization_code",
                 "client_credentials", "refresh_token",
                 scopes=("integration.store", "integration.order"))
    cc = o.post(TOKEN, data={"grant_type": "client_credentials",
                             "scope": "integration.order"},
                auth=(c["client_id"], c["client_secret"]))
    assert cc.status_code == 200, cc.text
    url = authorize_url(o, response_type="code", client_id=c["client_id"],
                        redirect_uri=CALLBACK, scope="integration.store")
    code = redirect_params(approve(o, url))["code"]
    ac = o.post(TOKEN, data={"grant_type": "authorization_code",
                             "code": code, "redirect_uri": CALLBACK},
                auth=(c["client_id"], c["client_secret"]))
    assert ac.status_code == 200, ac.text
    return c, cc.json()["access_token"], ac.json()["access_token"]


@pytest.mark.parametrize("kind", sorted(ALGORITHMS))
def test_access_token_verifies_against_published_jwks(signers, kind):
    o = signers(kind)
    alg = ALGORITHMS[kind]
    c, for_client, for_alice = tokens_of_both_grants(o)
    jtis = set()
    for token, sub, scope in [
            (for_client, c["client_id"], "integration.order"),
            (for_alice, "alice", "integration.store")]:
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "at+jwt"                  # RFC 9068 §2.1
        assert header["alg"] == alg
        claims = verified_claims(o, token, alg)
        assert claims["iss"] == o.issuer
        assert claims["aud"] == o.issuer
        assert claims["sub"] == sub
        assert claims["client_id"] == c["client_id"]
        assert claims["scope"] == scope
        assert claims["exp"] - claims["iat"] == 172800
        assert claims["nbf"] == claims["iat"]
        jtis.add(claims["jti"])
    assert len(jtis) == 2


@pytest.mark.parametrize("kind", sorted(ALGORITHMS))
def test_altered_or_misaddressed_token_fails_verification(signers, kind):
    o = signers(kind)
    alg = ALGORITHMS[kind]
    _, token, _ = tokens_of_both_grants(o)
    assert verified_claims(o, token, alg)["scope"] == "integration.order"
    key, _ = jwks_key(o, token)

    head, payload, sig = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["scope"] = "integration.order integration.store"
    widened = jwt.utils.base64url_encode(
        json.dumps(claims).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(".".join([head, widened, sig]), key.key, algorithms=[alg],
                   audience=o.issuer, issuer=o.issuer)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key.key, algorithms=[alg],
                   audience="https://someone-else.example", issuer=o.issuer)
    # the key of another server of the same kind has another kid, and does
    # not verify it either
    other = signers(kind, nth=1)
    other_token = tokens_of_both_grants(other)[1]
    other_key, _ = jwks_key(other, other_token)
    assert other_key.key_id != key.key_id
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other_key.key, algorithms=[alg], audience=o.issuer,
                   issuer=o.issuer)


def test_long_chunked_token_request_is_read_whole(o):
    # a client that streams its body sends no Content-Length: the server
    # grows its buffer as the chunks come (here past 4 KiB, within the
    # default 64 KiB ApiAuthOAuthMaxBody) and reads every parameter
    import requests
    c = o.client(unique("streamer"), "client_credentials",
                 scopes=("integration.order",))
    body = ("pad=" + "x" * 9000 + "&grant_type=client_credentials"
            "&scope=integration.order").encode()
    chunks = [body[i:i + 1000] for i in range(0, len(body), 1000)]
    r = requests.post(o.url(TOKEN), data=iter(chunks),
                      auth=HTTPBasicAuth(c["client_id"], c["client_secret"]),
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded"},
                      verify=cert_of(o), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "integration.order"
