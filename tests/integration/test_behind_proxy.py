"""Sender-constrained tokens behind a TLS-terminating proxy: the proxy is a
second apache2 (mod_ssl asking for a client certificate, mod_proxy_http,
mod_headers), passing the request on in plain HTTP with
X-Forwarded-Proto and the client's certificate in a header, the way
operators put httpd, nginx or a load balancer in front of an API.

Behind it, apiauth believes both only from ApiAuthTrustedProxy: the
certificate a token is bound to (RFC 8705) and the scheme of the URL a
DPoP proof names (RFC 9449 htu).  The same bytes sent from another
address are a client's claim about itself and count for nothing."""
import json
import shutil
import socket

import pytest

from dpop_keys import DPoPKey, claims_of
from harness import RawResponse, env_of, make_workdir
from oauth_flows import TOKEN
from oauth_tokens import client_auth
from tls_certs import make_cert, thumbprint

BACKEND = """
ApiAuthTrustedProxy 127.0.0.1/32
ApiAuthClientCertHeader X-SSL-Client-Cert
# TLS is not required here, so that a request that did not come through
# the proxy is refused for what it claims, not for its scheme
<Location /mtls>
    AuthType apiauth
    AuthName "mtls"
    ApiAuthRequireTLS off
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    Require valid-user
</Location>
<Location /dpop>
    AuthType apiauth
    AuthName "dpop"
    ApiAuthRequireTLS off
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    Require valid-user
</Location>
"""


# the same location where the operator names the external URL instead:
# httpd's own ServerName https://... and UseCanonicalName On
CANONICAL = """
ServerName https://api.example.test
UseCanonicalName On
ApiAuthTrustedProxy 127.0.0.1/32
<Location /dpop>
    AuthType apiauth
    AuthName "dpop"
    ApiAuthRequireTLS off
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    Require valid-user
</Location>
"""


def proxy_conf(ca, backend_port, preserve_host=True):
    return (f'    SSLCACertificateFile "{ca}"\n'
            "    SSLVerifyClient optional_no_ca\n"
            "    SSLVerifyDepth 2\n"
            f"    ProxyPreserveHost {'On' if preserve_host else 'Off'}\n"
            "    RequestHeader set X-Forwarded-Proto https\n"
            '    RequestHeader set X-SSL-Client-Cert "%{SSL_CLIENT_CERT}s"\n'
            f"    ProxyPass / http://127.0.0.1:{backend_port}/\n")


class World:
    pass


@pytest.fixture(scope="module")
def w(servers, module_httpd):
    k = World()
    k.dir = make_workdir("apiauth-proxy-")
    k.ca = make_cert(k.dir, "ca", "/O=Example/CN=Example CA")
    k.agent = make_cert(k.dir, "agent", "/O=Example/CN=agent", ca=k.ca)
    k.self = make_cert(k.dir, "self", "/CN=self-signed")
    k.o = servers.make(body=BACKEND)
    k.proxy = module_httpd(modules=("proxy", "proxy_http"),
                           ssl_extra=proxy_conf(k.ca[0], k.o.httpd.http_port))
    k.front = f"https://127.0.0.1:{k.proxy.https_port}"
    # a proxy that passes the backend's own name as Host, and the one it
    # was asked for as X-Forwarded-Host (mod_proxy's default)
    k.renaming = module_httpd(modules=("proxy", "proxy_http"),
                              ssl_extra=proxy_conf(k.ca[0],
                                                   k.o.httpd.http_port,
                                                   preserve_host=False))

    def create(name, *how):
        return json.loads(k.o.store.out(
            "client", "create", name, "--grant", "client_credentials",
            "--scope", "integration.order", *how, json=True))
    k.by_cert = create("by-cert", "--tls-cert", str(k.self[0]))
    k.by_ca = create("by-ca", "--tls-subject", "CN=agent,O=Example")
    k.dpop_client = k.o.client("dpop-behind", "client_credentials",
                               scopes=("integration.order",))
    yield k
    shutil.rmtree(k.dir, ignore_errors=True)


