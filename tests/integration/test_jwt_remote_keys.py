"""ApiAuthJWT keys=https://...: the jwt provider takes an issuer's keys
from its JWKS URL, as operators in front of Keycloak, Auth0 or Okta have
them.  The set is fetched when httpd starts; a token naming a key the set
lacks (the issuer rotated) has it fetched again, at most once per
keys-refetch seconds by all the server's children together, which share
what it brought; a kid nobody publishes stays refused, without a fetch
per request.  A set that cannot be had is the server's
problem (503), not the caller's."""
import json
import threading
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dpop_keys import ec_jwk
from harness import Httpd, env_of, make_workdir
from test_cimd import Documents

ISSUER = "https://idp.example"
AUDIENCE = "https://api.example"


class Keys:
    """Keys of an issuer and the JWKS it publishes."""

    def __init__(self):
        self.keys = {}
        self.published = []

    def new(self, kid):
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return kid

    def publish(self, *kids):
        self.published = list(kids)

    def jwks(self):
        out = []
        for kid in self.published:
            j = ec_jwk(self.keys[kid])
            j.update(kid=kid, use="sig", alg="ES256")
            out.append(j)
        return json.dumps({"keys": out}).encode()

    def token(self, kid):
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1",
                  "client_id": "partner", "jti": str(uuid.uuid4()),
                  "iat": now, "exp": now + 300, "scope": "read"}
        return jwt.encode(claims, self.keys[kid], algorithm="ES256",
                          headers={"kid": kid, "typ": "at+jwt"})


class World:
    pass


@pytest.fixture(scope="module")
def w(tls):
    k = World()
    k.issuer = Keys()
    k.issuer.new("a")
    k.issuer.publish("a")
    k.docs = Documents(*tls)
    k.docs.answer = lambda path: (
        (200, "application/json", k.issuer.jwks(), {})
        if path == "/jwks.json" else (503, "text/plain", b"down", {}))
    k.h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=f"""
<Location /remote>
    AuthType apiauth
    AuthName "remote"
    ApiAuthScheme bearer
    ApiAuthProvider jwt
    ApiAuthCache off
    ApiAuthJWT issuer={ISSUER} audience={AUDIENCE} keys={k.docs.base}/jwks.json keys-ca={tls[0]} keys-refetch=2
    Require valid-user
</Location>
<Location /unreachable>
    AuthType apiauth
    AuthName "unreachable"
    ApiAuthScheme bearer
    ApiAuthProvider jwt
    ApiAuthJWT issuer={ISSUER} audience={AUDIENCE} keys={k.docs.base}/down.json keys-ca={tls[0]}
    Require valid-user
</Location>
""", loglevel="info apiauth:debug")
    k.h.start()
    # httpd listens before its start is over: wait for the start's fetch
    deadline = time.time() + 10
    while "/down.json" not in k.docs.hits and time.time() < deadline:
        time.sleep(0.05)
    yield k
    k.h.stop()
    k.docs.stop()


def call(w, path, token):
    return w.h.get(path + "/env", headers={"Authorization": "Bearer " + token})


def test_the_set_is_fetched_at_start(w):
    assert w.docs.hits.count("/jwks.json") == 1
    r = call(w, "/remote", w.issuer.token("a"))
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_CLIENT_ID"] == "partner"
    assert w.docs.hits.count("/jwks.json") == 1


def test_a_rotated_key_is_fetched_once_then_a_stranger_waits(w):
    w.issuer.new("b")
    w.issuer.publish("a", "b")
    time.sleep(2.1)                   # past keys-refetch since the start
    fetched = w.docs.hits.count("/jwks.json")
    statuses = [call(w, "/remote", w.issuer.token("b")).status_code
                for _ in range(4)]
    assert statuses == [200] * 4
    # one fetch, whichever child met the new kid first: the others take
    # the set it brought from shared memory
    assert w.docs.hits.count("/jwks.json") - fetched == 1
    # a kid nobody publishes: refused, and no fetch for each request
    w.issuer.new("stranger")
    fetched = w.docs.hits.count("/jwks.json")
    for _ in range(5):
        r = call(w, "/remote", w.issuer.token("stranger"))
        assert r.status_code == 401, r.text
        assert "kid" in r.json()["error_description"]
    assert w.docs.hits.count("/jwks.json") - fetched == 0


def test_a_set_that_cannot_be_had_is_a_503(w):
    r = call(w, "/unreachable", w.issuer.token("a"))
    assert r.status_code == 503, r.text
    assert "AA10067" in w.h.error_log()


def test_without_a_key_of_its_own_no_token_passes(w):
    forged = w.issuer.token("a")[:-6] + "AAAAAA"
    assert call(w, "/remote", forged).status_code == 401
