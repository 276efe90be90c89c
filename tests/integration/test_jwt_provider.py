"""ApiAuthProvider jwt (RFC 9068 §4, RFC 8725): a second apache2 with
mod_apiauth alone -- no store, no mod_apiauth_oauth -- checks the access
tokens of an authorization server with nothing but its public keys (the
JWKS it publishes, or a PEM file), its issuer and its audience.

Every refusal is a token the verifier must not take: one that expired, one
for another issuer or audience, alg none, HMAC keyed with the public key,
an unknown kid, a payload changed after signing, a signature by another
key.  Next to them, the same path with a token the server issued, which it
takes.  Key rotation: a published (not yet, or no longer, signing) key
keeps verifying the tokens it signed."""
import json
import shutil
import time
from pathlib import Path

import pytest

from harness import env_of, make_key, make_workdir
from oauth_tokens import (bearer, claims_like, client_token, hmac_signed,
                          public_pem, sign, sign_header, thumbprint, unsigned,
                          unverified, user_tokens, with_payload)

ALGS = {"rsa": "RS256", "ec": "ES256", "ed25519": "EdDSA"}
OTHER = "https://other.example"


def location(path, keys=None, issuer=None, audience=None, extra="",
             local=True, require="apiauth-scope integration.store"):
    """A verifier location.  `local`: the issuer is declared this
    deployment's own (its tokens name our apps and clients)."""
    lines = [f"<Location {path}>", "    AuthType apiauth",
             '    AuthName "verifier"', "    ApiAuthScheme bearer",
             "    ApiAuthProvider jwt"]
    if keys:
        lines.append(f'    ApiAuthJWTKeys "{keys}"')
    if issuer:
        lines.append(f"    ApiAuthJWTIssuer {issuer}"
                     + (" local" if local else ""))
    if audience:
        lines.append(f"    ApiAuthJWTAudience {audience}")
    if extra:
        lines.append("    " + extra)
    lines += ["    AuthzSendForbiddenOnFailure On",
              f"    Require {require}", "</Location>"]
    return "\n".join(lines) + "\n"


