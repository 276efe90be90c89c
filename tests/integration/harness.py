"""A real apache2 for the integration tests, and the tools around it.

Httpd writes a configuration from httpd.conf.template, starts
`apache2 -DFOREGROUND` on free loopback ports (one plain HTTP, one HTTPS with
a self-signed certificate), waits until it answers, and stops it again.  Store
is a real store set up with apiauth-admin, exactly as an operator would: a
SQLite file, or with APIAUTH_TEST_DBD=pgsql a database of its own in the
session's PostgreSQL cluster (backends.py).
Nothing here imitates httpd or the database.
"""
import hashlib
import hmac
import os
import pwd
import secrets
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

from backends import DBD, free_port, pg_cluster

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
# APIAUTH_TEST_VALGRIND=1: every httpd runs as one process (apache2 -X)
# under valgrind's memcheck; stop() reads its log into VALGRIND_FINDINGS,
# which conftest.py turns into a failure of the test that stopped it.
VALGRIND = os.environ.get("APIAUTH_TEST_VALGRIND") == "1"
VALGRIND_FINDINGS = []


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


# ---- every secret the suite saw, and every log it made ----------------------

class SecretRegistry:
    """What the whole test session minted or used as a secret, by kind,
    and a copy of every log the servers it ran wrote, so that one check at
    the end (test_zz_logs.py) can look for each secret in each log.

    The harness feeds it on its own: apiauth-admin's output (keys, client
    secrets) and input (user passwords), htpasswd, and every answer read
    through Httpd.request/get/post/session (access, refresh, session and
    install tokens, codes in a redirect).  Tests that talk to a server by
    other means add what they got with `add`.  Values shorter than
    MIN_LENGTH are left out: they would match by accident."""

    MIN_LENGTH = 8
    # a JSON member of an answer, and the kind of secret it holds
    RESPONSE_FIELDS = {"access_token": "access token",
                       "refresh_token": "refresh token",
                       "session_token": "session token",
                       "client_secret": "client secret",
                       "secret": "key"}

    def __init__(self):
        self._lock = threading.Lock()
        self._secrets = {}        # value -> kind
        self._logs = {}           # server root -> (label, archive dir)
        self._archive = None

    # -- secrets -----------------------------------------------------------
    def add(self, kind, value):
        if not isinstance(value, str) or len(value) < self.MIN_LENGTH:
            return
        with self._lock:
            self._secrets.setdefault(value, kind)

    def secrets(self):
        """[(kind, value)]: for matching only; never print a value."""
        with self._lock:
            return [(k, v) for v, k in self._secrets.items()]

    def kinds(self):
        with self._lock:
            return set(self._secrets.values())

    def add_from_document(self, doc):
        """The secrets in a JSON answer (a token response, a login, an
        install token, apiauth-admin --json)."""
        if not isinstance(doc, dict):
            return
        for field, kind in self.RESPONSE_FIELDS.items():
            if field == "secret" and doc.get("kind"):
                kind = f"key ({doc['kind']})"
            self.add(kind, doc.get(field))
        if "installid" in doc:
            self.add("install token", doc.get("token"))

    def add_from_admin(self, args, input, stdout):
        """What apiauth-admin printed or read: a key or client secret
        created, a user's password set."""
        args = [str(a) for a in args]
        if len(args) < 2:
            return
        what = (args[0], args[1])
        if what in (("user", "create"), ("user", "passwd")) and input:
            self.add("user password", input.rstrip("\n"))
        if what not in (("key", "create"), ("client", "create")):
            return
        try:
            self.add_from_document(json.loads(stdout))
            return
        except ValueError:
            pass
        lines = stdout.strip().splitlines()
        if what == ("key", "create") and len(lines) == 1:
            kind = (args[args.index("--kind") + 1]
                    if "--kind" in args[:-1] else "api_key")
            self.add(f"key ({kind})", lines[0])
        elif what == ("client", "create") and len(lines) == 2:
            self.add("client secret", lines[1])

    def response_hook(self, response, *args, **kwargs):
        """A requests response hook: the secrets of an answer.  Streamed
        answers are left unread (the test reads them itself)."""
        if not kwargs.get("stream"):
            self.add_from_response(response)
        return response

    def add_from_response(self, response):
        from urllib.parse import parse_qs, urlparse
        location = response.headers.get("Location")
        if location:
            for code in parse_qs(urlparse(location).query).get("code", []):
                self.add("authorization code", code)
        if response.headers.get("Content-Type", "").startswith(
                "application/json") and len(response.content) < 1 << 20:
            try:
                self.add_from_document(response.json())
            except ValueError:
                pass

    # -- logs --------------------------------------------------------------
    def keep_logs(self, httpd):
        """Copies the server's logs aside (its directory is removed after
        the test); called each time a server stops, the last copy wins."""
        logs = [p for p in (httpd.root / "logs").glob("*.log") if p.is_file()]
        if not logs:
            return
        with self._lock:
            if self._archive is None:
                self._archive = Path(tempfile.mkdtemp(
                    prefix="apiauth-suite-logs-"))
                if not os.environ.get("APIAUTH_KEEP_LOGS"):
                    import atexit
                    atexit.register(shutil.rmtree, self._archive, True)
            key = str(httpd.root)
            if key not in self._logs:
                self._logs[key] = (httpd.label, self._archive
                                   / f"server-{len(self._logs):04d}")
            label, dest = self._logs[key]
        dest.mkdir(exist_ok=True)
        for p in logs:
            shutil.copyfile(p, dest / p.name)

    def logs(self):
        """[(label of the test that started the server, log file)]."""
        with self._lock:
            entries = list(self._logs.values())
        return [(label, p) for label, d in entries
                for p in sorted(d.glob("*.log"))]


