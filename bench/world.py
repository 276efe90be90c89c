"""The benchmark's world: one store, one httpd configuration, the rows.

Everything the benchmark measures lives in one httpd configuration
(bench/httpd.conf.template): one <Location> per row, each serving the same
small static file, so that rows differ only in how the caller is
authenticated.  The token endpoint rows are the same handler on three
port-based virtual hosts that differ only in their signing key (RS256,
ES256, EdDSA), since a server signs with exactly one key.

World.create() makes the store and the keys with apiauth-admin, htpasswd
and openssl, as an operator would (tests/integration/harness.py does the
same for the tests, and is reused here); World.credentials() then asks the
running server for what only it can mint (a login session, access tokens,
refresh tokens).  The rows and the requests they send are data (Row), used
alike by wrk, by the callgrind client and by tests/integration/
test_bench_config.py, which checks that this configuration starts and
that every row answers as the benchmark expects.

Plain HTTP on loopback only, ApiAuthRequireTLS off: TLS is not what is
measured, but for one virtual host that the rows of certificate-bound
tokens need (and a Bearer row beside them, to compare with).  No access log: its cost is the same for every row and would
only hide the differences.
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import sqlite3
import string
import subprocess
import sys
import threading
import time
import urllib.parse
from contextlib import closing
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from dpop_keys import ec_jwk  # noqa: E402
from harness import (APIAUTH_SO, HTTPD_BIN, MODULE_DIR, OAUTH_SO,  # noqa: E402
                     RUN_AS, Store, free_port, give_to_server, htpasswd,
                     make_key, make_workdir, running_as_root,
                     self_signed_cert)

MOD_OAUTH2_SO = MODULE_DIR / "mod_oauth2.so"
SCOPE = "bench.read"
# Issuers are names, not addresses: the callgrind server listens on other
# ports than the wrk server and must accept the same tokens.
ISSUER = {"rsa": "https://as.bench.invalid",
          "ec": "https://as-es256.bench.invalid",
          "ed25519": "https://as-eddsa.bench.invalid"}
ALG = {"rsa": "RS256", "ec": "ES256", "ed25519": "EdDSA"}
CALLBACK = "http://127.0.0.1/cb"
OWNER = ("alice", "wonderland")
USER_PW = "correct horse battery"


class Row:
    """One line of the table: a request that must answer `status`.

    `vhost` names the virtual host (the signing key) for token endpoint
    rows; `chain` marks the refresh_token row, whose every request needs
    the refresh token of the previous answer; `waits` says what the row
    waits for, if it does; rows with the same `header_of` send the same
    credential header (the unauthenticated one among them measures what
    reading it costs).  `fresh(port)` gives headers each request must have
    new (a DPoP proof is good once); `cert`: the row goes to the TLS
    virtual host (vhost "tls") with the world's client certificate.  Rows
    of either kind are measured by callgrind alone (`callgrind_only` says
    why): wrk sends one request again and again, without a certificate."""

    def __init__(self, name, label, path, group, headers=(), method="GET",
                 body=None, vhost="rsa", status=200, ours=False,
                 cached=False, chain=False, waits=None, header_of=None,
                 fresh=None, cert=False):
        self.name, self.label, self.path, self.group = name, label, path, group
        self.header_of, self.fresh, self.cert = header_of, fresh, cert
        self.headers = list(headers)
        self.method, self.body, self.vhost = method, body, vhost
        self.status, self.ours, self.cached = status, ours, cached
        self.chain, self.waits = chain, waits

    @property
    def callgrind_only(self):
        """Why wrk cannot measure this row, or None."""
        if self.fresh:
            return "a proof is good once"
        if self.vhost == "tls":
            return "wrk sends no client certificate"
        return None

    def __repr__(self):
        return f"Row({self.name})"


def basic(user, password):
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_jwk(pem):
    """The public JWK of an RSA key, with its RFC 7638 thumbprint as kid
    (what mod_apiauth_oauth names its key in the tokens' header), for
    mod_oauth2's `OAuth2TokenVerify jwk`."""
    out = subprocess.run(["openssl", "rsa", "-in", str(pem), "-noout",
                          "-modulus"], capture_output=True, text=True,
                         check=True).stdout
    n = bytes.fromhex(out.strip().split("=", 1)[1])
    members = {"e": b64url((65537).to_bytes(3, "big")), "kty": "RSA",
               "n": b64url(n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    kid = b64url(hashlib.sha256(canonical.encode()).digest())
    return dict(members, kid=kid, alg="RS256", use="sig")


def public_pem(pem, out):
    subprocess.run(["openssl", "pkey", "-in", str(pem), "-pubout", "-out",
                    str(out)], check=True, capture_output=True)
    Path(out).chmod(0o644)
    return out


class World:
    """The store, keys and files of one benchmark, under one directory."""

    def __init__(self, root):
        self.root = Path(root)
        self.creds = {}

    # -- what exists before the server starts ----------------------------
    @classmethod
    def create(cls, prefix="apiauth-bench-"):
        w = cls(make_workdir(prefix))
        # the modules as they are now: a build during the run (others work
        # on the tree) must not change what the rows measure half-way
        (w.root / "modules").mkdir()
        w.modules = tuple(str(shutil.copy(so, w.root / "modules" / so.name))
                          for so in (APIAUTH_SO, OAUTH_SO))
        # SQLite whatever APIAUTH_TEST_DBD says: the configuration
        # names the file, and private stores are copies of it
        # the client's DPoP key (RFC 9449), for the DPoP rows
        w.dpop_key = ec.generate_private_key(ec.SECP256R1())
        w.dpop_jwk = ec_jwk(w.dpop_key)
        # and one of RSA, whose proofs cost the server a quarter of an
        # ES256 proof to verify (RS256)
        w.dpop_rsa_key = rsa.generate_private_key(public_exponent=65537,
                                                  key_size=2048)
        n = w.dpop_rsa_key.public_key().public_numbers()
        w.dpop_rsa_jwk = {
            "kty": "RSA", "e": b64url(n.e.to_bytes(3, "big")),
            "n": b64url(n.n.to_bytes(256, "big"))}
        w.store = Store(w.root / "store", backend="sqlite3")
        s = w.store
        w.app = s.app("bench")
        w.apikey, _ = s.key("bench", "--scope", SCOPE)
        s.user("dash", "--app", "bench", password=USER_PW)
        w.token_key, _ = s.key("bench", "--kind", "token", "--user", "dash",
                               "--scope", SCOPE)
        w.app_token, _ = s.key("bench", "--kind", "app_token")
        w.cc = json.loads(s.out("client", "create", "bench-service",
                                "--grant", "client_credentials",
                                "--scope", SCOPE, "--app", "bench",
                                "--redirect-uri", CALLBACK, json=True))
        w.web = json.loads(s.out("client", "create", "bench-web",
                                 "--grant", "authorization_code",
                                 "--grant", "refresh_token",
                                 "--scope", SCOPE, "--app", "bench",
                                 "--redirect-uri", CALLBACK,
                                 "--first-party", json=True))
        keys = w.root / "keys"
        keys.mkdir()
        # the TLS virtual host's certificate, and a client's own (RFC 8705
        # self_signed_tls_client_auth: registered by its thumbprint)
        w.server_cert = self_signed_cert(keys)
        w.client_cert = (keys / "client.pem", keys / "client.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=bench-client",
                        "-keyout", str(w.client_cert[1]),
                        "-out", str(w.client_cert[0])],
                       check=True, capture_output=True)
        w.mtls = json.loads(s.out("client", "create", "bench-mtls",
                                  "--grant", "client_credentials",
                                  "--scope", SCOPE, "--app", "bench",
                                  "--tls-cert", str(w.client_cert[0]),
                                  json=True))
        w.signing = {kind: make_key(keys, kind) for kind in ALG}
        w.rsa_public = public_pem(w.signing["rsa"], keys / "rsa.pub.pem")
        w.jwk = rsa_jwk(w.signing["rsa"])
        w.sha_users = w.root / "users-sha"
        w.bcrypt_users = w.root / "users-bcrypt"
        w.owner_users = w.root / "users-owner"
        subprocess.run(["htpasswd", "-cbs", str(w.sha_users), "bob",
                        "sha-secret"], check=True, capture_output=True)
        subprocess.run(["htpasswd", "-cbB", "-C", "5", str(w.bcrypt_users),
                        "bob", "bcrypt-secret"], check=True,
                       capture_output=True)
        htpasswd(w.owner_users, *OWNER)
        for f in (w.sha_users, w.bcrypt_users, w.owner_users):
            f.chmod(0o644)
        w.htdocs = w.root / "htdocs"
        for row in w.request_rows():
            d = w.htdocs / row.path.strip("/").split("/")[0]
            d.mkdir(parents=True, exist_ok=True)
            (d / "hello.txt").write_text("hello\n")
        give_to_server(w.root)
        return w

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def tls_context(self, cert):
        """A client's TLS settings for the TLS virtual host: its
        certificate checked, ours presented where `cert`."""
        ctx = ssl.create_default_context(cafile=str(self.server_cert[0]))
        if cert:
            ctx.load_cert_chain(str(self.client_cert[0]),
                                str(self.client_cert[1]))
        return ctx

    def tls_of(self, row):
        """The TLS settings a row's requests need, None for plain HTTP."""
        return self.tls_context(row.cert) if row.vhost == "tls" else None

    # -- the configuration -----------------------------------------------
    def config(self, name, ports, private_store=False):
        """Writes the configuration for a server listening on `ports`
        (rsa, ec, ed25519 -> port); returns its directory.  Two servers
        of one world (wrk's, callgrind's) differ in nothing else, but for
        a `private_store`: a copy of the store that no other server
        writes to, so that SQLite never makes one wait for another (its
        retries would be counted), with no credential used yet, so that
        every run records a use (at most one a minute) as often as any
        other."""
        d = self.root / name
        for sub in ("run", "logs", "conf"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        store = self.store.path
        if private_store:
            (d / "store").mkdir(exist_ok=True)
            store = d / "store" / "apiauth.db"
            with closing(sqlite3.connect(self.store.path)) as src, \
                    closing(sqlite3.connect(store)) as dst:
                src.backup(dst)
                dst.execute("UPDATE apiauth_credentials SET last_used = "
                            "NULL")
                dst.commit()
        tpl = string.Template((HERE / "httpd.conf.template").read_text())
        vhosts = [
            f"Listen 127.0.0.1:{ports['tls']}\n"
            f"<VirtualHost 127.0.0.1:{ports['tls']}>\n"
            "    SSLEngine on\n"
            f'    SSLCertificateFile "{self.server_cert[0]}"\n'
            f'    SSLCertificateKeyFile "{self.server_cert[1]}"\n'
            "    SSLVerifyClient optional_no_ca\n"
            "    SSLVerifyDepth 1\n"
            "</VirtualHost>"]
        for kind in ("ec", "ed25519"):
            vhosts.append(
                f"Listen 127.0.0.1:{ports[kind]}\n"
                f"<VirtualHost 127.0.0.1:{ports[kind]}>\n"
                f"    ApiAuthOAuthIssuer {ISSUER[kind]}\n"
                f'    ApiAuthOAuthSigningKey "{self.signing[kind]}"\n'
                f"</VirtualHost>")
        mod_oauth2 = (f"LoadModule oauth2_module {MOD_OAUTH2_SO}"
                      if MOD_OAUTH2_SO.exists() else "")
        conf = tpl.substitute(
            serverroot=d, htdocs=self.htdocs, port=ports["rsa"],
            moddir=MODULE_DIR, apiauth_so=self.modules[0],
            oauth_so=self.modules[1],
            mod_oauth2=mod_oauth2,
            user_group=(f"User {RUN_AS}\nGroup {RUN_AS}"
                        if running_as_root() else ""),
            store=store, issuer=ISSUER["rsa"],
            signing_key=self.signing["rsa"], scope=SCOPE,
            sha_users=self.sha_users, bcrypt_users=self.bcrypt_users,
            owner_users=self.owner_users,
            oauth2_jwk=json.dumps(self.jwk, separators=(",", ":")),
            rsa_public=self.rsa_public, vhosts="\n".join(vhosts))
        (d / "conf" / "httpd.conf").write_text(conf)
        give_to_server(d)
        return d

    # -- the rows ----------------------------------------------------------
    def request_rows(self):
        """The protected (and unprotected) static file, one row each."""
        c = self.creds
        bearer = "Bearer " + c.get("access_token", "")
        return [
            Row("open", "no auth", "/open/hello.txt", "resource"),
            # what reading the Bearer rows' header costs httpd on its own:
            # a JWT is ten times a Basic header, whoever checks it
            Row("open-bearer", "no auth, sent the Bearer rows' header",
                "/open/hello.txt", "resource", [("Authorization", bearer)],
                header_of="bearer"),
            Row("basic-sha", "httpd Basic, authn_file {SHA}",
                "/basic-sha/hello.txt", "resource",
                [("Authorization", basic("bob", "sha-secret"))]),
            Row("basic-bcrypt", "httpd Basic, authn_file bcrypt -C 5",
                "/basic-bcrypt/hello.txt", "resource",
                [("Authorization", basic("bob", "bcrypt-secret"))]),
            Row("mod-oauth2", "mod_oauth2, RS256 JWT", "/oauth2/hello.txt",
                "resource", [("Authorization", bearer)]),
            Row("apikey", "apikey, dbd, cache", "/key/hello.txt",
                "resource", [("X-API-Key", self.apikey)], ours=True,
                cached=True),
            Row("apikey-ratelimit", "apikey, dbd, cache, ApiAuthRateLimit",
                "/key-ratelimit/hello.txt", "resource",
                [("X-API-Key", self.apikey)], ours=True),
            Row("apikey-nocache", "apikey, dbd, ApiAuthCache off",
                "/key-nocache/hello.txt", "resource",
                [("X-API-Key", self.apikey)], ours=True),
            Row("token", "Authorization: Token, dbd, cache",
                "/token/hello.txt", "resource",
                [("Authorization", "Token " + self.token_key)], ours=True,
                cached=True),
            Row("session", "Basic app-token:session-token, cache",
                "/session/hello.txt", "resource",
                [("Authorization",
                  basic(self.app_token, c.get("session", "")))],
                ours=True, cached=True),
            Row("bearer-oauth", "Bearer JWT RS256, oauth, cache",
                "/bearer-oauth/hello.txt", "resource",
                [("Authorization", bearer)], ours=True, cached=True,
                header_of="bearer"),
            Row("bearer-jwt", "Bearer JWT RS256, jwt, cache",
                "/bearer-jwt/hello.txt", "resource",
                [("Authorization", bearer)], ours=True, cached=True,
                header_of="bearer"),
            # the token from the cache, the proof (ES256) checked anew
            Row("dpop-oauth", "DPoP JWT RS256 + ES256 proof, oauth, cache",
                "/dpop-oauth/hello.txt", "resource",
                [("Authorization", "DPoP " + c.get("dpop_token", ""))],
                ours=True,
                fresh=lambda port: [("DPoP", self.dpop_proof(
                    "GET", "/dpop-oauth/hello.txt",
                    c.get("dpop_token")))]),
            Row("dpop-oauth-rs256", "DPoP JWT RS256 + RS256 proof, oauth, "
                "cache", "/dpop-oauth/hello.txt", "resource",
                [("Authorization", "DPoP " + c.get("dpop_rs_token", ""))],
                ours=True,
                fresh=lambda port: [("DPoP", self.dpop_proof(
                    "GET", "/dpop-oauth/hello.txt",
                    c.get("dpop_rs_token"), rsa_key=True))]),
            # the same location over TLS: a Bearer token, and one bound to
            # the client certificate of the connection (RFC 8705)
            Row("bearer-tls", "Bearer JWT RS256, oauth, cache, over TLS",
                "/bearer-oauth/hello.txt", "resource",
                [("Authorization", bearer)], vhost="tls", ours=True),
            Row("mtls-oauth", "certificate-bound JWT RS256 (RFC 8705), "
                "oauth, cache, over TLS", "/bearer-oauth/hello.txt",
                "resource",
                [("Authorization", "Bearer " + c.get("mtls_token", ""))],
                vhost="tls", cert=True, ours=True),
        ]

    def token_rows(self):
        """The token endpoint: client_credentials on each signing key,
        and refresh_token rotation (each answer's refresh token is the
        next request's)."""
        auth = [("Authorization", basic(self.cc["client_id"],
                                        self.cc["client_secret"])),
                ("Content-Type", "application/x-www-form-urlencoded")]
        cc_body = f"grant_type=client_credentials&scope={SCOPE}"
        rows = [Row(f"cc-{ALG[k].lower()}",
                    f"token endpoint: client_credentials, {ALG[k]}",
                    "/oauth/token", "token", auth, "POST", cc_body, vhost=k,
                    ours=True)
                for k in ("rsa", "ec", "ed25519")]
        web = [("Authorization", basic(self.web["client_id"],
                                       self.web["client_secret"])),
               ("Content-Type", "application/x-www-form-urlencoded")]
        rows.append(Row("cc-dpop", "token endpoint: client_credentials, "
                        "ES256, with an ES256 DPoP proof", "/oauth/token",
                        "token", auth, "POST", cc_body, vhost="ec",
                        ours=True,
                        fresh=lambda port: [("DPoP", self.dpop_proof(
                            "POST", "/oauth/token"))]))
        rows.append(Row("refresh", "token endpoint: refresh_token rotation, "
                        "RS256", "/oauth/token", "token", web, "POST",
                        "grant_type=refresh_token&refresh_token=",
                        ours=True, chain=True,
                        waits="every request rotates its token in one "
                        "SQLite transaction, SQLite lets one writer in at a "
                        "time, and apr_dbd_sqlite3 retries a locked "
                        "database every 100 ms (glue/apiauth_dbd.c)"))
        return rows

    def rows(self):
        return self.request_rows() + self.token_rows()

    # -- what only the running server can mint -----------------------------
    def credentials(self, server):
        """A login session, a client_credentials access token (RS256) for
        the Bearer rows."""
        login = http(server.port, "POST", "/login",
                     [("Authorization", basic(self.app_token, "")),
                      ("Content-Type", "application/json")],
                     json.dumps({"username": "dash", "password": USER_PW}))
        if login[0] != 201:
            raise RuntimeError(f"login: {login[0]} {login[2]}")
        self.creds["session"] = json.loads(login[2])["session_token"]
        cc = self.token_rows()[0]
        got = http(server.port, cc.method, cc.path, cc.headers, cc.body)
        if got[0] != 200:
            raise RuntimeError(f"client_credentials: {got[0]} {got[2]}")
        self.creds["access_token"] = json.loads(got[2])["access_token"]
        got = http(server.port, cc.method, cc.path,
                   cc.headers + [("DPoP", self.dpop_proof(
                       "POST", cc.path))], cc.body)
        if got[0] != 200:
            raise RuntimeError(f"client_credentials, DPoP: {got[0]} {got[2]}")
        self.creds["dpop_token"] = json.loads(got[2])["access_token"]
        got = http(server.port, cc.method, cc.path,
                   cc.headers + [("DPoP", self.dpop_proof(
                       "POST", cc.path, rsa_key=True))], cc.body)
        if got[0] != 200:
            raise RuntimeError(f"client_credentials, DPoP RS256: {got[0]} "
                               f"{got[2]}")
        self.creds["dpop_rs_token"] = json.loads(got[2])["access_token"]
        got = http(server.ports["tls"], cc.method, cc.path,
                   [("Content-Type", "application/x-www-form-urlencoded")],
                   cc.body + "&client_id=" + self.mtls["client_id"],
                   tls=self.tls_context(cert=True))
        if got[0] != 200:
            raise RuntimeError(f"client_credentials, mTLS: {got[0]} "
                               f"{got[2]}")
        self.creds["mtls_token"] = json.loads(got[2])["access_token"]

    def dpop_proof(self, method, path, token=None, rsa_key=False):
        """A fresh DPoP proof (RFC 9449) of the world's ES256 key (or its
        RSA key, RS256)."""
        # the URL the server sees: the bench's requests name the host
        # without a port (format_request), which means the scheme's own
        claims = {"jti": b64url(os.urandom(12)), "htm": method,
                  "htu": f"http://127.0.0.1{path}",
                  "iat": int(time.time())}
        if token:
            claims["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        if rsa_key:
            return jwt.encode(claims, self.dpop_rsa_key, algorithm="RS256",
                              headers={"typ": "dpop+jwt",
                                       "jwk": self.dpop_rsa_jwk})
        return jwt.encode(claims, self.dpop_key, algorithm="ES256",
                          headers={"typ": "dpop+jwt",
                                   "jwk": self.dpop_jwk})

    def refresh_tokens(self, server, count):
        """`count` fresh refresh tokens (each its own grant, so that
        chains rotated side by side never meet): the authorization code
        flow of a first-party client, no consent page."""
        tokens = []
        for _ in range(count):
            query = urllib.parse.urlencode({
                "response_type": "code", "client_id": self.web["client_id"],
                "redirect_uri": CALLBACK, "scope": SCOPE})
            st, hdrs, body = http(server.port, "GET", "/oauth/authorize?"
                                  + query, [("Authorization", basic(*OWNER))])
            loc = hdrs.get("location", "")
            code = urllib.parse.parse_qs(
                urllib.parse.urlparse(loc).query).get("code")
            if st not in (302, 303) or not code:
                raise RuntimeError(f"authorize: {st} {loc} {body[:200]}")
            form = urllib.parse.urlencode({
                "grant_type": "authorization_code", "code": code[0],
                "redirect_uri": CALLBACK})
            refresh = next(r for r in self.token_rows()
                           if r.name == "refresh")
            st, _, body = http(server.port, "POST", "/oauth/token",
                               refresh.headers, form)
            if st != 200:
                raise RuntimeError(f"code exchange: {st} {body[:200]}")
            tokens.append(json.loads(body)["refresh_token"])
        return tokens


# -- a plain HTTP/1.1 client, one connection per call or kept alive -------

def format_request(row_or_method, path=None, headers=(), body=None,
                   host="127.0.0.1"):
    if isinstance(row_or_method, Row):
        row = row_or_method
        method, path, headers, body = row.method, row.path, row.headers, \
            row.body
    else:
        method = row_or_method
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    data = body.encode() if body else b""
    if body is not None:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Connection:
    """One keep-alive connection: send a request, read exactly one
    answer (Content-Length or chunked)."""

    def __init__(self, port, timeout=120, tls=None):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        if tls:
            self.sock = tls.wrap_socket(self.sock,
                                        server_hostname="127.0.0.1")
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def exchange(self, request):
        self.sock.sendall(request)
        status = int(self._line().split(b" ", 2)[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._take(size)
                self._take(2)
        else:
            body = self._take(int(headers.get("content-length", "0")))
        return status, headers, body.decode("utf-8", "replace")

    def close(self):
        self.sock.close()


def http(port, method, path, headers=(), body=None, tls=None):
    """One request on its own connection: (status, headers, body)."""
    c = Connection(port, timeout=30, tls=tls)
    try:
        return c.exchange(format_request(method, path, headers, body))
    finally:
        c.close()


def next_refresh_body(row, refresh_token):
    return row.body + urllib.parse.quote(refresh_token, safe="")


# -- the server ------------------------------------------------------------

_ports_lock = threading.Lock()
_ports_given = set()


def unused_port():
    """A free loopback port this process has not handed out before: the
    callgrind servers start two at a time, and a port just released by
    free_port() may be the next one it finds."""
    with _ports_lock:
        while True:
            port = free_port()
            if port not in _ports_given:
                _ports_given.add(port)
                return port


class Server:
    """apache2 on the world's configuration: as root with its children
    as www-data (wrk), or `apache2 -X` under valgrind as www-data
    (callgrind: one process, nothing privileged)."""

    def __init__(self, world, name, wrapper=(), private_store=False):
        self.world = world
        self.ports = {k: unused_port() for k in (*ALG, "tls")}
        self.port = self.ports["rsa"]
        self.dir = world.config(name, self.ports, private_store)
        self.conf = self.dir / "conf" / "httpd.conf"
        self.wrapper = list(wrapper)
        self.proc = None

    def config_test(self):
        return subprocess.run([HTTPD_BIN, "-t", "-f", str(self.conf)],
                              capture_output=True, text=True)

    def start(self, single=False, timeout=60):
        kw = {}
        if single:
            cmd = self.wrapper + [HTTPD_BIN, "-X", "-f", str(self.conf)]
            if running_as_root():
                kw = dict(user=RUN_AS, group=RUN_AS, extra_groups=[])
        else:
            cmd = [HTTPD_BIN, "-DFOREGROUND", "-f", str(self.conf)]
        # what apache2 (and valgrind) print goes to a file: a pipe nobody
        # reads could fill up and stop the server
        with open(self.dir / "logs" / "console.log", "ab") as console:
            self.proc = subprocess.Popen(cmd, stdout=console,
                                         stderr=subprocess.STDOUT,
                                         start_new_session=True, **kw)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = (self.dir / "logs" / "console.log").read_text(
                    errors="replace")
                raise RuntimeError(f"apache2 exited at start:\n{out}\n"
                                   f"{self.error_log()}")
            if all(self._answers(p, self.world.tls_context(False)
                                 if k == "tls" else None)
                   for k, p in self.ports.items()):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"apache2 did not answer in time:\n"
                           f"{self.error_log()}")

    @staticmethod
    def _answers(port, tls):
        try:
            return http(port, "GET", "/open/hello.txt", tls=tls)[0] == 200
        except OSError:
            return False

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def children(self):
        """The pids of the httpd children (wrk mode)."""
        parent = self.proc.pid
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def error_log(self):
        p = self.dir / "logs" / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
