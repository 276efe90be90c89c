"""When the store cannot answer, mod_apiauth fails closed: 503
temporarily_unavailable, never 200, never a crash; when the store is back,
requests succeed again without a restart."""
import base64
import os
import shutil

import pytest

from harness import give_to_server, make_workdir, with_wrong_checksum

LOCATION = """
<Location /api>
    AuthType apiauth
    AuthName "api"
    ApiAuthScheme apikey token basic bearer
    ApiAuthKeyQuery api_key
    ApiAuthCache off
    Require valid-user
</Location>
"""

UNAVAILABLE = {"error": "temporarily_unavailable",
               "error_description": "the credential store is unreachable"}


class DbdAt:
    """A store configuration by path, for a database that may not be
    there."""

    def __init__(self, path, extra=""):
        self.path = path
        self.extra = extra

    def httpd_conf(self):
        return f'DBDriver sqlite3\nDBDParams "{self.path}"\n{self.extra}\n'


def ways_to_send(key, app):
    pair = base64.b64encode(f"{app}:{key}".encode()).decode()
    bare = base64.b64encode(f"{key}:".encode()).decode()
    return {
        "apikey-header": {"headers": {"X-API-Key": key}},
        "apikey-query": {"params": {"api_key": key}},
        "token": {"headers": {"Authorization": "Token " + key}},
        "bearer": {"headers": {"Authorization": "Bearer " + key}},
        "basic-key": {"headers": {"Authorization": "Basic " + bare}},
        "basic-app-and-key": {"headers": {"Authorization": "Basic " + pair}},
    }


def assert_unavailable(r):
    assert r.status_code == 503, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.json() == UNAVAILABLE


@pytest.fixture(scope="module")
def missing_dir_server(module_store, module_httpd):
    """A server whose DBDParams names a file in a directory that does not
    exist; a real store's keys are sent to it."""
    store = module_store()
    app = store.app("shop")
    key, _ = store.key("shop")
    parent = make_workdir("apiauth-gone-")
    httpd = module_httpd(store=DbdAt(parent / "absent" / "apiauth.db"),
                         body=LOCATION)
    yield httpd, key, app
    shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.parametrize("how", ways_to_send("k", "a"))
def test_unreachable_database_is_503_for_every_scheme(missing_dir_server,
                                                       how):
    httpd, key, app = missing_dir_server
    r = httpd.get("/api/env", **ways_to_send(key, app)[how])
    assert_unavailable(r)
    assert httpd.is_serving()


def test_unreachable_database_still_refuses_mistyped_key_with_401(
        missing_dir_server):
    # the checksum is checked before the store is asked
    httpd, key, _ = missing_dir_server
    r = httpd.get("/api/env", headers={"X-API-Key": with_wrong_checksum(key)})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def test_unreachable_database_still_answers_no_credential_with_401(
        missing_dir_server):
    httpd, _, _ = missing_dir_server
    assert httpd.get("/api/env").status_code == 401


def test_unreachable_database_is_logged_without_the_key(missing_dir_server):
    httpd, key, _ = missing_dir_server
    httpd.get("/api/env", headers={"X-API-Key": key})
    log = httpd.error_log()
    assert "AA30002" in log
    assert key not in log


def test_missing_schema_is_503(new_store, httpd_factory):
    d = make_workdir("apiauth-empty-")
    (d / "apiauth.db").write_bytes(b"")
    give_to_server(d)
    store = new_store()
    store.app("shop")
    key, _ = store.key("shop")
    httpd = httpd_factory(store=DbdAt(d / "apiauth.db"), body=LOCATION)
    assert_unavailable(httpd.get("/api/env", headers={"X-API-Key": key}))
    shutil.rmtree(d, ignore_errors=True)


def test_database_that_appears_later_is_used_without_restart(
        new_store, httpd_factory):
    store = new_store()
    store.app("shop")
    key, _ = store.key("shop")
    later = make_workdir("apiauth-later-") / "db"
    httpd = httpd_factory(store=DbdAt(later / "apiauth.db"), body=LOCATION)
    assert_unavailable(httpd.get("/api/env", headers={"X-API-Key": key}))
    shutil.copytree(store.dir, later)
    give_to_server(later)
    r = httpd.get("/api/env", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    shutil.rmtree(later.parent, ignore_errors=True)


def test_database_that_goes_away_and_comes_back(new_store, httpd_factory):
    # without persistent connections every request opens the database, so
    # moving its directory away is the database going down
    store = new_store()
    app = store.app("shop")
    key, _ = store.key("shop")
    httpd = httpd_factory(store=DbdAt(store.path, "DBDPersist Off"),
                          body=LOCATION)
    assert httpd.get("/api/env", headers={"X-API-Key": key}).status_code == 200
    away = store.dir.with_name(store.dir.name + "-away")
    os.rename(store.dir, away)
    try:
        for how, kw in ways_to_send(key, app).items():
            r = httpd.get("/api/env", **kw)
            assert_unavailable(r)
    finally:
        os.rename(away, store.dir)
    r = httpd.get("/api/env", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