def bound_token(w):
    r = w.proxy.post(TOKEN, data={"grant_type": "client_credentials",
                                  "client_id": w.by_cert["client_id"]},
                     cert=w.self)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def direct(w, source, path, headers):
    """A request straight to the backend's plain HTTP port, from `source`
    (an address of the loopback network)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{w.proxy.https_port}",
             "Connection: close"]
    pairs = headers.items() if isinstance(headers, dict) else headers
    lines += [f"{k}: {v}" for k, v in pairs]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", w.o.httpd.http_port),
                                  timeout=30,
                                  source_address=(source, 0)) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return RawResponse(b"".join(chunks))


def flat_pem(crt):
    """The certificate as mod_headers passes SSL_CLIENT_CERT on."""
    return crt.read_text().replace("\n", " ").strip()


def test_a_certificate_at_the_proxy_binds_the_token(w):
    access = bound_token(w)
    assert claims_of(access)["cnf"] == {"x5t#S256": thumbprint(w.self[0])}
    bearer = {"Authorization": "Bearer " + access}
    ok = w.proxy.get("/mtls/env", headers=bearer, cert=w.self)
    assert ok.status_code == 200, ok.text
    assert env_of(ok)["APIAUTH_CLIENT_ID"] == w.by_cert["client_id"]
    for other in (w.agent, None):
        r = w.proxy.get("/mtls/env", headers=bearer, cert=other)
        assert r.status_code == 401, r.text
        assert "certificate" in r.json()["error_description"]


def test_a_subject_is_not_taken_from_a_proxy(w):
    """Whether the proxy verified a chain is not in the header: only a
    registered certificate (its thumbprint) authenticates through it."""
    r = w.proxy.post(TOKEN, data={"grant_type": "client_credentials",
                                  "client_id": w.by_ca["client_id"]},
                     cert=w.agent)
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"


def test_the_certificate_header_counts_from_the_trusted_proxy_only(w):
    headers = {"Authorization": "Bearer " + bound_token(w),
               "X-Forwarded-Proto": "https",
               "X-SSL-Client-Cert": flat_pem(w.self[0])}
    # what the proxy sends, from the proxy's address
    assert direct(w, "127.0.0.1", "/mtls/env", headers).status_code == 200
    # the same bytes from anyone else
    r = direct(w, "127.0.0.2", "/mtls/env", headers)
    assert r.status_code == 401
    assert "certificate" in r.json()["error_description"]
    # the proxy's address, a certificate that is not the one bound
    headers["X-SSL-Client-Cert"] = flat_pem(w.agent[0])
    assert direct(w, "127.0.0.1", "/mtls/env", headers).status_code == 401


def test_a_certificate_header_sent_twice_names_no_certificate(w):
    """A proxy that appends the header to the client's own: httpd joins
    the two, and the client's (first) is no certificate of its own."""
    access = bound_token(w)
    headers = [("Authorization", "Bearer " + access),
               ("X-Forwarded-Proto", "https"),
               ("X-SSL-Client-Cert", flat_pem(w.self[0])),
               ("X-SSL-Client-Cert", flat_pem(w.agent[0]))]
    r = direct(w, "127.0.0.1", "/mtls/env", headers)
    assert r.status_code == 401
    assert "certificate" in r.json()["error_description"]
    # the bound certificate alone still is
    assert direct(w, "127.0.0.1", "/mtls/env", headers[:3]).status_code \
        == 200


def test_url_encoded_and_der_certificates_are_read(w):
    """nginx ($ssl_client_escaped_cert) and AWS ALB pass URL-encoded PEM;
    HAProxy can pass base64 DER."""
    from urllib.parse import quote
    import base64
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    access = bound_token(w)
    pem = w.self[0].read_text()
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(
        Encoding.DER)
    for form in (quote(pem, safe=""), quote(pem, safe="+=/"),
                 base64.b64encode(der).decode()):
        r = direct(w, "127.0.0.1", "/mtls/env",
                   {"Authorization": "Bearer " + access,
                    "X-Forwarded-Proto": "https", "X-SSL-Client-Cert": form})
        assert r.status_code == 200, (form[:40], r.status_code)


def test_dpop_behind_the_proxy_names_the_url_the_client_used(w):
    key = DPoPKey()
    r = w.proxy.post(TOKEN, data={"grant_type": "client_credentials"},
                     auth=client_auth(w.dpop_client),
                     headers={"DPoP": key.proof("POST", w.front + TOKEN)})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    access = r.json()["access_token"]

    def call(**proof_kw):
        proof = key.proof("GET", w.front + "/dpop/env", token=access,
                          **proof_kw)
        return {"Authorization": "DPoP " + access, "DPoP": proof}
    ok = w.proxy.get("/dpop/env", headers=call())
    assert ok.status_code == 200, ok.text
    # a proof for the backend's own address is not one for this URL
    wrong = key.proof("GET", f"http://127.0.0.1:{w.o.httpd.http_port}"
                      "/dpop/env", token=access)
    r = w.proxy.get("/dpop/env", headers={"Authorization": "DPoP " + access,
                                          "DPoP": wrong})
    assert r.status_code == 401 and "htu" in r.json()["error_description"]
    # the proxy's https is believed from the proxy only
    headers = dict(call(), **{"X-Forwarded-Proto": "https"})
    assert direct(w, "127.0.0.1", "/dpop/env", headers).status_code == 200
    headers = dict(call(), **{"X-Forwarded-Proto": "https"})
    r = direct(w, "127.0.0.2", "/dpop/env", headers)
    assert r.status_code == 401
    assert "htu" in r.json()["error_description"]


