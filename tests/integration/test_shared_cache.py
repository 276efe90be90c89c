"""A cache other hosts can write to (memcached, often reachable by every
host of a network, without authentication) is believed only for what
this server wrote there itself: every entry carries a MAC under a key of
ApiAuthSecretPepper, over the entry and the key it is stored under.

The tests write into memcached directly, as such a host would: an entry
copied from an admin's key onto a low-privilege key's slot, an identity
planted with a MAC of the writer's making, and a real entry whose text
was changed.  Each is ignored (and logged), and the credential is then
looked up in the store as if nothing were cached.  A shared cache
without a pepper does not start."""
import secrets
import shutil
import socket
from urllib.parse import unquote

import pytest

from backends import Memcached
from harness import Httpd, Store, env_of, make_pepper, make_workdir

LOCATION = """
ApiAuthCacheSOCache "{socache}"
{pepper}
<Location /keys>
    AuthType apiauth
    AuthName "keys"
    ApiAuthScheme apikey
    ApiAuthCacheTTL 300
    Require valid-user
</Location>
"""


class Mc:
    """memcached's text protocol, as any host that reaches it speaks it."""

    def __init__(self, port):
        self.port = port

    def _talk(self, data, until):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(data)
            out = b""
            while not out.endswith(until):
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out

    def keys(self):
        out = self._talk(b"lru_crawler metadump all\r\n", b"END\r\n")
        return {unquote(line.split(b" ", 1)[0][4:].decode())
                for line in out.splitlines() if line.startswith(b"key=")}

    def get(self, key):
        out = self._talk(f"get {key}\r\n".encode(), b"END\r\n")
        head, _, rest = out.partition(b"\r\n")
        if not head.startswith(b"VALUE"):
            return None
        flags, length = head.split()[2:4]
        return int(flags), rest[:int(length)]

    def set(self, key, flags, value):
        out = self._talk(f"set {key} {flags} 0 {len(value)}\r\n".encode()
                         + value + b"\r\n", b"\r\n")
        assert out == b"STORED\r\n", out


class World:
    pass


@pytest.fixture
def w(tls):
    k = World()
    k.dir = make_workdir("apiauth-shared-")
    k.memcached = Memcached().start()
    k.mc = Mc(k.memcached.port)
    k.pepper = make_pepper(k.dir)
    k.store = Store(k.dir / "store", pepper=k.pepper)
    k.admin_app = k.store.app("admin")
    k.admin, _ = k.store.key("admin", "--scope", "everything")
    k.low_app = k.store.app("low")
    k.low, _ = k.store.key("low", "--scope", "little")
    k.servers = []
    yield k
    for h in k.servers:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)
    k.memcached.stop()
    k.store.drop()
    shutil.rmtree(k.dir, ignore_errors=True)


def server(w, tls, pepper=True):
    body = LOCATION.format(socache=w.memcached.socache,
                           pepper=f'ApiAuthSecretPepper "{w.pepper}"'
                           if pepper else "")
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body,
              store=w.store, modules=("socache_memcache",))
    w.servers.append(h)
    return h


def entries(w):
    """The credential entries in memcached: not the markers or counters,
    whose ids are text ("revoked ...", "failures ...")."""
    return {k for k in w.mc.keys() if len(k) > 64}


def cache_key_of(w, h, key):
    """The memcached key the server stores `key`'s entry under: the one
    that appears when it is first used."""
    before = entries(w)
    r = h.get("/keys/env", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    new = entries(w) - before
    assert len(new) == 1, new
    return new.pop()


def app_seen(h, key):
    # a new connection each time: nothing comes from a keep-alive memo
    r = h.get("/keys/env", headers={"X-API-Key": key, "Connection": "close"})
    assert r.status_code == 200, r.text
    return env_of(r)["APIAUTH_APP"], env_of(r)["APIAUTH_SCOPE"]


def test_a_shared_cache_without_a_pepper_does_not_start(w, tls):
    h = server(w, tls, pepper=False)
    test = h.config_test()
    assert test.returncode != 0
    assert "set ApiAuthSecretPepper" in test.stderr
    with pytest.raises(RuntimeError) as started:
        h.start()
    assert "set ApiAuthSecretPepper" in str(started.value)
    # the same with the pepper starts and serves from the cache
    h = server(w, tls).start()
    assert app_seen(h, w.low) == (w.low_app, "little")


def test_a_virtual_host_without_a_pepper_does_not_start(w, tls):
    """The pepper of one virtual host does not cover another's entries."""
    body = LOCATION.format(socache=w.memcached.socache, pepper="") + f"""
<VirtualHost 127.0.0.1:1>
    ServerName other.example
    ApiAuthSecretPepper "{w.pepper}"
</VirtualHost>
"""
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body,
              store=w.store, modules=("socache_memcache",))
    w.servers.append(h)
    test = h.config_test()
    assert test.returncode != 0
    assert "virtual host 127.0.0.1 has none" in test.stderr, test.stderr


def test_an_admins_entry_copied_onto_another_key_is_not_believed(w, tls):
    h = server(w, tls).start()
    admin_slot = cache_key_of(w, h, w.admin)
    low_slot = cache_key_of(w, h, w.low)
    flags, admin_entry = w.mc.get(admin_slot)
    w.mc.set(low_slot, flags, admin_entry)
    # the low key is still itself, and the copy is named in the log
    assert app_seen(h, w.low) == (w.low_app, "little")
    assert "fails its MAC" in h.error_log()
    # and the admin's own entry still serves the admin
    assert app_seen(h, w.admin) == (w.admin_app, "everything")


def test_an_identity_planted_or_changed_in_the_cache_is_not_believed(w, tls):
    h = server(w, tls).start()
    low_slot = cache_key_of(w, h, w.low)
    flags, entry = w.mc.get(low_slot)
    mac, text = entry[:32], entry[32:]
    # the text changed: the low key's entry now names the admin app
    forged = text.replace(w.low_app.encode(), w.admin_app.encode()).replace(
        b"little", b"everything")
    assert forged != text
    for planted in (mac + forged, secrets.token_bytes(32) + forged, forged):
        w.mc.set(low_slot, flags, planted)
        assert app_seen(h, w.low) == (w.low_app, "little")
    assert h.error_log().count("fails its MAC") >= 3
