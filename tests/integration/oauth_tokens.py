"""Access and refresh tokens for the OAuth tests: the ones a running
OAuthServer issues (through its real endpoints), and the ones it never
issued, built here byte by byte to attack a verifier -- alg none, HMAC keyed
with a public key, a foreign key, a kid nobody has, a payload changed after
signing.  PyJWT (Debian's python3-jwt) signs where a real signature is
wanted; what no library would produce is assembled by hand."""
import base64
import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path

import jwt

from oauth_flows import CALLBACK, TOKEN, code_for


def bearer(token):
    return {"Authorization": "Bearer " + token}


def client_auth(client):
    return (client["client_id"], client["client_secret"])


def client_token(o, client, scope=None):
    """client_credentials: the token response (JSON) for `client`."""
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    r = o.post(TOKEN, data=data, auth=client_auth(client))
    assert r.status_code == 200, r.text
    return r.json()


def user_tokens(o, client, **authorize_params):
    """alice approves `client` (a confidential client registered with
    CALLBACK); the token response of the code's exchange."""
    code = code_for(o, client["client_id"], **authorize_params)
    r = o.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                            "redirect_uri": CALLBACK},
               auth=client_auth(client))
    assert r.status_code == 200, r.text
    return r.json()


def refresh(o, client, refresh_token):
    """The answer (not asserted) to a refresh_token grant."""
    return o.post(TOKEN, data={"grant_type": "refresh_token",
                               "refresh_token": refresh_token},
                  auth=client_auth(client))


# ---- JWTs the server never issued ---------------------------------------

def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")))


def thumbprint(pem):
    """The RFC 7638 JWK thumbprint of a PEM key (private or public): the
    kid the server gives a key it reads from PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    data = Path(pem).read_bytes()
    try:
        key = serialization.load_pem_private_key(data, None).public_key()
    except ValueError:
        key = serialization.load_pem_public_key(data)

    def num(n, size=None):
        size = size or (n.bit_length() + 7) // 8
        return b64url(n.to_bytes(size, "big"))
    if isinstance(key, ec.EllipticCurvePublicKey):
        pn = key.public_numbers()
        members = {"crv": "P-256", "kty": "EC", "x": num(pn.x, 32),
                   "y": num(pn.y, 32)}
    elif isinstance(key, rsa.RSAPublicKey):
        pn = key.public_numbers()
        members = {"e": num(pn.e), "kty": "RSA", "n": num(pn.n)}
    elif isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw)
        members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    else:
        raise ValueError("unknown key type")
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def unverified(token):
    """(header, payload) of a JWT, read without checking anything."""
    return (jwt.get_unverified_header(token),
            jwt.decode(token, options={"verify_signature": False}))


def sign(payload, private_pem, alg, kid, typ="at+jwt"):
    """A JWS over `payload` with a real key (PEM file or bytes)."""
    key = Path(private_pem).read_bytes() if not isinstance(
        private_pem, bytes) else private_pem
    headers = {"kid": kid}
    if typ:
        headers["typ"] = typ
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def sign_header(header, payload, private_pem):
    """A JWS with exactly `header` (PyJWT's encode would check or add to
    it), signed with the key for header["alg"]."""
    algorithm = jwt.algorithms.get_default_algorithms()[header["alg"]]
    key = algorithm.prepare_key(Path(private_pem).read_bytes())
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    return signing_input + "." + b64url(algorithm.sign(
        signing_input.encode(), key))


def unsigned(header, payload, signature=""):
    """header.payload.signature, exactly as given (alg none and the like)."""
    return f"{b64url_json(header)}.{b64url_json(payload)}.{signature}"


def hmac_signed(header, payload, secret):
    """HS256 keyed with `secret` (bytes): the classic confusion attack when
    the secret is the verifier's public key."""
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def with_payload(token, payload):
    """The token with its payload replaced and its signature kept."""
    head, _, sig = token.split(".")
    return f"{head}.{b64url_json(payload)}.{sig}"


def claims_like(o, client, sub=None, scope="integration.store", exp_in=3600,
                iat_ago=0):
    """The claims the server puts in its access tokens, for `client`."""
    now = int(time.time())
    return {"iss": o.issuer, "sub": sub or client["client_id"],
            "aud": o.issuer, "client_id": client["client_id"],
            "app": client["app"], "scope": scope, "iat": now - iat_ago,
            "nbf": now - iat_ago, "exp": now + exp_in,
            "jti": "atk_" + b64url(hashlib.sha256(
                str(time.time_ns()).encode()).digest()[:12])}


def public_pem(private_pem, out):
    """The public half of a PEM key, written to `out` (openssl pkey)."""
    subprocess.run(["openssl", "pkey", "-in", str(private_pem), "-pubout",
                    "-out", str(out)], check=True, capture_output=True)
    Path(out).chmod(0o644)
    return Path(out)
