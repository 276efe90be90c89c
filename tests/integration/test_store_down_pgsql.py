"""PostgreSQL going away under a running server: the cluster stopped in the
middle of a run (every pooled connection cut), the database dropped.
Protected locations (providers dbd and oauth, no cache) answer 503 with the
JSON error, the token endpoint 503 temporarily_unavailable; never a 200, no
child crashes; and when the cluster is back, service comes back by itself,
without restarting httpd, on every connection of the pool.

The cluster here is this module's own, so that stopping it leaves the rest
of the suite alone.  SQLite's counterparts are in test_store_down.py."""
import concurrent.futures
import re
import shutil

import pytest

from backends import DBD, PgCluster
from harness import OAuthServer, Store, make_workdir
from oauth_flows import CALLBACK, TOKEN, unique
from oauth_tokens import bearer, client_auth, user_tokens

pytestmark = pytest.mark.skipif(
    DBD != "pgsql", reason="PostgreSQL faults (APIAUTH_TEST_DBD=pgsql); "
                           "SQLite's are in test_store_down.py")

UNCACHED = """
<Location /api>
    AuthType apiauth
    AuthName "api"
    ApiAuthScheme apikey
    ApiAuthProvider dbd
    ApiAuthCache off
    Require valid-user
</Location>
<Location /fresh/v1>
    AuthType apiauth
    AuthName "fresh"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    ApiAuthCache off
    Require valid-user
</Location>
"""

# enough requests at once to go through every pooled connection of both
# children (ThreadsPerChild 16, DBDMax 10 per child)
WIDTH = 24


@pytest.fixture(scope="module")
def cluster():
    c = PgCluster().start()
    yield c
    c.destroy()


class World:
    pass


@pytest.fixture(scope="module")
def w(cluster, tls):
    k = World()
    k.cluster = cluster
    k.dir = make_workdir("apiauth-pgdown-")
    k.store = Store(k.dir / "store", cluster=cluster)
    k.store.app("shop")
    k.key, _ = k.store.key("shop")
    k.o = OAuthServer(tls[0], tls[1], store=k.store, body=UNCACHED).start()
    k.web = k.o.client(unique("web"), "authorization_code", "refresh_token",
                       "client_credentials",
                       scopes=("integration.store", "integration.order"))
    yield k
    k.o.remove()
    shutil.rmtree(k.dir, ignore_errors=True)


def calls(w, tokens):
    """Every kind of request that needs the store: (name, thunk)."""
    o = w.o
    return [
        ("dbd", lambda: o.get("/api/env", headers={"X-API-Key": w.key})),
        ("oauth", lambda: o.get("/fresh/v1/env",
                                headers=bearer(tokens["access_token"]))),
        ("client_credentials", lambda: o.post(
            TOKEN, data={"grant_type": "client_credentials",
                         "scope": "integration.order"},
            auth=client_auth(w.web))),
        ("refresh_token", lambda: o.post(
            TOKEN, data={"grant_type": "refresh_token",
                         "refresh_token": tokens["refresh_token"]},
            auth=client_auth(w.web))),
    ]


def assert_unavailable(name, r):
    assert r.status_code == 503, (name, r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/json", name
    assert r.headers["Cache-Control"] == "no-store", name
    assert r.json()["error"] == "temporarily_unavailable", (name, r.text)


def in_parallel(thunks):
    with concurrent.futures.ThreadPoolExecutor(len(thunks)) as pool:
        return list(pool.map(lambda t: t(), thunks))


def crashes(o):
    """Children that died of a signal, as the parent logs them."""
    return re.findall(r"exit signal [^\n]*", o.error_log())


def test_cluster_stopped_mid_run_is_503_then_back_without_restart(w):
    tokens = user_tokens(w.o, w.web)
    # every pooled connection in use once, so that all of them are cut
    for name, call in calls(w, tokens)[:2]:
        for r in in_parallel([call] * WIDTH):
            assert r.status_code == 200, (name, r.text)

    w.cluster.stop()
    try:
        for _ in range(2):
            for name, call in calls(w, tokens):
                for r in in_parallel([call] * WIDTH):
                    assert_unavailable(name, r)
        # the browser side fails closed too: an error page, no code
        page = w.o.session().get(
            w.o.url("/auth/v2/authorize"), auth=("alice", "wonderland"),
            params={"response_type": "code", "client_id": w.web["client_id"],
                    "redirect_uri": CALLBACK}, allow_redirects=False)
        assert page.status_code == 503, page.text
        assert w.o.is_serving()
    finally:
        w.cluster.start()

    # back by itself: every connection of the pool, the first request on
    # each included (a connection the server cut must not stay broken)
    for name, call in calls(w, tokens)[:3]:
        for r in in_parallel([call] * WIDTH):
            assert r.status_code == 200, (name, r.text)
    # the refresh token tried during the outage was not spent
    r = calls(w, tokens)[3][1]()
    assert r.status_code == 200, r.text
    assert crashes(w.o) == []


def test_restart_while_the_pool_is_idle_costs_no_request(w):
    """The cluster goes down and comes back while the pool's connections
    sit idle: the first request on each finds its connection cut, and the
    server reconnects and prepares its statements again before answering,
    so not even that request fails."""
    tokens = user_tokens(w.o, w.web)
    for name, call in calls(w, tokens)[:2]:
        for r in in_parallel([call] * WIDTH):
            assert r.status_code == 200, (name, r.text)
    w.cluster.stop()
    w.cluster.start()
    for name, call in calls(w, tokens)[:3]:
        for r in in_parallel([call] * WIDTH):
            assert r.status_code == 200, (name, r.text)
    r = calls(w, tokens)[3][1]()
    assert r.status_code == 200, r.text
    assert crashes(w.o) == []


def test_dropped_database_is_503(cluster, tls):
    d = make_workdir("apiauth-pgdrop-")
    store = Store(d / "store", cluster=cluster)
    store.app("shop")
    key, _ = store.key("shop")
    o = OAuthServer(tls[0], tls[1], store=store, body=UNCACHED).start()
    try:
        web = o.client(unique("web"), "authorization_code", "refresh_token",
                       "client_credentials",
                       scopes=("integration.store", "integration.order"))
        tokens = user_tokens(o, web)
        assert o.get("/api/env",
                     headers={"X-API-Key": key}).status_code == 200
        cluster.drop_database(store.database)
        w = World()
        w.o, w.key, w.web = o, key, web
        for name, call in calls(w, tokens):
            for r in in_parallel([call] * 4):
                assert_unavailable(name, r)
        assert o.is_serving()
        assert crashes(o) == []
    finally:
        o.remove()
        shutil.rmtree(d, ignore_errors=True)
