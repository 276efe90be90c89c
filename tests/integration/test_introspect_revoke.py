"""Token introspection (RFC 7662) and revocation (RFC 7009) through a real
apache2, and what a revocation does to the resources behind /integration/v1
(ApiAuthProvider oauth, with the credential cache on as by default).

Introspection tells a client about its own tokens only, unless it is
registered --resource-server; anything else is {"active": false}, the same
answer as for garbage.  Revocation answers 200 whatever it is given, and
changes nothing for a token that is not the caller's."""
import base64
import time

import pytest

from harness import env_of
from oauth_flows import code_for, pkce_pair
from oauth_tokens import (bearer, claims_like, client_auth, client_token,
                          refresh, sign, unverified, user_tokens)

INTROSPECT = "/auth/v2/introspect"
REVOKE = "/auth/v2/revoke"
RESOURCE = "/integration/v1/env"
INACTIVE = {"active": False}


class Clients:
    pass


@pytest.fixture(scope="module")
def o(servers):
    return servers.make()


@pytest.fixture(scope="module")
def c(o):
    k = Clients()
    k.shop = o.client("shop", "authorization_code", "refresh_token",
                      "client_credentials")
    k.other = o.client("other", "authorization_code", "refresh_token",
                       "client_credentials")
    k.rs = o.client("gateway", "client_credentials", resource_server=True)
    k.native = o.client("native", "authorization_code", "refresh_token",
                        redirect_uris=("http://127.0.0.1/cb",), public=True)
    return k


def introspect(o, caller, token, **extra):
    return o.post(INTROSPECT, data={"token": token, **extra},
                  auth=client_auth(caller))


def revoke(o, caller, token, **extra):
    return o.post(REVOKE, data={"token": token, **extra},
                  auth=client_auth(caller))


def active(o, caller, token):
    r = introspect(o, caller, token)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()


def resource(o, token):
    return o.get(RESOURCE, headers=bearer(token))


# ---- introspection --------------------------------------------------------

def test_client_introspects_its_own_access_token_with_every_claim(o, c):
    tokens = user_tokens(o, c.shop)
    _, claims = unverified(tokens["access_token"])
    got = active(o, c.shop, tokens["access_token"])
    assert got == {
        "active": True, "scope": "integration.store",
        "client_id": c.shop["client_id"], "sub": "alice", "aud": o.issuer,
        "iss": o.issuer, "exp": claims["exp"], "iat": claims["iat"],
        "nbf": claims["nbf"], "jti": claims["jti"], "token_type": "Bearer"}
    assert claims["exp"] - claims["iat"] == 172800


def test_client_credentials_token_has_the_client_as_sub(o, c):
    token = client_token(o, c.shop, scope="integration.store")
    got = active(o, c.shop, token["access_token"])
    assert got["active"] is True
    assert got["sub"] == c.shop["client_id"]


def test_another_clients_access_token_is_inactive(o, c):
    token = client_token(o, c.shop)["access_token"]
    assert active(o, c.other, token) == INACTIVE
    assert active(o, c.shop, token)["active"] is True


def test_resource_server_client_may_introspect_any_token(o, c):
    shops = user_tokens(o, c.shop)
    others = client_token(o, c.other)
    for token in (shops["access_token"], others["access_token"]):
        got = active(o, c.rs, token)
        assert got["active"] is True, got
    got = active(o, c.rs, shops["refresh_token"])
    assert got["active"] is True and got["client_id"] == c.shop["client_id"]


def test_access_token_is_inactive_once_its_exp_has_passed(oauth_factory):
    # what the server issued itself, by its own clock: expired means
    # expired, here as at its resources (RFC 7662 §2.2)
    short = oauth_factory(extra="ApiAuthOAuthAccessTokenLifetime 2")
    shop = short.client("shop", "client_credentials")
    token = client_token(short, shop)["access_token"]
    exp = unverified(token)[1]["exp"]
    assert active(short, shop, token)["active"] is True
    time.sleep(max(0.0, exp + 1.1 - time.time()))
    assert resource(short, token).status_code == 401
    assert active(short, shop, token) == INACTIVE


def test_long_expired_access_token_is_inactive(o, c):
    # built with the server's own signing key, so that only the dates
    # differ from what it issues: expired well beyond its leeway...
    kid = unverified(client_token(o, c.shop)["access_token"])[0]["kid"]
    old = sign(claims_like(o, c.shop, exp_in=-600, iat_ago=3600),
               o.signing_key, "RS256", kid)
    assert active(o, c.shop, old) == INACTIVE
    assert resource(o, old).status_code == 401
    # ...and the same token still valid is taken for one of ours
    fresh = sign(claims_like(o, c.shop), o.signing_key, "RS256", kid)
    assert active(o, c.shop, fresh)["active"] is True
    assert resource(o, fresh).status_code == 200


@pytest.mark.parametrize("garbage", [
    "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "rft_" + "x" * 40,
    "x" * 5000])
def test_garbage_token_is_inactive(o, c, garbage):
    assert active(o, c.shop, garbage) == INACTIVE


