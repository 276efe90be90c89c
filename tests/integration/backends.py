"""The services the integration tests run beside httpd: which store backend
this run uses, a private PostgreSQL cluster, and memcached.

APIAUTH_TEST_DBD chooses the backend: sqlite3 (the default) or pgsql.  For
pgsql the whole session shares one cluster of its own: initdb in a
temporary directory, run as the unprivileged `postgres` user (as ourselves
when the tests do not run as root), listening on 127.0.0.1 only, on a free
port, with its socket in that directory and trust for 127.0.0.1 alone.
Every Store gets a fresh database in it.  The cluster starts the first time
a store needs it and is stopped (pg_ctl stop -m fast) and removed when the
session ends, however it ends (conftest.py, and atexit behind it).

Nothing here imitates a database: the fault tests stop and start the real
cluster.
"""
import atexit
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DBD = os.environ.get("APIAUTH_TEST_DBD", "sqlite3")
if DBD not in ("sqlite3", "pgsql"):
    raise RuntimeError(f"APIAUTH_TEST_DBD={DBD!r}: use sqlite3 or pgsql")

PG_USER = "postgres"      # the system user the Debian package creates
PG_SUPERUSER = "postgres"  # the cluster's own superuser role


_PORTS_GIVEN = set()


def free_port():
    """A loopback port nobody listens on now, and never one this process
    gave out before: the kernel may hand the same free port to two binds
    in a row, and one server asking for two ports then gets one twice."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port
    raise RuntimeError("no loopback port left that was not given out before")


def pg_bindir():
    """The newest installed server's programs (Debian keeps them out of
    PATH, under /usr/lib/postgresql/VERSION/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("APIAUTH_TEST_DBD=pgsql needs the PostgreSQL "
                           "server: apt-get install postgresql "
                           "(support/setup-debian does)")
    return Path(found[-1]).parent


def _client_env():
    """The environment of psql: none of the caller's PG* settings (a
    PGSERVICE or PGHOST of the machine must not redirect the tests)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


class PgCluster:
    """A throw-away PostgreSQL cluster: data, socket and log in one
    temporary directory that belongs to the user the server runs as."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="apiauth-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.running = False
        self._names = itertools.count(1)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.dir.chmod(0o700)
        self._server_cmd(["initdb", "-D", str(self.data), "-U", PG_SUPERUSER,
                          "-E", "UTF8", "--locale=C", "--no-sync",
                          "--auth=reject"])
        # trust, for TCP from 127.0.0.1 only: no unix socket line at all
        (self.data / "pg_hba.conf").write_text(
            f"host all {PG_SUPERUSER} 127.0.0.1/32 trust\n")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"""
# apiauth tests: private, loopback only, fast and not durable
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 400
shared_buffers = 32MB
log_min_messages = warning
log_connections = off
""")

    def _server_cmd(self, argv, check=True):
        """Runs one of the server's programs as the unprivileged user,
        never as root."""
        cmd = [str(self.bindir / argv[0])] + argv[1:]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", PG_USER, "--"] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              cwd=self.dir, env=_client_env())
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed "
                               f"({proc.returncode}):\n{proc.stdout}"
                               f"{proc.stderr}\n{self.log_text()}")
        return proc

    # -- lifecycle -------------------------------------------------------
    def start(self):
        """Starts the server on the cluster's port and waits until it takes
        connections (the data stays between stop and start)."""
        self._server_cmd(["pg_ctl", "-D", str(self.data), "-l",
                          str(self.log), "-w", "-t", "60", "start"])
        self.running = True
        return self

    def stop(self):
        """pg_ctl stop -m fast: connections are cut, the data stays."""
        if self.running:
            self._server_cmd(["pg_ctl", "-D", str(self.data), "-m", "fast",
                              "-w", "-t", "60", "stop"], check=False)
            self.running = False

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    # -- databases -------------------------------------------------------
    def conninfo(self, database):
        """libpq's keyword=value form, the same for DBDParams and
        apiauth-admin -P."""
        return (f"host=127.0.0.1 port={self.port} dbname={database} "
                f"user={PG_SUPERUSER}")

    def psql(self, database, statement, check=True):
        """Runs SQL with psql, unaligned and without headers: rows one per
        line, columns joined by |, NULL as an empty string (what the
        sqlite3 shell prints)."""
        proc = subprocess.run(
            ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
             "-d", self.conninfo(database), "-c", statement],
            capture_output=True, text=True, env=_client_env())
        if check and proc.returncode != 0:
            raise AssertionError(f"psql failed ({proc.returncode}): "
                                 f"{proc.stderr}")
        return proc

    def create_database(self):
        name = f"apiauth_{os.getpid()}_{next(self._names)}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name):
        """Drops it even while httpd still holds connections to it (what
        the store-down tests need)."""
        if self.running:
            self.psql("postgres", f"DROP DATABASE IF EXISTS {name} "
                      "WITH (FORCE)", check=False)


_cluster = None


def _stop_on_sigterm(signum, frame):
    """A session killed with SIGTERM (a CI timeout) runs no finalizer and
    no atexit: the cluster would outlive it."""
    shutdown_pg_cluster()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def pg_cluster():
    """The session's cluster, started at the first call."""
    global _cluster
    if _cluster is None:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _stop_on_sigterm)
        _cluster = PgCluster()
        try:
            _cluster.start()
        except Exception:
            _cluster.destroy()
            _cluster = None
            raise
    return _cluster


def shutdown_pg_cluster():
    global _cluster
    if _cluster is not None:
        _cluster.destroy()
        _cluster = None


atexit.register(shutdown_pg_cluster)


class Memcached:
    """memcached on 127.0.0.1 and a free port, for the socache that nodes
    share (ApiAuthCacheSOCache memcache:127.0.0.1:PORT)."""

    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self, timeout=10):
        cmd = [shutil.which("memcached") or "/usr/bin/memcached",
               "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
               "-m", "16"]
        if os.geteuid() == 0:
            cmd += ["-u", "memcache" if _user_exists("memcache")
                    else "nobody"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("memcached exited at start: "
                                   + self.proc.stderr.read().decode())
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("memcached did not listen in time")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def socache(self):
        return f"memcache:127.0.0.1:{self.port}"


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
