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
import signal
import socket
import string
import subprocess
import tempfile
import time
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

    def key(self, app, *extra):
        """Mints a key; returns (secret, credential id)."""
        import json as _json
        data = _json.loads(self.out("key", "create", app, *extra, json=True))
        return data["secret"], data["id"]

    def sql(self, statement):
        """Reads the store directly, to check what it holds."""
        proc = subprocess.run(["sqlite3", str(self.path), statement],
                              capture_output=True, text=True, check=True)
        return proc.stdout.strip()


class Httpd:
    """One apache2 process tree on two free loopback ports."""

    def __init__(self, workdir, cert, key, body="", store=None, modules=(),
                 loglevel="info apiauth:debug", extra_global=""):
        self.root = Path(workdir)
        self.cert, self.key = cert, key
        self.http_port = free_port()
        self.https_port = free_port()
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

    # -- what it wrote ---------------------------------------------------
    def error_log(self):
        p = self.root / "logs" / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def access_log(self):
        p = self.root / "logs" / "access.log"
        return p.read_text(errors="replace") if p.exists() else ""


def env_of(response):
    """The KEY=VALUE lines env.cgi printed, as a dict."""
    out = {}
    for line in response.text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out
