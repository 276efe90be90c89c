"""A DPoP client key (RFC 9449) for the tests: proofs signed with PyJWT
and the cryptography package (both from Debian), the thumbprint of the
key as RFC 7638 computes it."""
import base64
import hashlib
import json
import secrets
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ec_jwk(key):
    """The public JWK of a P-256 key, its coordinates 32 bytes each as RFC
    7518 §6.2.1.2 requires (PyJWT 2.6 drops leading zero bytes, one key in
    128)."""
    n = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256",
            "x": b64url(n.x.to_bytes(32, "big")),
            "y": b64url(n.y.to_bytes(32, "big"))}


def ath(token):
    return b64url(hashlib.sha256(token.encode()).digest())


class DPoPKey:
    def __init__(self, kind="ec", bits=2048):
        if kind == "ec":
            self.key = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
            public = json.dumps(ec_jwk(self.key))
        elif kind == "ed25519":
            self.key = ed25519.Ed25519PrivateKey.generate()
            self.alg = "EdDSA"
            public = OKPAlgorithm.to_jwk(self.key.public_key())
        else:
            self.key = rsa.generate_private_key(public_exponent=65537,
                                                key_size=bits)
            self.alg = "PS256" if kind == "rsa-pss" else "RS256"
            public = RSAAlgorithm.to_jwk(self.key.public_key())
        self.jwk = json.loads(public)

    @property
    def thumbprint(self):
        """RFC 7638: the required members, sorted, no whitespace."""
        required = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"),
                    "RSA": ("e", "kty", "n")}[self.jwk["kty"]]
        canonical = json.dumps({k: self.jwk[k] for k in required},
                               separators=(",", ":"), sort_keys=True)
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(self, method, url, token=None, nonce=None, iat=None, jti=None,
              header=None, payload=None):
        """A proof for `method` `url` (and `token`); `header` and `payload`
        change or add members (a value None removes one)."""
        claims = {"jti": jti or secrets.token_urlsafe(16), "htm": method,
                  "htu": url, "iat": int(time.time()) if iat is None else iat}
        if token:
            claims["ath"] = ath(token)
        if nonce:
            claims["nonce"] = nonce
        for k, v in (payload or {}).items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        headers = {"typ": "dpop+jwt", "jwk": self.jwk}
        headers.update(header or {})
        return jwt.encode(claims, self.key, algorithm=self.alg,
                          headers=headers)


def claims_of(token):
    """The payload of a JWT, unverified (the test knows who signed it)."""
    return jwt.decode(token, options={"verify_signature": False})
