"""A real apache2 for the integration tests, and the tools around it.

Httpd writes a configuration from httpd.conf.template, starts
`apache2 -DFOREGROUND` on free loopback ports (one plain HTTP, one HTTPS with
a self-signed certificate), waits until it answers, and stops it again.  Store
is a real SQLite file set up with apiauth-admin, exactly as an operator would.
Nothing here imitates httpd or the database.
"""
import os
import pwd
import shutil
import json
import signal
import socket
import ssl
import string
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ADMIN = ROOT / "support" / "apiauth-admin"
MODULE_DIR = Path(
    subprocess.run(["apxs", "-q", "LIBEXECDIR"], capture_output=True, text=True,
                   check=True).stdout.strip())
APIAUTH_SO = ROOT / "mod_apiauth" / ".libs" / "mod_apiauth.so"
OAUTH_SO = ROOT / "mod_apiauth_oauth" / ".libs" / "mod_apiauth_oauth.so"
HTTPD_BIN = shutil.which("apache2") or "/usr/sbin/apache2"
RUN_AS = "www-data"


def free_port():
    """A loopback port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def running_as_root():
    return os.geteuid() == 0


def give_to_server(path):
    """httpd's children run as www-data when the tests run as root: what they
    write (SQLite file, its journal) must be theirs."""
    if not running_as_root():
        return
    pw = pwd.getpwnam(RUN_AS)
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, pw.pw_uid, pw.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), pw.pw_uid, pw.pw_gid)


def make_workdir(prefix):
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    return d


def self_signed_cert(directory):
    """A certificate for 127.0.0.1, made now (nothing is committed)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    key.chmod(0o644)
    return cert, key


class Store:
    """A SQLite store created and filled with apiauth-admin."""

    def __init__(self, directory, pepper=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "apiauth.db"
        self.pepper = pepper
        self.admin("init")
        give_to_server(self.dir)

    @property
    def driver(self):
        return "sqlite3"

    @property
    def params(self):
        return str(self.path)

    def httpd_conf(self):
        return f'DBDriver sqlite3\nDBDParams "{self.path}"\n'

    def admin(self, *args, check=True, input=None, json=False):
        """Runs apiauth-admin against this store; returns the process."""
        cmd = [str(ADMIN), "-D", self.driver, "-P", self.params]
        if self.pepper:
            cmd += ["--pepper", str(self.pepper)]
        if json:
            cmd.append("--json")
        proc = subprocess.run(cmd + [str(a) for a in args], input=input,
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"apiauth-admin {' '.join(map(str, args))} "
                                 f"failed ({proc.returncode}): {proc.stderr}")
        return proc

    def out(self, *args, **kw):
        """stdout of apiauth-admin, stripped: an id or a secret."""
        return self.admin(*args, **kw).stdout.strip()

    def app(self, name):
        return self.out("app", "create", name)

    def user(self, name, *extra, password="correct horse battery"):
        """Creates a user (apiauth-admin user create, password on stdin)."""
        return self.out("user", "create", name, *extra, input=password + "\n")

    def key(self, app, *extra):
        """Mints a key; returns (secret, credential id)."""
        data = json.loads(self.out("key", "create", app, *extra, json=True))
        return data["secret"], data["id"]

    def revoke(self, credential_id):
        self.admin("key", "revoke", credential_id)

    def sql(self, statement):
        """Reads the store directly, to check what it holds."""
        proc = subprocess.run(["sqlite3", str(self.path), statement],
                              capture_output=True, text=True, check=True)
        return proc.stdout.strip()


def file_key(path, app, *extra):
    """Mints a key into a credentials file (provider "file") with
    apiauth-admin, which needs no database for that; returns (secret,
    credential id).  The file is handed to the server's user."""
    proc = subprocess.run([str(ADMIN), "--json", "key", "create", app,
                           "--file", str(path)] + [str(a) for a in extra],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"apiauth-admin key create --file failed "
                             f"({proc.returncode}): {proc.stderr}")
    give_file_to_server(path)
    data = json.loads(proc.stdout)
    return data["secret"], data["id"]


def give_file_to_server(path):
    if running_as_root():
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def with_wrong_checksum(secret):
    """The key with one character of its checksum changed: the shape of a
    mistyped key."""
    last = secret[-1]
    return secret[:-1] + ("A" if last != "A" else "B")


def header_values(response, name):
    """Every value of a header that may be repeated (WWW-Authenticate),
    in order, as the server sent them (requests would join them)."""
    return response.raw.headers.getlist(name)


class RawResponse:
    """An HTTP answer read off a socket, for requests no client library
    would send as they are (raw bytes in headers)."""

    def __init__(self, data):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_code = int(lines[0].split(" ", 2)[1])
        self.header_list = [tuple(x.strip() for x in line.split(":", 1))
                            for line in lines[1:] if ":" in line]
        if (self.header("Transfer-Encoding") or "").lower() == "chunked":
            body = self._unchunk(body)
        self.body = body

    @staticmethod
    def _unchunk(data):
        out = b""
        while data:
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += data[:size]
            data = data[size + 2:]
        return out

    def header(self, name):
        values = self.values(name)
        return values[0] if values else None

    def values(self, name):
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)