def test_revoked_access_token_is_inactive(o, c):
    token = client_token(o, c.shop)["access_token"]
    assert active(o, c.shop, token)["active"] is True
    assert revoke(o, c.shop, token).status_code == 200
    assert active(o, c.shop, token) == INACTIVE


def test_own_refresh_token_is_active_until_used(o, c):
    tokens = user_tokens(o, c.shop)
    got = active(o, c.shop, tokens["refresh_token"])
    assert got["active"] is True
    assert got["client_id"] == c.shop["client_id"]
    assert got["sub"] == "alice"
    assert got["scope"] == "integration.store"
    assert got["iss"] == o.issuer
    assert got["exp"] > time.time() + 345600 - 60
    r = refresh(o, c.shop, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert active(o, c.shop, tokens["refresh_token"]) == INACTIVE
    assert active(o, c.shop, r.json()["refresh_token"])["active"] is True


def test_another_clients_refresh_token_is_inactive(o, c):
    tokens = user_tokens(o, c.shop)
    assert active(o, c.other, tokens["refresh_token"]) == INACTIVE
    # and asking did not harm it
    assert refresh(o, c.shop, tokens["refresh_token"]).status_code == 200


def test_token_type_hint_does_not_change_the_answer(o, c):
    tokens = user_tokens(o, c.shop)
    got = introspect(o, c.shop, tokens["access_token"],
                     token_type_hint="refresh_token").json()
    assert got["active"] is True
    got = introspect(o, c.shop, tokens["refresh_token"],
                     token_type_hint="access_token").json()
    assert got["active"] is True


def test_introspection_without_client_authentication_is_401(o, c):
    token = client_token(o, c.shop)["access_token"]
    r = o.post(INTROSPECT, data={"token": token})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].lower().startswith("basic")
    r = o.post(INTROSPECT, data={"token": token},
               auth=(c.shop["client_id"], "wrong-secret"))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    # naming a client is not authenticating as it
    r = o.post(INTROSPECT, data={"token": token,
                                 "client_id": c.shop["client_id"]})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    r = o.post(INTROSPECT, data={"token": token,
                                 "client_id": c.native["client_id"]})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert introspect(o, c.shop, token).json()["active"] is True


def test_introspection_without_token_is_400(o, c):
    r = o.post(INTROSPECT, data={}, auth=client_auth(c.shop))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    r = o.post(INTROSPECT, data={"token": ""}, auth=client_auth(c.shop))
    assert r.status_code == 400


def test_introspection_takes_post_only(o, c):
    token = client_token(o, c.shop)["access_token"]
    r = o.get(INTROSPECT, params={"token": token}, auth=client_auth(c.shop))
    assert r.status_code == 405
    # refused, and not written to the access log either
    log = o.httpd.wait_for_access_log("?token=***")
    assert "?token=*** " in log and token not in log


# ---- revocation -------------------------------------------------------------

def test_revoked_access_token_is_refused_at_once_despite_the_cache(o, c):
    token = client_token(o, c.shop)["access_token"]
    r = resource(o, token)
    assert r.status_code == 200, r.text
    assert resource(o, token).status_code == 200    # now surely cached
    r = revoke(o, c.shop, token)
    assert r.status_code == 200
    assert r.text == ""
    r = resource(o, token)
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_token"
    assert active(o, c.shop, token) == INACTIVE


def on_one_connection(o, token, times=3):
    """A keep-alive connection that has used `token` `times` times (its
    memo then holds the token and what the cache said of it)."""
    s = o.session()
    for _ in range(times):
        r = s.get(o.url(RESOURCE), headers=bearer(token), timeout=30)
        assert r.status_code == 200, r.text
    return s


# the order of P-256's group: an ECDSA signature (r, s) verifies as (r, n - s)
P256_N = int("FFFFFFFF00000000FFFFFFFFFFFFFFFF"
             "BCE6FAADA7179E84F3B9CAC2FC632551", 16)


def other_encoding(token):
    """The same ES256 token with its signature's s replaced by n - s:
    another string, as valid, with the same jti."""
    head, payload, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    r_, s_ = raw[:32], int.from_bytes(raw[32:], "big")
    flipped = r_ + (P256_N - s_).to_bytes(32, "big")
    return ".".join((head, payload, base64.urlsafe_b64encode(
        flipped).rstrip(b"=").decode()))


def test_revocation_holds_for_every_encoding_of_the_token(servers):
    """Revoked at once means every copy: ECDSA accepts s and n - s, so one
    ES256 token has two valid strings with one jti; each is cached under
    its own key, and revoking one must refuse both at once."""
    o = servers.make(key_kind="ec")
    shop = o.client("shop", "client_credentials")
    token = client_token(o, shop, scope="integration.store")["access_token"]
    copy = other_encoding(token)
    assert copy != token
    for t in (token, copy):      # both taken, and both cached
        assert o.get(RESOURCE, headers=bearer(t)).status_code == 200
    assert revoke(o, shop, token).status_code == 200
    for t in (token, copy):
        r = o.get(RESOURCE, headers=bearer(t))
        assert r.status_code == 401, r.text
    assert introspect(o, shop, copy).json() == INACTIVE


