"""The conf-examples as the tests serve them: the paths an example names
under /etc/apiauth and /var/lib/apiauth moved into a work directory, the
files there made, and an ExampleSite that serves examples over a fresh
store with a real httpd."""
import secrets
import shutil

from harness import (APIAUTH_SO, OAUTH_SO, ROOT, Httpd, Store, htpasswd,
                     make_key, make_workdir)


def local_paths(text, workdir):
    return (text.replace("/etc/apiauth/", f"{workdir}/etc/")
                .replace("/var/lib/apiauth/", f"{workdir}/var/")
                .replace("/usr/lib/apache2/modules/mod_apiauth.so",
                         str(APIAUTH_SO))
                .replace("/usr/lib/apache2/modules/mod_apiauth_oauth.so",
                         str(OAUTH_SO)))


def make_named_files(workdir):
    etc = workdir / "etc"
    etc.mkdir()
    (workdir / "var").mkdir()
    make_key(etc, "rsa", "signing-2026.pem")
    htpasswd(etc / "users", "alice", "wonderland")
    (etc / "pepper").write_text("0123456789abcdef0123456789abcdef\n")
    # form-login.conf's session key and login page
    (etc / "session-key").write_text(secrets.token_hex(32) + "\n")
    shutil.copy(ROOT / "conf-examples" / "login.html", etc / "login.html")
    for f in etc.iterdir():
        f.chmod(0o644)


class ExampleSite:
    """A fresh store in a work directory of its own, and httpd servers of
    conf-examples over it.  A fixture fills the store and keeps what it made
    as attributes of the site (keys, ids); the first server's methods (get,
    post, url, error_log...) are the site's.  `remove` stops and deletes
    everything."""

    def __init__(self, prefix):
        self.dir = make_workdir(prefix)
        self.store = Store(self.dir / "store")
        self.servers = []
        self.httpd = None

    def example(self, *names):
        """The named conf-examples, one after the other, with local paths."""
        return "\n".join(
            local_paths((ROOT / "conf-examples" / name).read_text(), self.dir)
            for name in names)

    def serve(self, tls, body, modules=("oauth",), **kw):
        """Starts an httpd with mod_apiauth and mod_apiauth_oauth (and
        `modules`) on this store; `body` is its configuration (or a
        function of the server)."""
        h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body,
                  store=self.store, modules=modules, **kw).start()
        self.servers.append(h)
        if self.httpd is None:
            self.httpd = h
        return h

    def remove(self):
        for h in self.servers:
            h.stop()
            shutil.rmtree(h.root, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __getattr__(self, name):
        if name == "httpd":
            raise AttributeError(name)
        return getattr(self.httpd, name)