class Httpd:
    """One apache2 process tree on two free loopback ports."""

    def __init__(self, workdir, cert, key, body="", store=None, modules=(),
                 loglevel="info apiauth:debug", extra_global="",
                 http_port=None, https_port=None):
        self.root = Path(workdir)
        self.cert, self.key = cert, key
        self.http_port = http_port or free_port()
        self.https_port = https_port or free_port()
        self.proc = None
        for sub in ("run", "logs", "htdocs", "cgi", "conf"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "htdocs" / "hello.txt").write_text("hello\n")
        shutil.copy(HERE / "env.cgi", self.root / "cgi" / "env.cgi")
        (self.root / "cgi" / "env.cgi").chmod(0o755)
        loads = [f"LoadModule apiauth_module {APIAUTH_SO}"]
        if "oauth" in modules:
            loads.append(f"LoadModule apiauth_oauth_module {OAUTH_SO}")
        for m in modules:
            if m != "oauth":
                loads.append(f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so")
        if callable(body):
            body = body(self)    # a body that needs to know the ports
        template = string.Template((HERE / "httpd.conf.template").read_text())
        self.conf = self.root / "conf" / "httpd.conf"
        self.conf.write_text(template.substitute(
            serverroot=self.root, http_port=self.http_port,
            https_port=self.https_port, moddir=MODULE_DIR,
            load_modules="\n".join(loads), loglevel=loglevel,
            user_group=(f"User {RUN_AS}\nGroup {RUN_AS}"
                        if running_as_root() else ""),
            cert=cert, key=key,
            store=store.httpd_conf() if store else "",
            body=extra_global + "\n" + body))
        give_to_server(self.root / "run")

    # -- lifecycle -------------------------------------------------------
    def config_test(self):
        return subprocess.run([HTTPD_BIN, "-t", "-f", str(self.conf)],
                              capture_output=True, text=True)

    def start(self, timeout=15):
        self.proc = subprocess.Popen(
            [HTTPD_BIN, "-DFOREGROUND", "-f", str(self.conf)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                raise RuntimeError(f"apache2 exited at start:\n{out}\n"
                                   f"{self.error_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.https_port),
                                              timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"apache2 did not listen in time:\n"
                           f"{self.error_log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def graceful(self):
        self.proc.send_signal(signal.SIGUSR1)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- requests --------------------------------------------------------
    def url(self, path, tls=True):
        if tls:
            return f"https://127.0.0.1:{self.https_port}{path}"
        return f"http://127.0.0.1:{self.http_port}{path}"

    def session(self):
        s = requests.Session()
        # the environment (REQUESTS_CA_BUNDLE, proxies) must not override
        # the test's own certificate or send loopback traffic elsewhere
        s.trust_env = False
        s.verify = str(self.cert)
        return s

    def request(self, method, path, tls=True, **kw):
        kw.setdefault("verify", str(self.cert))
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url(path, tls), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def raw(self, data, tls=True, timeout=30):
        """Sends `data` (bytes, a whole request that asks the server to
        close the connection) as it is; returns the RawResponse."""
        sock = socket.create_connection(
            ("127.0.0.1", self.https_port if tls else self.http_port),
            timeout=timeout)
        if tls:
            ctx = ssl.create_default_context(cafile=str(self.cert))
            sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        with sock:
            sock.sendall(data)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return RawResponse(b"".join(chunks))

    def is_serving(self):
        """Still up and answering: the process runs and a static file
        outside any protected location comes back."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        return self.get("/public/hello").status_code == 200

    # -- what it wrote ---------------------------------------------------
    def error_log(self):
        p = self.root / "logs" / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def access_log(self):
        p = self.root / "logs" / "access.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_for_access_log(self, text, timeout=5):
        """The access log once it holds `text`: httpd writes the line after
        the client may already have read the answer."""
        deadline = time.time() + timeout
        while True:
            log = self.access_log()
            if text in log or time.time() > deadline:
                return log
            time.sleep(0.05)


class EchoBackend:
    """A plain HTTP backend on a free loopback port, for mod_proxy to pass
    requests to: it answers every GET with what it received, as env.cgi
    would show it (REQUEST_URI=..., HTTP_X_SOME_HEADER=...), so env_of
    reads both.  It is a separate server because httpd strips X-ApiAuth-*
    from every request it receives, a proxied one to itself included."""

    def __init__(self):
        class Echo(BaseHTTPRequestHandler):
            def do_GET(self):
                lines = [f"REQUEST_URI={self.path}"]
                for name, value in self.headers.items():
                    lines.append("HTTP_" + name.upper().replace("-", "_")
                                 + "=" + value)
                body = ("\n".join(sorted(lines)) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def env_of(response):
    """The KEY=VALUE lines env.cgi printed, as a dict."""
    out = {}
    for line in response.text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def make_key(directory, kind="rsa", name=None):
    """A fresh signing key made with the openssl command line: rsa (RS256),
    ec (P-256, ES256) or ed25519 (EdDSA).  Returns its path."""
    path = Path(directory) / (name or f"{kind}.pem")
    args = {"rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "ec": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "ed25519": ["-algorithm", "ED25519"]}[kind]
    subprocess.run(["openssl", "genpkey", *args, "-out", str(path)],
                   check=True, capture_output=True)
    path.chmod(0o644)
    return path


def htpasswd(path, user, password):
    """Adds a resource owner to an AuthUserFile (bcrypt)."""
    flags = "-bB" + ("c" if not Path(path).exists() else "")
    subprocess.run(["htpasswd", flags, str(path), user, password],
                   check=True, capture_output=True)


OAUTH_CONF = """
ApiAuthOAuthIssuer {issuer}
ApiAuthOAuthSigningKey "{key}"
ApiAuthOAuthScope integration.store authorization_code client_credentials
ApiAuthOAuthScope integration.order client_credentials
ApiAuthOAuthScope integration.inventory client_credentials
ApiAuthOAuthScopeDescription integration.store "Read and change your store"
ApiAuthOAuthEndpoint authorization /auth/v2/authorize
ApiAuthOAuthEndpoint token /auth/v2/token
ApiAuthOAuthEndpoint jwks /.well-known/jwks.json
ApiAuthOAuthEndpoint introspection /auth/v2/introspect
ApiAuthOAuthEndpoint revocation /auth/v2/revoke
{extra}
<Location /auth/v2/token>
    SetHandler apiauth-token
</Location>
<Location /auth/v2/authorize>
    AuthType Basic
    AuthName "login"
    AuthBasicProvider file
    AuthUserFile "{users}"
    Require valid-user
    SetHandler apiauth-authorize
</Location>
<Location /.well-known/jwks.json>
    SetHandler apiauth-jwks
</Location>
<Location /.well-known/oauth-authorization-server>
    SetHandler apiauth-metadata
</Location>
<Location /auth/v2/introspect>
    SetHandler apiauth-introspect
</Location>
<Location /auth/v2/revoke>
    SetHandler apiauth-revoke
</Location>
# resources: Bearer tokens of this server, checked with revocation
<Location /integration/v1>
    AuthType apiauth
    AuthName "taptouch"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.store
</Location>
<Location /orders>
    AuthType apiauth
    AuthName "taptouch"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.order
</Location>
"""


class OAuthServer:
    """An authorization server as Taptouch documents it: mod_apiauth_oauth
    with a fresh signing key, a SQLite store, a resource owner alice (password
    wonderland) who logs in with Basic at the authorize endpoint, and
    protected resources under /integration/v1 (scope integration.store) and
    /orders (integration.order).  `body` adds configuration; the issuer is
    https://127.0.0.1:<https port>."""

    def __init__(self, cert, key, key_kind="rsa", body="", extra="",
                 store=None, **httpd_kw):
        self.dir = make_workdir("apiauth-oauth-")
        self.signing_key = make_key(self.dir, key_kind)
        self.users = self.dir / "users"
        htpasswd(self.users, "alice", "wonderland")
        self.store = store or Store(self.dir / "store")
        # the issuer names the port, so it is chosen first
        port = free_port()
        self.issuer = f"https://127.0.0.1:{port}"
        conf = OAUTH_CONF.format(issuer=self.issuer, key=self.signing_key,
                                 users=self.users, extra=extra)
        self.httpd = Httpd(make_workdir("apiauth-httpd-"), cert, key,
                           body=conf + body, store=self.store,
                           modules=("oauth",), https_port=port, **httpd_kw)

    def client(self, name, *grants, redirect_uris=("https://client.example/cb",),
               scopes=("integration.store",), public=False, first_party=False,
               resource_server=False, app=None):
        """Registers a client with apiauth-admin; returns its JSON
        (client_id, client_secret or None, app, name)."""
        import json as _json
        args = ["client", "create", name]
        for g in grants:
            args += ["--grant", g]
        for u in redirect_uris:
            args += ["--redirect-uri", u]
        for s in scopes:
            args += ["--scope", s]
        if public:
            args.append("--public")
        if first_party:
            args.append("--first-party")
        if resource_server:
            args.append("--resource-server")
        if app:
            args += ["--app", app]
        return _json.loads(self.store.out(*args, json=True))

    def start(self):
        self.httpd.start()
        return self

    def stop(self):
        self.httpd.stop()

    def __getattr__(self, name):
        # get/post/url/session/error_log... are the server's
        return getattr(self.httpd, name)