def test_revoking_the_other_encoding_revokes_the_token(servers):
    o = servers.make(key_kind="ec")
    shop = o.client("shop", "client_credentials")
    token = client_token(o, shop, scope="integration.store")["access_token"]
    assert o.get(RESOURCE, headers=bearer(token)).status_code == 200
    assert revoke(o, shop, other_encoding(token)).status_code == 200
    assert o.get(RESOURCE, headers=bearer(token)).status_code == 401


def test_revocation_reaches_a_connection_kept_open_at_once(o, c):
    """Under shmcb a keep-alive connection does not ask the cache again
    while the server's change count (apiauth_socache.c) has not moved; the
    revocation, made on another connection, moves it, whichever process
    holds which connection."""
    token = client_token(o, c.shop)["access_token"]
    with on_one_connection(o, token) as kept:
        assert revoke(o, c.shop, token).status_code == 200
        r = kept.get(o.url(RESOURCE), headers=bearer(token), timeout=30)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "invalid_token"


def test_family_revocation_reaches_a_connection_kept_open_at_once(o, c):
    """The access token's cache entry stays (its key is a digest of the
    token, which the revocation of the refresh token does not have); the
    grant's revocation marker must reach the open connection."""
    tokens = user_tokens(o, c.shop)
    with on_one_connection(o, tokens["access_token"]) as kept:
        assert revoke(o, c.shop, tokens["refresh_token"]).status_code == 200
        r = kept.get(o.url(RESOURCE), headers=bearer(tokens["access_token"]),
                     timeout=30)
        assert r.status_code == 401, r.text


def test_revoking_a_refresh_token_revokes_its_family(o, c):
    first = user_tokens(o, c.shop)
    second = refresh(o, c.shop, first["refresh_token"]).json()
    assert revoke(o, c.shop, second["refresh_token"]).status_code == 200
    r = refresh(o, c.shop, second["refresh_token"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        r = resource(o, token)
        assert r.status_code == 401, r.text
        assert active(o, c.shop, token) == INACTIVE
    assert active(o, c.shop, second["refresh_token"]) == INACTIVE


def test_revoking_a_refresh_token_refuses_its_access_tokens_already_cached(
        o, c):
    # the access token was in use (so in the cache) when the client revoked
    # the refresh token, say at logout: the family ends at once all the same
    tokens = user_tokens(o, c.shop)
    assert resource(o, tokens["access_token"]).status_code == 200
    assert resource(o, tokens["access_token"]).status_code == 200
    assert revoke(o, c.shop, tokens["refresh_token"]).status_code == 200
    assert refresh(o, c.shop, tokens["refresh_token"]).status_code == 400
    r = resource(o, tokens["access_token"])
    assert r.status_code == 401, r.text


def test_revoking_an_unknown_token_answers_200(o, c):
    for token in ("never-issued", "rft_" + "A" * 43,
                  client_token(o, c.shop)["access_token"][:-4] + "AAAA"):
        r = revoke(o, c.shop, token)
        assert r.status_code == 200, (token, r.text)


def test_revoking_another_clients_tokens_answers_200_and_changes_nothing(
        o, c):
    tokens = user_tokens(o, c.shop)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert revoke(o, c.other, token).status_code == 200
    r = resource(o, tokens["access_token"])
    assert r.status_code == 200, r.text
    assert env_of(r)["REMOTE_USER"] == "alice"
    assert active(o, c.shop, tokens["access_token"])["active"] is True
    r = refresh(o, c.shop, tokens["refresh_token"])
    assert r.status_code == 200, r.text


def test_public_client_revokes_its_refresh_token_by_client_id(o, c):
    verifier, challenge = pkce_pair()
    uri = "http://127.0.0.1:50505/cb"
    code = code_for(o, c.native["client_id"], redirect_uri=uri,
                    code_challenge=challenge, code_challenge_method="S256")
    r = o.post("/auth/v2/token", data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": uri, "code_verifier": verifier,
        "client_id": c.native["client_id"]})
    assert r.status_code == 200, r.text
    rt = r.json()["refresh_token"]
    # another client cannot, the public one itself can
    assert revoke(o, c.shop, rt).status_code == 200
    r = o.post(REVOKE, data={"token": rt, "client_id": c.native["client_id"]})
    assert r.status_code == 200, r.text
    r = o.post("/auth/v2/token", data={
        "grant_type": "refresh_token", "refresh_token": rt,
        "client_id": c.native["client_id"]})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_revocation_without_client_authentication_is_401(o, c):
    token = client_token(o, c.shop)["access_token"]
    r = o.post(REVOKE, data={"token": token})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    r = o.post(REVOKE, data={"token": token},
               auth=(c.shop["client_id"], "wrong-secret"))
    assert r.status_code == 401
    # a confidential client naming itself without its secret
    r = o.post(REVOKE, data={"token": token,
                             "client_id": c.shop["client_id"]})
    assert r.status_code == 401
    assert resource(o, token).status_code == 200


def test_revocation_without_token_is_400(o, c):
    r = o.post(REVOKE, data={}, auth=client_auth(c.shop))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