def secret_forms(value):
    """How a secret may show in a log: as it is, URL-encoded, inside any
    base64 (a Basic pair: the three alignments of its bytes, without the
    characters its neighbours would change), and for a JWT its
    signature."""
    import base64
    from urllib.parse import quote, quote_plus
    forms = {value, quote(value, safe=""), quote_plus(value)}
    raw = value.encode()
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw).decode()
        start = (offset * 4 + 2) // 3
        end = ((offset + len(raw)) * 4) // 3
        forms.add(enc[start:end])
    if value.count(".") == 2 and value.startswith("eyJ"):
        forms.add(value.rsplit(".", 1)[1])
    return {f for f in forms if len(f) >= SecretRegistry.MIN_LENGTH}


SECRETS = SecretRegistry()


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
    """A store created and filled with apiauth-admin: a SQLite file in
    `directory`, or (DBD pgsql) a fresh database in the session's cluster
    (or in `cluster`); `database` adopts one that exists already.
    `backend` overrides APIAUTH_TEST_DBD, for what is about one backend;
    `admin` is the apiauth-admin to run (the one built here)."""

    def __init__(self, directory, pepper=None, database=None, cluster=None,
                 backend=None, admin=ADMIN):
        self.admin_path = admin     # an installed apiauth-admin, say
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "apiauth.db"
        self.pepper = pepper
        self.backend = backend or ("pgsql" if cluster else DBD)
        if self.backend == "pgsql":
            self.cluster = cluster or pg_cluster()
            self.database = database or self.cluster.create_database()
        self.admin("init")
        give_to_server(self.dir)

    @property
    def driver(self):
        return self.backend

    @property
    def params(self):
        if self.backend == "pgsql":
            return self.cluster.conninfo(self.database)
        return str(self.path)

    def httpd_conf(self):
        return f'DBDriver {self.driver}\nDBDParams "{self.params}"\n'

    def admin(self, *args, check=True, input=None, json=False):
        """Runs apiauth-admin against this store; returns the process."""
        cmd = [str(self.admin_path), "-D", self.driver, "-P", self.params]
        if self.pepper:
            cmd += ["--pepper", str(self.pepper)]
        if json:
            cmd.append("--json")
        proc = subprocess.run(cmd + [str(a) for a in args], input=input,
                              capture_output=True, text=True)
        SECRETS.add_from_admin(args, input, proc.stdout)
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
        """Reads or changes the store directly, behind the server's back:
        rows one per line, columns joined by |, NULL empty (the sqlite3
        shell's output; psql -At prints the same).  Keep `statement`
        portable between SQLite and PostgreSQL."""
        if self.backend == "pgsql":
            return self.cluster.psql(self.database,
                                     statement).stdout.strip()
        proc = subprocess.run(["sqlite3", str(self.path), statement],
                              capture_output=True, text=True, check=True)
        return proc.stdout.strip()

    def digest(self, secret):
        """What the store holds for a secret: hex SHA-256, or HMAC-SHA-256
        under the pepper (its file, trailing white space stripped)."""
        if self.pepper:
            key = Path(self.pepper).read_bytes().rstrip()
            return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()
        return hashlib.sha256(secret.encode()).hexdigest()

    def credential_id(self, secret):
        """The id of the credential whose secret this is (a session or
        install token the server minted), found the way the server finds
        it: by digest."""
        return self.sql("SELECT id FROM apiauth_credentials "
                        f"WHERE digest = '{self.digest(secret)}'")

    def drop(self):
        """Removes the store (what conftest does after the tests that
        used it)."""
        if self.backend == "pgsql":
            self.cluster.drop_database(self.database)
        shutil.rmtree(self.dir, ignore_errors=True)


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
    SECRETS.add_from_document(data)
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
                 http_port=None, https_port=None, ssl_extra=""):
        self.root = Path(workdir)
        self.cert, self.key = cert, key
        self.http_port = http_port or free_port()
        self.https_port = https_port or free_port()
        self.proc = None
        # which test started it, to name its logs in test_zz_logs.py
        self.label = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(
            " ", 1)[0]
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
            ssl_extra=ssl_extra,
            body=extra_global + "\n" + body))
        give_to_server(self.root / "run")

    # -- lifecycle -------------------------------------------------------
    def reap_leftovers(self):
        """Kills what outlived this server's parent: an httpd refused in
        its post-configuration (ours run after mod_cgid's) has forked the
        cgid daemon already, and nobody tells that daemon to go."""
        mine = f"-f\0{self.conf}\0".encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if mine in cmdline:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass

    def stopped_at_start(self, timeout=10):
        """Starts it expecting a refusal that comes after httpd listens (a
        post-configuration check): it may be seen starting, then it stops.
        True when it stopped in time; its error log says why."""
        try:
            self.start()
        except RuntimeError:
            return True
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        stopped = self.proc.poll() is not None
        if stopped:
            self.reap_leftovers()
        return stopped

    def config_test(self):
        return subprocess.run([HTTPD_BIN, "-t", "-f", str(self.conf)],
                              capture_output=True, text=True)

    def start(self, timeout=15):
        cmd = [HTTPD_BIN, "-DFOREGROUND", "-f", str(self.conf)]
        if VALGRIND:
            cmd = memcheck_command(self.root / "valgrind") + [
                HTTPD_BIN, "-X", "-f", str(self.conf)]
            timeout *= 8
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                self.reap_leftovers()
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
                # memcheck's leak search at exit takes a while
                self.proc.wait(timeout=120 if VALGRIND else 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.reap_leftovers()
        if VALGRIND:
            read_memcheck_logs(self.root / "valgrind")
        SECRETS.keep_logs(self)

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
        s.hooks["response"].append(SECRETS.response_hook)
        return s

    def request(self, method, path, tls=True, **kw):
        kw.setdefault("verify", str(self.cert))
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        kw.setdefault("hooks", {"response": SECRETS.response_hook})
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


# ---- httpd under valgrind (APIAUTH_TEST_VALGRIND=1) --------------------------

# A frame of ours: the modules, or (with their debug information) any source
# file of this tree, lib/ included, which both modules link in.
MEMCHECK_OURS = ("mod_apiauth.so", "mod_apiauth_oauth.so", f"{ROOT}/")
# What fails a test; anything else memcheck says is left to its log.
MEMCHECK_FATAL = ("Invalid read", "Invalid write", "Invalid free",
                  "Mismatched free", "uninitialised", "definitely lost")


def memcheck_command(log_dir):
    """valgrind's command line for one httpd, logging to log_dir.  httpd
    switches to www-data after start when run as root: the directory is
    its.  Forked children (mod_cgid's daemon and the CGIs it starts) are
    not followed."""
    log_dir.mkdir(exist_ok=True)
    give_to_server(log_dir)
    return ["valgrind", "--tool=memcheck", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--num-callers=30",
            "--child-silent-after-fork=yes", "--fullpath-after=",
            # httpd unloads the modules before memcheck's leak search: keep
            # their symbols to name our frames in it
            "--keep-debuginfo=yes", "--vgdb=no",
            f"--suppressions={HERE / 'valgrind.supp'}",
            f"--log-file={log_dir}/memcheck.%p.log"]


def memcheck_errors(text):
    """The reports of a memcheck log that fail a test: an error of a
    MEMCHECK_FATAL kind with a frame of ours in any of its stacks (where
    the memory was used, allocated or freed)."""
    found, block = [], []
    for line in text.splitlines() + ["==0== "]:
        if not line.startswith("==") or "== " not in line:
            continue
        body = line.split("== ", 1)[1]
        # "Thread 4:" says whose the next report is; not part of it
        if body.strip() and not body.startswith("Thread "):
            block.append(body)
            continue
        if body.strip():
            continue
        if (block and any(kind in block[0] for kind in MEMCHECK_FATAL)
                and any(ours in frame for frame in block[1:]
                        for ours in MEMCHECK_OURS)):
            found.append("\n".join(block))
        block = []
    return found


def read_memcheck_logs(log_dir):
    """Adds the fatal reports of every log in log_dir to VALGRIND_FINDINGS,
    each log once; a log with findings is copied aside, since the server's
    directory is removed after the test."""
    for log in sorted(log_dir.glob("memcheck.*.log")):
        found = memcheck_errors(log.read_text(errors="replace"))
        log.rename(log.with_suffix(".read"))
        if found:
            keep = Path(tempfile.mkdtemp(prefix="apiauth-memcheck-"))
            shutil.copy(log.with_suffix(".read"), keep / log.name)
            VALGRIND_FINDINGS.append(
                f"{len(found)} memory error(s) in apiauth's code (whole log: "
                f"{keep / log.name}):\n\n" + "\n\n".join(found))


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


def make_pepper(directory):
    """An ApiAuthSecretPepper file, as every node of a cluster shares it
    (readable by the server's user)."""
    path = directory / "pepper"
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o644)
    return path


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
    SECRETS.add("resource owner password", password)
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
    /orders (integration.order).  `body` adds configuration (@ISSUER@ in
    it, and in `extra`, is the issuer); the issuer is
    https://127.0.0.1:<https port>.  `endpoints` False: no
    ApiAuthOAuthEndpoint, the metadata finds each endpoint itself."""

    def __init__(self, cert, key, key_kind="rsa", body="", extra="",
                 store=None, endpoints=True, modules=(), **httpd_kw):
        self.dir = make_workdir("apiauth-oauth-")
        self.signing_key = make_key(self.dir, key_kind)
        self.users = self.dir / "users"
        htpasswd(self.users, "alice", "wonderland")
        self.own_store = store is None
        self.store = store or Store(self.dir / "store")
        # the issuer names the port, so it is chosen first
        port = free_port()
        self.issuer = f"https://127.0.0.1:{port}"
        template = OAUTH_CONF
        if not endpoints:
            # the metadata finds them where their handlers are set
            template = "\n".join(
                line for line in template.splitlines()
                if not line.startswith("ApiAuthOAuthEndpoint"))
        conf = template.format(issuer=self.issuer, key=self.signing_key,
                               users=self.users,
                               extra=extra.replace("@ISSUER@", self.issuer))
        body = body.replace("@ISSUER@", self.issuer)
        self.httpd = Httpd(make_workdir("apiauth-httpd-"), cert, key,
                           body=conf + body, store=self.store,
                           modules=("oauth", *modules), https_port=port,
                           **httpd_kw)

    def client(self, name, *grants, redirect_uris=("https://client.example/cb",),
               scopes=("integration.store",), public=False, first_party=False,
               resource_server=False, app=None, display_name=None):
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
        if display_name:
            args += ["--display-name", display_name]
        return _json.loads(self.store.out(*args, json=True))

    def start(self):
        self.httpd.start()
        return self

    def stop(self):
        self.httpd.stop()

    def remove(self):
        """Stops the server and removes its files and its own store."""
        self.stop()
        if self.own_store:
            self.store.drop()
        shutil.rmtree(self.httpd.root, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __getattr__(self, name):
        # get/post/url/session/error_log... are the server's
        return getattr(self.httpd, name)
