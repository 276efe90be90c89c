"""The Debian package, as an operator installs it: `make deb` builds
libapache2-mod-apiauth (both modules, mods-available/*.load and .conf,
apiauth-admin with its man page, the examples and the SQL schema) and
lintian finds no error in it.  Where the tests run as root on a machine
they may change (CI), the package is installed, `a2enmod apiauth
apiauth_oauth` pulls in dbd and socache_shmcb, `apache2ctl configtest`
passes, and the installed module answers a request -- then everything is
put back as it was."""
import os
import shutil
import subprocess

import pytest

from backends import DBD
from harness import APIAUTH_SO, OAUTH_SO, Httpd, ROOT, Store, make_workdir

INSTALLED = "/usr/lib/apache2/modules"

# the package is one whatever the store: built once, in the SQLite pass
pytestmark = pytest.mark.skipif(DBD == "pgsql", reason="built in the "
                                "SQLite pass (the package does not depend "
                                "on the store)")


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def deb():
    if shutil.which("dpkg-buildpackage") is None or shutil.which("lintian") \
            is None:
        pytest.fail("make deb needs dpkg-dev, debhelper and lintian "
                    "(support/setup-debian)")
    r = run("make", "-s", "deb", cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = sorted((ROOT / "build" / "deb").glob(
        "libapache2-mod-apiauth_*_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_the_package_holds_what_an_operator_needs(deb):
    files = run("dpkg-deb", "-c", str(deb)).stdout
    for path in ("./usr/lib/apache2/modules/mod_apiauth.so",
                 "./usr/lib/apache2/modules/mod_apiauth_oauth.so",
                 "./etc/apache2/mods-available/apiauth.load",
                 "./etc/apache2/mods-available/apiauth.conf",
                 "./etc/apache2/mods-available/apiauth_oauth.load",
                 "./usr/sbin/apiauth-admin",
                 "./usr/share/man/man8/apiauth-admin.8.gz",
                 "./usr/share/doc/libapache2-mod-apiauth/examples/mcp.conf",
                 "./usr/share/apiauth/sql/sqlite/001_core.sql"):
        assert path in files, path
    depends = run("dpkg-deb", "-f", str(deb), "Depends").stdout
    assert "apache2-api-20120211" in depends
    assert "libaprutil1-dbd-sqlite3" in depends


def enabled(name):
    return os.path.exists(f"/etc/apache2/mods-enabled/{name}.load")


@pytest.mark.skipif(os.geteuid() != 0, reason="installing needs root")
def test_installed_enabled_and_answering(deb, tls):
    before = {m: enabled(m) for m in ("dbd", "socache_shmcb")}
    installed_before = run("dpkg", "-s", "libapache2-mod-apiauth"
                           ).returncode == 0
    if installed_before:
        pytest.skip("libapache2-mod-apiauth is installed here already: "
                    "not touching it")
    r = run("dpkg", "-i", str(deb))
    assert r.returncode == 0, r.stdout + r.stderr
    d = make_workdir("apiauth-deb-")
    try:
        r = run("a2enmod", "apiauth", "apiauth_oauth")
        assert r.returncode == 0, r.stdout + r.stderr
        assert enabled("apiauth") and enabled("apiauth_oauth")
        assert enabled("dbd") and enabled("socache_shmcb")
        r = run("apache2ctl", "configtest")
        assert r.returncode == 0 and "Syntax OK" in r.stderr, r.stderr
        # the installed module and apiauth-admin, on a port of our own
        store = Store(d / "store", backend="sqlite3",
                      admin="/usr/sbin/apiauth-admin")
        store.app("shop")
        key, _ = store.key("shop")
        h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1],
                  store=store, modules=("oauth",), body="""
<Location /keys>
    AuthType apiauth
    AuthName "keys"
    ApiAuthScheme apikey
    Require valid-user
</Location>
""")
        conf = h.conf.read_text()
        conf = conf.replace(str(APIAUTH_SO), f"{INSTALLED}/mod_apiauth.so")
        conf = conf.replace(str(OAUTH_SO), f"{INSTALLED}/mod_apiauth_oauth.so")
        assert f"{INSTALLED}/mod_apiauth.so" in conf
        h.conf.write_text(conf)
        with h:
            assert h.get("/keys/hello",
                         headers={"X-API-Key": key}).status_code == 200
            assert h.get("/keys/hello").status_code == 401
        shutil.rmtree(h.root, ignore_errors=True)
        store.drop()
    finally:
        run("a2dismod", "-f", "apiauth_oauth", "apiauth")
        for m, was in before.items():
            if not was:
                run("a2dismod", "-f", m)
        run("dpkg", "--purge", "libapache2-mod-apiauth")
        shutil.rmtree(d, ignore_errors=True)
    assert run("dpkg", "-s", "libapache2-mod-apiauth").returncode != 0
