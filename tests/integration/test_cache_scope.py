"""A cached identity is reused only where the same store would have found
it: two locations reading different credential files, or two virtual
hosts with databases of their own, share the provider names ("file",
"dbd") but not their keys.  A key known to one of them and used there a
moment ago is still unknown to the other."""
import shutil

import pytest

from harness import env_of, file_key, give_to_server, make_workdir

NOT_KNOWN = {"error": "invalid_token",
             "error_description": "the credential is not known"}


def body(env):
    def render(httpd):
        vhost = f"127.0.0.1:{httpd.http_port}"
        return f"""
<Location /file-a>
    AuthType apiauth
    AuthName "a"
    ApiAuthProvider file
    ApiAuthCredentialFile "{env.creds_a}"
    ApiAuthCacheTTL 600
    ApiAuthRequireTLS off
    Require valid-user
</Location>
<Location /file-b>
    AuthType apiauth
    AuthName "b"
    ApiAuthProvider file
    ApiAuthCredentialFile "{env.creds_b}"
    ApiAuthCacheTTL 600
    ApiAuthRequireTLS off
    Require valid-user
</Location>
<Location /db>
    AuthType apiauth
    AuthName "db"
    ApiAuthCacheTTL 600
    ApiAuthRequireTLS off
    Require valid-user
</Location>
# the first is the default of the address: it serves 127.0.0.1 too
<VirtualHost {vhost}>
    ServerName a.test
</VirtualHost>
<VirtualHost {vhost}>
    ServerName b.test
    {env.store_b.httpd_conf()}
</VirtualHost>
"""
    return render


class Env:
    pass


@pytest.fixture(scope="module")
def env(module_store, module_httpd):
    e = Env()
    e.dir = make_workdir("apiauth-scope-")
    give_to_server(e.dir)
    e.creds_a = e.dir / "credentials-a"
    e.creds_b = e.dir / "credentials-b"
    e.app_a = "app_FileStoreA000001"
    e.app_b = "app_FileStoreB000001"
    e.file_key_a, _ = file_key(e.creds_a, e.app_a)
    e.file_key_b, _ = file_key(e.creds_b, e.app_b)
    e.store_a = module_store()
    e.store_b = module_store()
    e.db_app_a = e.store_a.app("shop-a")
    e.db_app_b = e.store_b.app("shop-b")
    e.db_key_a, _ = e.store_a.key("shop-a")
    e.db_key_b, _ = e.store_b.key("shop-b")
    e.httpd = module_httpd(store=e.store_a, body=body(e))
    yield e
    shutil.rmtree(e.dir, ignore_errors=True)


def get(env, path, key, host="a.test"):
    # two requests on one connection each time: the second meets the
    # per-connection memo as well as the shared cache (plain HTTP: the
    # virtual hosts share the test server's plain port)
    with env.httpd.session() as s:
        return [s.get(env.httpd.url(path, tls=False), timeout=30,
                      headers={"X-API-Key": key, "Host": host})
                for _ in range(2)]


def test_each_file_location_knows_its_own_key(env):
    for r in get(env, "/file-a/env", env.file_key_a):
        assert r.status_code == 200, r.text
        assert env_of(r)["APIAUTH_APP"] == env.app_a
    for r in get(env, "/file-b/env", env.file_key_b):
        assert r.status_code == 200, r.text
        assert env_of(r)["APIAUTH_APP"] == env.app_b


def test_a_key_cached_for_one_file_is_unknown_to_the_other(env):
    assert get(env, "/file-a/hello", env.file_key_a)[0].status_code == 200
    for r in get(env, "/file-b/hello", env.file_key_a):
        assert r.status_code == 401
        assert r.json() == NOT_KNOWN
    assert get(env, "/file-b/hello", env.file_key_b)[0].status_code == 200
    for r in get(env, "/file-a/hello", env.file_key_b):
        assert r.status_code == 401
        assert r.json() == NOT_KNOWN


def test_each_virtual_host_knows_its_own_database(env):
    for r in get(env, "/db/env", env.db_key_a, host="a.test"):
        assert r.status_code == 200, r.text
        assert env_of(r)["APIAUTH_APP"] == env.db_app_a
    for r in get(env, "/db/env", env.db_key_b, host="b.test"):
        assert r.status_code == 200, r.text
        assert env_of(r)["APIAUTH_APP"] == env.db_app_b


def test_a_key_cached_in_one_virtual_host_is_unknown_to_the_other(env):
    assert get(env, "/db/hello", env.db_key_a, "a.test")[0].status_code == 200
    for r in get(env, "/db/hello", env.db_key_a, host="b.test"):
        assert r.status_code == 401
        assert r.json() == NOT_KNOWN
    assert get(env, "/db/hello", env.db_key_b, "b.test")[0].status_code == 200
    for r in get(env, "/db/hello", env.db_key_b, host="a.test"):
        assert r.status_code == 401
        assert r.json() == NOT_KNOWN
