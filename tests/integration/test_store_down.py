"""When the store cannot answer, mod_apiauth fails closed: 503
temporarily_unavailable, never 200, never a crash; when the store is back,
requests succeed again without a restart.

The same cases on either backend: a SQLite file in a directory that is not
there, empty, copied in later, moved away; a PostgreSQL database that does
not exist, has no schema, is renamed into place later, renamed away.  The
PostgreSQL cluster itself stopping is test_store_down_pgsql.py."""
import base64
import os
import secrets
import shutil

import pytest

from backends import DBD, pg_cluster
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
    """A store configuration by name, for a database that may not be
    there: a SQLite file's path, or a PostgreSQL database's name."""

    def __init__(self, where, extra=""):
        self.where = where
        self.extra = extra

    def httpd_conf(self):
        params = (pg_cluster().conninfo(self.where) if DBD == "pgsql"
                  else self.where)
        return f'DBDriver {DBD}\nDBDParams "{params}"\n{self.extra}\n'


def absent_database(parent):
    """Where no database is: a file in a directory that does not exist, or
    a database name the cluster does not have."""
    if DBD == "pgsql":
        return "apiauth_absent_" + secrets.token_hex(4)
    return parent / "absent" / "apiauth.db"


def rename_database(store, old, new):
    """Moves the store's database (its directory, or the PostgreSQL
    database by name) from `old` to `new`."""
    if DBD == "pgsql":
        # nothing holds a connection to it: apiauth-admin and psql are gone,
        # httpd runs with DBDPersist Off or has never reached it
        store.cluster.psql("postgres", f"ALTER DATABASE {old} RENAME TO {new}")
    else:
        os.rename(old, new)


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
    httpd = module_httpd(store=DbdAt(absent_database(parent)), body=LOCATION)
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
    if DBD == "pgsql":
        empty = pg_cluster().create_database()    # apiauth-admin init never ran
    else:
        empty = d / "apiauth.db"
        empty.write_bytes(b"")
        give_to_server(d)
    store = new_store()
    store.app("shop")
    key, _ = store.key("shop")
    httpd = httpd_factory(store=DbdAt(empty), body=LOCATION)
    assert_unavailable(httpd.get("/api/env", headers={"X-API-Key": key}))
    shutil.rmtree(d, ignore_errors=True)


def test_database_that_appears_later_is_used_without_restart(
        new_store, httpd_factory):
    store = new_store()
    store.app("shop")
    key, _ = store.key("shop")
    if DBD == "pgsql":
        later = store.database + "_later"
        httpd = httpd_factory(store=DbdAt(later), body=LOCATION)
        assert_unavailable(httpd.get("/api/env", headers={"X-API-Key": key}))
        rename_database(store, store.database, later)
        store.database = later
    else:
        later = make_workdir("apiauth-later-") / "db"
        httpd = httpd_factory(store=DbdAt(later / "apiauth.db"),
                              body=LOCATION)
        assert_unavailable(httpd.get("/api/env", headers={"X-API-Key": key}))
        shutil.copytree(store.dir, later)
        give_to_server(later)
    r = httpd.get("/api/env", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    if DBD != "pgsql":
        shutil.rmtree(later.parent, ignore_errors=True)


def test_database_that_goes_away_and_comes_back(new_store, httpd_factory):
    # without persistent connections every request opens the database, so
    # moving it away (its directory; a PostgreSQL database by a rename) is
    # the database going down
    store = new_store()
    app = store.app("shop")
    key, _ = store.key("shop")
    if DBD == "pgsql":
        where = here = store.database
        away = here + "_away"
    else:
        where, here = store.path, store.dir
        away = here.with_name(here.name + "-away")
    httpd = httpd_factory(store=DbdAt(where, "DBDPersist Off"), body=LOCATION)
    assert httpd.get("/api/env", headers={"X-API-Key": key}).status_code == 200
    rename_database(store, here, away)
    try:
        for how, kw in ways_to_send(key, app).items():
            r = httpd.get("/api/env", **kw)
            assert_unavailable(r)
    finally:
        rename_database(store, away, here)
    r = httpd.get("/api/env", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