def save_jwks(o, directory, name):
    """The server's JWKS as a resource server would download it."""
    r = o.get("/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    path = Path(directory) / name
    path.write_text(r.text)
    path.chmod(0o644)
    return path


class World:
    pass


@pytest.fixture(scope="module")
def w(servers, module_httpd):
    """One authorization server per key type, each with a client; one
    verifier with a location per configuration."""
    k = World()
    k.dir = make_workdir("apiauth-jwt-")
    k.as_ = {}
    k.shop = {}
    body = ""
    for kind in ALGS:
        o = servers.make(key_kind=kind)
        k.as_[kind] = o
        k.shop[kind] = o.client("shop", "authorization_code",
                                "client_credentials")
        jwks = save_jwks(o, k.dir, f"{kind}.jwks.json")
        body += location(f"/{kind}", jwks, o.issuer, o.issuer)
    rsa = k.as_["rsa"]
    k.rsa_public = public_pem(rsa.signing_key, k.dir / "rsa.pub.pem")
    rsa_jwks = k.dir / "rsa.jwks.json"
    body += location("/pem", k.rsa_public, rsa.issuer, rsa.issuer)
    # the issuer and audience of /rsa, but keys of its own: say a node
    # that no longer trusts a withdrawn key
    other_keys = public_pem(make_key(k.dir, "rsa", "other-keys.pem"),
                            k.dir / "other-keys.pub.pem")
    body += location("/rsa-other-keys", other_keys, rsa.issuer, rsa.issuer)
    body += location("/wrong-issuer", rsa_jwks, OTHER, rsa.issuer)
    body += location("/wrong-audience", rsa_jwks, rsa.issuer, OTHER)
    # another organisation's authorization server: its keys, its issuer
    k.ext_key = make_key(k.dir, "ec", "ext.pem")
    ext_public = public_pem(k.ext_key, k.dir / "ext.pub.pem")
    body += location("/ext", ext_public, OTHER, "https://api.example",
                     local=False)
    body += location("/ext-app", ext_public, OTHER, "https://api.example",
                     local=False, require="apiauth-app " + k.shop["rsa"]["app"])
    # our own issuer, not declared local: taken as anybody's
    body += location("/rsa-not-local", rsa_jwks, rsa.issuer, rsa.issuer,
                     local=False)
    k.verifier = module_httpd(body=body)
    k.kid = unverified(client_token(rsa, k.shop["rsa"])["access_token"])[0][
        "kid"]
    yield k
    shutil.rmtree(k.dir, ignore_errors=True)


@pytest.fixture
def scratch():
    """A directory the server's user can read, removed afterwards."""
    d = make_workdir("apiauth-scratch-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def token_of(w, kind="rsa"):
    return client_token(w.as_[kind], w.shop[kind],
                        scope="integration.store")["access_token"]


def at(w, path, token):
    return w.verifier.get(path + "/env", headers=bearer(token))


def assert_refused(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


# ---- what it takes ----------------------------------------------------------

@pytest.mark.parametrize("kind", list(ALGS))
def test_verifier_accepts_the_servers_access_tokens(w, kind):
    token = token_of(w, kind)
    header, claims = unverified(token)
    assert header["alg"] == ALGS[kind]
    assert header["typ"] == "at+jwt"
    r = at(w, "/" + kind, token)
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_KIND"] == "oauth"
    assert env["APIAUTH_SCHEME"] == "bearer"
    assert env["APIAUTH_SCOPE"] == "integration.store"
    assert env["APIAUTH_CLIENT_ID"] == w.shop[kind]["client_id"]
    assert env["APIAUTH_APP"] == w.shop[kind]["app"]
    assert env["APIAUTH_CREDENTIAL_ID"] == claims["jti"]
    assert env["APIAUTH_EXPIRES"] == str(claims["exp"])
    assert "APIAUTH_USER" not in env


def test_verifier_takes_the_user_from_a_user_token(w):
    o = w.as_["rsa"]
    token = user_tokens(o, w.shop["rsa"])["access_token"]
    r = at(w, "/rsa", token)
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["REMOTE_USER"] == "alice"
    assert env["APIAUTH_USER"] == "alice"
    assert env["APIAUTH_CLIENT_ID"] == w.shop["rsa"]["client_id"]


def test_verifier_with_the_pem_public_key_accepts_the_servers_tokens(w):
    r = at(w, "/pem", token_of(w))
    assert r.status_code == 200, r.text
    # and the key is the RSA one only
    assert_refused(at(w, "/pem", token_of(w, "ec")))


def test_verifier_refuses_a_token_of_another_server(w):
    # right shape, right algorithm family, another issuer and key
    assert_refused(at(w, "/rsa", token_of(w, "ec")))
    assert_refused(at(w, "/ec", token_of(w, "rsa")))


def test_insufficient_scope_is_403_not_401(w):
    o = w.as_["rsa"]
    shop = o.client("shop-orders", "client_credentials",
                    scopes=("integration.order",))
    token = client_token(o, shop)["access_token"]
    r = at(w, "/rsa", token)
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


# ---- what it must not take --------------------------------------------------

def test_wrong_issuer_configured_on_the_verifier_refuses(w):
    token = token_of(w)
    assert_refused(at(w, "/wrong-issuer", token))
    assert at(w, "/rsa", token).status_code == 200


def test_wrong_audience_configured_on_the_verifier_refuses(w):
    token = token_of(w)
    assert_refused(at(w, "/wrong-audience", token))
    assert at(w, "/rsa", token).status_code == 200


def test_token_taken_at_one_location_is_checked_again_at_another(w):
    # the credential cache must not carry a token verified under one
    # location's keys, issuer and audience to a location with others
    token = token_of(w)
    assert at(w, "/rsa", token).status_code == 200
    assert_refused(at(w, "/wrong-issuer", token))
    assert_refused(at(w, "/wrong-audience", token))
    assert_refused(at(w, "/rsa-other-keys", token))
    assert_refused(at(w, "/ec", token))
    foreign = token_of(w, "ec")
    assert at(w, "/ec", foreign).status_code == 200
    assert_refused(at(w, "/rsa", foreign))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_token_with_alg_none_is_refused(w, alg):
    header, claims = unverified(token_of(w))
    header["alg"] = alg
    for signature in ("", "AAAA"):
        assert_refused(at(w, "/rsa", unsigned(header, claims, signature)))
    del header["kid"]
    assert_refused(at(w, "/rsa", unsigned(header, claims)))


def test_hs256_token_keyed_with_the_rsa_public_key_is_refused(w):
    header, claims = unverified(token_of(w))
    header["alg"] = "HS256"
    pem = Path(w.rsa_public).read_bytes()
    jwks = json.loads((w.dir / "rsa.jwks.json").read_text())
    for secret in (pem, pem.strip(), json.dumps(jwks["keys"][0]).encode()):
        for path in ("/rsa", "/pem"):
            assert_refused(at(w, path, hmac_signed(header, claims, secret)))
            without_kid = {k: v for k, v in header.items() if k != "kid"}
            assert_refused(at(w, path, hmac_signed(without_kid, claims,
                                                   secret)))


def test_token_signed_with_the_servers_key_and_kid_is_accepted(w):
    # the control for the forgeries below: this module's signing code makes
    # tokens the verifier takes when nothing is wrong with them
    o = w.as_["rsa"]
    token = sign(claims_like(o, w.shop["rsa"]), o.signing_key, "RS256",
                 w.kid)
    assert at(w, "/rsa", token).status_code == 200


@pytest.mark.parametrize("kid", ["unknown", "", 7, None],
                         ids=["unknown", "empty", "number", "null"])
def test_token_with_an_unknown_kid_is_refused(w, kid):
    o = w.as_["rsa"]
    header = {"alg": "RS256", "typ": "at+jwt", "kid": kid}
    token = sign_header(header, claims_like(o, w.shop["rsa"]), o.signing_key)
    assert_refused(at(w, "/rsa", token))


@pytest.mark.parametrize("change", [
    {"scope": "integration.store integration.order"},
    {"sub": "admin"},
    {"exp": 4102444800},
    {"client_id": "cli_someoneelse"},
], ids=["scope", "sub", "exp", "client_id"])
def test_token_with_a_tampered_payload_is_refused(w, change):
    token = token_of(w)
    _, claims = unverified(token)
    assert at(w, "/rsa", token).status_code == 200
    assert_refused(at(w, "/rsa", with_payload(token, {**claims, **change})))


def test_one_connection_sending_one_token_then_others_gets_each_its_due(w):
    # mod_apiauth remembers, per connection, the last credential and its
    # cache key: a keep-alive client sending the same token again is not
    # hashed again.  Another token, a shorter one, a tampered copy (the
    # same length, one character apart) on the same connection must each
    # be taken for what they are.
    a = token_of(w)
    b = client_token(w.as_["rsa"], w.shop["rsa"],
                     scope="integration.store")["access_token"]
    _, claims = unverified(a)
    assert len(a) > 512 and a != b
    s = w.verifier.session()
    url = w.verifier.url("/rsa/env")

    def ok(token):
        r = s.get(url, headers=bearer(token), timeout=30)
        assert r.status_code == 200, r.text
        return env_of(r)

    assert ok(a)["APIAUTH_CLIENT_ID"] == claims["client_id"]
    assert ok(a)["APIAUTH_CREDENTIAL_ID"] == claims["jti"]
    assert ok(b)["APIAUTH_CREDENTIAL_ID"] == unverified(b)[1]["jti"]
    last = "A" if a[-1] != "A" else "B"
    r = s.get(url, headers=bearer(a[:-1] + last), timeout=30)
    assert r.status_code == 401
    forged = with_payload(a, {**claims, "sub": "admin"})
    assert s.get(url, headers=bearer(forged), timeout=30).status_code == 401
    r = s.get(url, headers=bearer("short"), timeout=30)
    assert r.status_code == 401
    assert ok(a)["APIAUTH_CREDENTIAL_ID"] == claims["jti"]


def test_token_signed_by_another_key_is_refused(w):
    o = w.as_["rsa"]
    stranger = make_key(w.dir, "rsa", "stranger.pem")
    claims = claims_like(o, w.shop["rsa"])
    # under the server's kid, under no kid, under the stranger's own
    for header in ({"alg": "RS256", "typ": "at+jwt", "kid": w.kid},
                   {"alg": "RS256", "typ": "at+jwt"},
                   {"alg": "RS256", "typ": "at+jwt", "kid": "stranger"}):
        assert_refused(at(w, "/rsa", sign_header(header, claims, stranger)))
    # the same claims under the server's key are taken
    header = {"alg": "RS256", "typ": "at+jwt", "kid": w.kid}
    r = at(w, "/rsa", sign_header(header, claims, o.signing_key))
    assert r.status_code == 200, r.text


def test_token_of_another_type_is_refused(w):
    # an ID token or any other JWT signed by the same key (RFC 8725 §3.11)
    o = w.as_["rsa"]
    claims = claims_like(o, w.shop["rsa"])
    assert_refused(at(w, "/rsa", sign(claims, o.signing_key, "RS256", w.kid,
                                      typ="JWT")))
    assert_refused(at(w, "/rsa", sign(claims, o.signing_key, "RS256", w.kid,
                                      typ=None)))


@pytest.mark.parametrize("change", [
    {"sub": "bob\r\nX-ApiAuth-Kind: backend"},
    {"client_id": "cli_x\nX-Injected: yes"},
    {"app": "app_x\r\nX-Injected: yes"},
    {"jti": "atk_\r\nX-Injected: yes"},
    {"scope": "integration.store\r\nX-Injected: yes"},
    {"scope": 'integration.store "quoted"'},
    {"sub": "bob smith"},
    {"sub": "bob:builder"},
    {"sub": "b" * 200},
    # a user who would pass for one of our apps or clients
    {"sub": "app_victim"},
    {"sub": "cli_victim"},
    {"sub": "app_victim", "client_id": "app_victim"},
], ids=["sub-crlf", "client-id-lf", "app-crlf", "jti-crlf", "scope-crlf",
        "scope-quote", "sub-space", "sub-colon", "sub-long", "sub-app",
        "sub-cli", "client-id-app"])
def test_signed_claims_that_cannot_name_anyone_here_are_refused(w, change):
    """The issuer's signature is good; its claims would still become
    r->user, APIAUTH_* and X-ApiAuth-* headers: a line break would inject
    headers into the request to the backend, an app_ or cli_ user would
    pass for one of ours."""
    o = w.as_["rsa"]
    claims = {**claims_like(o, w.shop["rsa"], sub="bob"), **change}
    assert_refused(at(w, "/rsa", sign(claims, o.signing_key, "RS256",
                                      w.kid)))


def ext_claims(sub="auth0|5f7c8e", client_id="abcXYZ123", **more):
    now = int(time.time())
    return {"iss": OTHER, "aud": "https://api.example", "sub": sub,
            "client_id": client_id, "scope": "integration.store",
            "iat": now, "exp": now + 600,
            "jti": f"ext-{time.time_ns()}", **more}


def ext_token(w, **claims):
    """A token of the other organisation's server, signed by its key."""
    return sign(ext_claims(**claims), w.ext_key, "ES256",
                thumbprint(w.ext_key))


def test_another_issuers_token_names_its_client_and_issuer(w):
    r = at(w, "/ext", ext_token(w))
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_ISSUER"] == OTHER
    assert env["APIAUTH_CLIENT_ID"] == "abcXYZ123"
    assert env["APIAUTH_USER"] == "auth0|5f7c8e"
    assert env["APIAUTH_KIND"] == "oauth"


@pytest.mark.parametrize("claims", [
    {"client_id": "cli_" + "x" * 16},
    {"sub": "cli_" + "x" * 16},
    {"sub": "app_" + "x" * 16},
    {"sub": "cli_same", "client_id": "cli_same"},
], ids=["client-id", "sub-cli", "sub-app", "sub-is-client"])
def test_another_issuers_token_cannot_take_our_names(w, claims):
    """A token of https://other.example may not pass for one of our
    clients or apps: its names are refused, whatever its signature."""
    r = at(w, "/ext", ext_token(w, **claims))
    assert_refused(r)


def test_another_issuers_app_claim_names_no_app_of_ours(w):
    """The `app` claim is believed from a local issuer only: a foreign
    token naming our app is its client's, and Require apiauth-app of that
    app refuses it."""
    ours = w.shop["rsa"]["app"]
    token = ext_token(w, app=ours)
    r = at(w, "/ext", token)
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_APP"] == "abcXYZ123"
    r = at(w, "/ext-app", token)
    assert r.status_code == 403, r.text
    # the same app named by our own issuer's token, where it is local
    r = at(w, "/rsa", token_of(w, "rsa"))
    assert env_of(r)["APIAUTH_APP"] == ours
    assert env_of(r)["APIAUTH_ISSUER"] == w.as_["rsa"].issuer


def test_our_own_tokens_need_the_issuer_declared_local(w):
    """Without `local`, our issuer is any issuer: its cli_ clients are not
    taken -- and a cached answer of a local location is not reused."""
    token = token_of(w, "rsa")
    assert at(w, "/rsa", token).status_code == 200
    assert_refused(at(w, "/rsa-not-local", token))


def test_signed_claims_of_unusual_but_clean_names_are_accepted(w):
    o = w.as_["rsa"]
    sub = "auth0|5f7c8ec7c33c6c004bbafe82"
    claims = claims_like(o, w.shop["rsa"], sub=sub)
    r = at(w, "/rsa", sign(claims, o.signing_key, "RS256", w.kid))
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_USER"] == sub


@pytest.mark.parametrize("exp_in, status", [(-30, 200), (-61, 401)],
                         ids=["within-leeway", "past-leeway"])
def test_leeway_covers_exp_as_it_covers_nbf(w, exp_in, status):
    """ApiAuthJWTLeeway (60 s here) is clock skew for exp too: a token
    whose exp passed 30 s ago on this node's clock is still taken, one of
    61 s ago is not."""
    o = w.as_["rsa"]
    claims = claims_like(o, w.shop["rsa"], exp_in=exp_in, iat_ago=600)
    r = at(w, "/rsa", sign(claims, o.signing_key, "RS256", w.kid))
    assert r.status_code == status, (r.status_code, r.text)
    if status == 401:
        assert_refused(r)


def test_token_without_iat_is_refused(w):
    """RFC 9068 §2.2: iat is required of a JWT access token."""
    o = w.as_["rsa"]
    claims = claims_like(o, w.shop["rsa"])
    r = at(w, "/rsa", sign(claims, o.signing_key, "RS256", w.kid))
    assert r.status_code == 200, r.text
    del claims["iat"]
    claims["jti"] += "-no-iat"
    r = at(w, "/rsa", sign(claims, o.signing_key, "RS256", w.kid))
    assert_refused(r)
    assert r.json()["error_description"] == "the token has no iat"


def test_expired_token_is_refused(oauth_factory, httpd_factory):
    o = oauth_factory(extra="ApiAuthOAuthAccessTokenLifetime 2")
    shop = o.client("shop", "client_credentials")
    jwks = save_jwks(o, o.dir, "jwks.json")
    verifier = httpd_factory(body=location(
        "/api", jwks, o.issuer, o.issuer, extra="ApiAuthJWTLeeway 0"))
    # start at the top of a second, so that the token is surely still
    # valid when first used
    time.sleep(1.02 - time.time() % 1)
    token = client_token(o, shop)["access_token"]
    exp = unverified(token)[1]["exp"]
    r = verifier.get("/api/env", headers=bearer(token))
    assert r.status_code == 200, r.text
    time.sleep(max(0.0, exp + 0.2 - time.time()))
    assert_refused(verifier.get("/api/env", headers=bearer(token)))


# ---- key rotation -----------------------------------------------------------

def replace_in_conf(o, *pairs):
    """Stops the server, changes its configuration, starts it again (same
    port, so the same issuer, and the same store)."""
    o.stop()
    text = o.httpd.conf.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    o.httpd.conf.write_text(text)
    o.start()


def jwks_kids(o):
    return {k["kid"]: k for k in o.get("/.well-known/jwks.json").json()[
        "keys"]}


def test_rotation_keeps_tokens_of_the_old_key_valid_while_published(
        scratch, oauth_factory, httpd_factory):
    keydir = scratch
    new_key = make_key(keydir, "ec", "next.pem")
    new_public = public_pem(new_key, keydir / "next.pub.pem")
    o = oauth_factory(extra=f'ApiAuthOAuthPublishKey "{new_public}"')
    old_public = public_pem(o.signing_key, keydir / "old.pub.pem")
    shop = o.client("shop", "client_credentials")

    # 1. A signs, B is published ahead of its use
    old_token = client_token(o, shop)["access_token"]
    old_kid = unverified(old_token)[0]["kid"]
    kids = jwks_kids(o)
    assert len(kids) == 2 and old_kid in kids
    (new_kid,) = set(kids) - {old_kid}
    assert kids[new_kid]["kty"] == "EC" and kids[old_kid]["kty"] == "RSA"
    assert all("d" not in k for k in kids.values())

    # 2. B signs, A stays published
    replace_in_conf(
        o, (f'ApiAuthOAuthSigningKey "{o.signing_key}"',
            f'ApiAuthOAuthSigningKey "{new_key}"'),
        (f'ApiAuthOAuthPublishKey "{new_public}"',
         f'ApiAuthOAuthPublishKey "{old_public}"'))
    new_token = client_token(o, shop)["access_token"]
    header = unverified(new_token)[0]
    assert header["kid"] == new_kid and header["alg"] == "ES256"
    assert set(jwks_kids(o)) == {old_kid, new_kid}
    for token in (old_token, new_token):
        r = o.get("/integration/v1/env", headers=bearer(token))
        assert r.status_code == 200, r.text
    jwks = save_jwks(o, keydir, "jwks.json")
    verifier = httpd_factory(body=location("/api", jwks, o.issuer, o.issuer))
    for token in (old_token, new_token):
        r = verifier.get("/api/env", headers=bearer(token))
        assert r.status_code == 200, r.text

    # 3. A is withdrawn: its tokens end, B's go on
    replace_in_conf(o, (f'ApiAuthOAuthPublishKey "{old_public}"', ""))
    assert set(jwks_kids(o)) == {new_kid}
    r = o.get("/integration/v1/env", headers=bearer(old_token))
    assert r.status_code == 401, r.text
    r = o.get("/integration/v1/env", headers=bearer(new_token))
    assert r.status_code == 200, r.text


# ---- next to the oauth provider ---------------------------------------------

def test_own_issuers_tokens_are_decided_by_oauth_even_after_jwt(servers):
    """`ApiAuthProvider jwt oauth`: a token of this server's issuer goes to
    oauth, which knows revocation, although jwt is listed first and could
    verify it; jwt alone cannot know a revocation."""
    o = servers.make(start=False)
    keys = public_pem(o.signing_key, o.dir / "own.pub.pem")
    both = location("/both", keys, o.issuer, o.issuer,
                    extra="ApiAuthCache off").replace(
        "ApiAuthProvider jwt", "ApiAuthProvider jwt oauth")
    alone = location("/jwt-only", keys, o.issuer, o.issuer,
                     extra="ApiAuthCache off")
    o.httpd.conf.write_text(o.httpd.conf.read_text() + both + alone)
    o.start()
    shop = o.client("shop", "client_credentials")
    token = client_token(o, shop)["access_token"]
    for path in ("/both", "/jwt-only"):
        r = o.get(path + "/env", headers=bearer(token))
        assert r.status_code == 200, (path, r.text)
    assert o.post("/auth/v2/revoke", data={"token": token},
                  auth=(shop["client_id"], shop["client_secret"])
                  ).status_code == 200
    assert_refused(o.get("/both/env", headers=bearer(token)))
    # documented: signatures alone hold until the token expires
    assert o.get("/jwt-only/env", headers=bearer(token)).status_code == 200