def dpop_token_via(w, proxy):
    key = DPoPKey()
    front = f"https://127.0.0.1:{proxy.https_port}"
    r = proxy.post(TOKEN, data={"grant_type": "client_credentials"},
                   auth=client_auth(w.dpop_client),
                   headers={"DPoP": key.proof("POST", front + TOKEN)})
    assert r.status_code == 200, r.text
    return key, r.json()["access_token"]


def test_dpop_behind_a_proxy_that_renames_the_host(w):
    """The backend sees its own name in Host; the URL the client used is
    in X-Forwarded-Host, from the trusted proxy."""
    key, access = dpop_token_via(w, w.renaming)
    front = f"https://127.0.0.1:{w.renaming.https_port}"
    r = w.renaming.get("/dpop/env", headers={
        "Authorization": "DPoP " + access,
        "DPoP": key.proof("GET", front + "/dpop/env", token=access)})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("source, forwarded, named, status", [
    # the proxy asked for api.example.test: proofs name it
    ("127.0.0.1", "api.example.test", "https://api.example.test", 200),
    ("127.0.0.1", "api.example.test:8443", "https://api.example.test:8443",
     200),
    # a list: the last is what the trusted proxy was asked for, those
    # before it what the client claimed
    ("127.0.0.1", "elsewhere.example, api.example.test",
     "https://api.example.test", 200),
    ("127.0.0.1", "elsewhere.example, api.example.test",
     "https://elsewhere.example", 401),
    # not a host: the Host header counts
    ("127.0.0.1", "api.example.test/x?", "https://api.example.test", 401),
    # from anyone else: the Host header counts
    ("127.0.0.2", "api.example.test", "https://api.example.test", 401),
])
def test_the_forwarded_host_counts_from_the_trusted_proxy_only(
        w, source, forwarded, named, status):
    key, access = dpop_token_via(w, w.proxy)
    proof = key.proof("GET", named + "/dpop/env", token=access)
    r = direct(w, source, "/dpop/env", {
        "Authorization": "DPoP " + access, "DPoP": proof,
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": forwarded})
    assert r.status_code == status, r.text
    if status == 401:
        assert "htu" in r.json()["error_description"]


def test_dpop_under_a_configured_external_url(servers):
    """ServerName https://api.example.test with UseCanonicalName On: the
    URL a proof names is that one, whatever the request's Host said and
    whichever scheme reached httpd."""
    # the TLS virtual host named too, as each server of httpd must be
    o = servers.make(body=CANONICAL,
                     ssl_extra="    ServerName https://api.example.test\n")
    client = o.client("canonical", "client_credentials",
                      scopes=("integration.order",))
    key = DPoPKey()
    r = o.post(TOKEN, data={"grant_type": "client_credentials"},
               auth=client_auth(client), headers={
                   "DPoP": key.proof("POST",
                                     "https://api.example.test" + TOKEN)})
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    for tls in (False, True):
        proof = key.proof("GET", "https://api.example.test/dpop/env",
                          token=access)
        r = o.get("/dpop/env", tls=tls, headers={
            "Authorization": "DPoP " + access, "DPoP": proof})
        assert r.status_code == 200, r.text
        here = key.proof("GET", o.httpd.url("/dpop/env", tls=tls),
                         token=access)
        r = o.get("/dpop/env", tls=tls, headers={
            "Authorization": "DPoP " + access, "DPoP": here})
        assert r.status_code == 401, r.text
        assert "htu" in r.json()["error_description"]
        # the configured name wins over what a trusted proxy passes on
        # (mod_proxy appends its client's Host to X-Forwarded-Host)
        elsewhere = key.proof("GET", "https://evil.example/dpop/env",
                              token=access)
        r = o.get("/dpop/env", tls=tls, headers={
            "Authorization": "DPoP " + access, "DPoP": elsewhere,
            "X-Forwarded-Host": "evil.example"})
        assert r.status_code == 401, r.text
        r = o.get("/dpop/env", tls=tls, headers={
            "Authorization": "DPoP " + access,
            "DPoP": key.proof("GET", "https://api.example.test/dpop/env",
                              token=access),
            "X-Forwarded-Host": "evil.example"})
        assert r.status_code == 200, r.text
