"""Mutual TLS (RFC 8705): a client authenticates at the token endpoint with
its TLS certificate -- one a CA vouches for, by its subject
(tls_client_auth), or its own, by its thumbprint
(self_signed_tls_client_auth) -- and the access tokens it gets are bound
to that certificate (cnf.x5t#S256): a resource takes them only from a
connection that presents the same certificate.

The CA and the certificates are made here with openssl; mod_ssl asks every
connection for a certificate (SSLVerifyClient optional_no_ca) and says
which it verified."""
import json
import shutil

import pytest

from dpop_keys import claims_of
from harness import env_of, make_workdir
from tls_certs import make_cert, thumbprint
from oauth_flows import TOKEN
from oauth_tokens import client_auth

SUBJECT = "CN=agent,O=Example"

RESOURCE = """
<Location /mtls>
    AuthType apiauth
    AuthName "mtls"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.order
</Location>
"""


class World:
    pass


@pytest.fixture(scope="module")
def w(servers):
    k = World()
    k.dir = make_workdir("apiauth-mtls-")
    k.ca = make_cert(k.dir, "ca", "/O=Example/CN=Example CA")
    # RFC 4514 writes the subject last RDN first: CN=agent,O=Example
    k.agent = make_cert(k.dir, "agent", "/O=Example/CN=agent", ca=k.ca)
    k.self = make_cert(k.dir, "self", "/CN=self-signed")
    k.stranger = make_cert(k.dir, "stranger", "/O=Example/CN=stranger",
                           ca=k.ca)
    k.o = servers.make(body=RESOURCE, ssl_extra=(
        f'    SSLCACertificateFile "{k.ca[0]}"\n'
        "    SSLVerifyClient optional_no_ca\n"
        "    SSLVerifyDepth 2"))

    def create(name, *how):
        return json.loads(k.o.store.out(
            "client", "create", name, "--grant", "client_credentials",
            "--scope", "integration.order", *how, json=True))
    k.by_ca = create("by-ca", "--tls-subject", SUBJECT)
    k.by_cert = create("by-cert", "--tls-cert", str(k.self[0]))
    yield k
    shutil.rmtree(k.dir, ignore_errors=True)


def token(w, client, cert):
    return w.o.post(TOKEN, data={"grant_type": "client_credentials",
                                 "client_id": client["client_id"]},
                    cert=cert)


def test_clients_made_for_mtls_have_no_secret(w):
    assert w.by_ca["client_secret"] is None
    assert w.by_cert["client_secret"] is None
    listed = {c["client_id"]: c for c in json.loads(
        w.o.store.out("client", "list", json=True))}
    assert listed[w.by_ca["client_id"]]["tls_subject"] == SUBJECT
    assert listed[w.by_cert["client_id"]]["tls_cert_x5t"] \
        == thumbprint(w.self[0])


@pytest.mark.parametrize("which", ["by_ca", "by_cert"])
def test_a_certificate_gets_tokens_bound_to_it(w, which):
    client, cert = {"by_ca": (w.by_ca, w.agent),
                    "by_cert": (w.by_cert, w.self)}[which]
    r = token(w, client, cert)
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    assert r.json()["token_type"] == "Bearer"
    assert claims_of(access)["cnf"] == {"x5t#S256": thumbprint(cert[0])}
    # at the resource: with that certificate only
    ok = w.o.get("/mtls/env", headers={"Authorization": "Bearer " + access},
                 cert=cert)
    assert ok.status_code == 200, ok.text
    assert env_of(ok)["APIAUTH_CLIENT_ID"] == client["client_id"]
    for other in (w.stranger, None):
        r = w.o.get("/mtls/env", headers={"Authorization": "Bearer " + access},
                    cert=other)
        assert r.status_code == 401, r.text
        assert "certificate" in r.json()["error_description"]


def test_the_wrong_certificate_or_none_is_no_authentication(w):
    # a certificate of the same CA with another subject; a self-signed one
    # with the registered subject would not be vouched for either
    for client, cert in ((w.by_ca, w.stranger), (w.by_ca, w.self),
                         (w.by_cert, w.agent), (w.by_ca, None),
                         (w.by_cert, None)):
        r = token(w, client, cert)
        assert r.status_code == 401, (client["name"], r.text)
        assert r.json()["error"] == "invalid_client"


def test_a_secret_client_with_a_certificate_gets_bearer_tokens(w):
    """Only a client that authenticated with its certificate gets tokens
    bound to it."""
    c = w.o.client("secret-one", "client_credentials",
                   scopes=("integration.order",))
    r = w.o.post(TOKEN, data={"grant_type": "client_credentials"},
                 auth=client_auth(c), cert=w.agent)
    assert r.status_code == 200, r.text
    assert "cnf" not in claims_of(r.json()["access_token"])


def test_metadata_says_so(w):
    m = w.o.get("/.well-known/oauth-authorization-server").json()
    assert m["tls_client_certificate_bound_access_tokens"] is True
    assert {"tls_client_auth", "self_signed_tls_client_auth"} \
        <= set(m["token_endpoint_auth_methods_supported"])


def test_admin_refuses_two_ways_at_once(w):
    r = w.o.store.admin("client", "create", "two", "--grant",
                        "client_credentials", "--tls-subject", SUBJECT,
                        "--tls-cert", str(w.self[0]), check=False)
    assert r.returncode == 2
    r = w.o.store.admin("client", "create", "nocert", "--grant",
                        "client_credentials", "--tls-cert",
                        str(w.self[1]), check=False)
    assert r.returncode == 2
