"""ApiAuthRateLimit: how many requests an authenticated caller may make
per window, by credential, app, client or address, answered 429 with
Retry-After and the RateLimit-* headers past the limit.

On one node the socache counts (exact under its mutex).  Across nodes,
ApiAuthSharedStore puts the counts in memcached, incremented
atomically: three nodes sharing one memcached, under a random split of
concurrent requests, admit exactly the limit -- the drift Kong's users
report (Kong #4379, #11846) does not happen.  A counter that cannot be
reached lets requests through (limits fail open; authentication does
not)."""
import concurrent.futures
import random
import shutil
import time

import pytest

from backends import Memcached
from harness import Httpd, Store, make_pepper, make_workdir
from test_shared_cache import Mc

ONE_NODE = """
<Location /limited>
    AuthType apiauth
    AuthName "limited"
    ApiAuthScheme apikey
    ApiAuthRateLimit 3/3600
    Require valid-user
</Location>
<Location /by-app>
    AuthType apiauth
    AuthName "by-app"
    ApiAuthScheme apikey
    ApiAuthRateLimit 4/3600 app
    Require valid-user
</Location>
<Location /combined>
    AuthType apiauth
    AuthName "combined"
    ApiAuthScheme apikey
    ApiAuthRateLimit 5/3600 credential
    ApiAuthRateLimit 2/3600 address
    Require valid-user
</Location>
"""

NODE = """
ApiAuthSecretPepper "{pepper}"
ApiAuthSharedStore memcache:127.0.0.1:{port}
<Location /limited>
    AuthType apiauth
    AuthName "limited"
    ApiAuthScheme apikey
    ApiAuthRateLimit 60/3600
    Require valid-user
</Location>
"""


class World:
    pass


@pytest.fixture(scope="module")
def one(module_store, module_httpd):
    k = World()
    k.store = module_store()
    k.store.app("shop")
    k.store.app("other")
    k.h = module_httpd(body=ONE_NODE, store=k.store)
    return k


def key(w, app="shop"):
    return w.store.key(app)[0]


def get(h, path, secret):
    return h.get(path + "/env", headers={"X-API-Key": secret})


def test_a_credential_gets_its_limit_then_429(one):
    mine, theirs = key(one), key(one)
    for remaining in (2, 1, 0):
        r = get(one.h, "/limited", mine)
        assert r.status_code == 200, r.text
        assert r.headers["RateLimit-Limit"] == "3"
        assert r.headers["RateLimit-Remaining"] == str(remaining)
        assert 0 < int(r.headers["RateLimit-Reset"]) <= 3600
    r = get(one.h, "/limited", mine)
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "too_many_requests"
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    assert r.headers["RateLimit-Remaining"] == "0"
    # another credential counts on its own
    assert get(one.h, "/limited", theirs).status_code == 200


def test_a_request_without_a_credential_counts_for_nobody(one):
    mine = key(one)
    for _ in range(5):
        assert one.h.get("/limited/env").status_code == 401
    assert get(one.h, "/limited", mine).status_code == 200


def test_by_app_the_keys_of_an_app_share_one_count(one):
    a, b, c = key(one), key(one), key(one, "other")
    assert [get(one.h, "/by-app", k).status_code
            for k in (a, b, a, b)] == [200] * 4
    assert get(one.h, "/by-app", a).status_code == 429
    assert get(one.h, "/by-app", b).status_code == 429
    assert get(one.h, "/by-app", c).status_code == 200


def test_lines_combine_and_the_closest_limit_is_told(one):
    a, b = key(one), key(one)
    r = get(one.h, "/combined", a)
    assert r.status_code == 200
    # two per address is the tighter one
    assert r.headers["RateLimit-Limit"] == "2"
    assert r.headers["RateLimit-Remaining"] == "1"
    assert get(one.h, "/combined", b).status_code == 200
    # a's own limit (5) is far, the address's is reached
    assert get(one.h, "/combined", a).status_code == 429


@pytest.mark.parametrize("line,words", [
    ("ApiAuthRateLimit 5", "N/SECONDS"),
    ("ApiAuthRateLimit 5/0", "not N/SECONDS"),
    ("ApiAuthRateLimit x/10", "not N/SECONDS"),
    ("ApiAuthRateLimit 5/10 user", "not 'user'"),
])
def test_a_malformed_limit_does_not_start(httpd_factory, tls, line, words):
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1],
              body=f"<Location /x>\n AuthType apiauth\n AuthName x\n"
                   f" {line}\n Require valid-user\n</Location>\n")
    try:
        test = h.config_test()
        assert test.returncode != 0
        assert words in test.stderr, test.stderr
    finally:
        shutil.rmtree(h.root, ignore_errors=True)


def test_a_shared_count_needs_the_pepper(tls):
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1],
              body="ApiAuthSharedStore memcache:127.0.0.1:1\n")
    try:
        assert h.stopped_at_start()
        assert "ApiAuthSharedStore needs ApiAuthSecretPepper" \
            in h.error_log()
    finally:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)


@pytest.mark.parametrize("arg", ["redis:127.0.0.1:6379", "memcache:"])
def test_a_shared_store_of_another_kind_does_not_start(tls, arg):
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1],
              body=f"ApiAuthSharedStore {arg}\n")
    try:
        test = h.config_test()
        assert test.returncode != 0
        assert "ApiAuthSharedStore memcache:HOST:PORT" in test.stderr
    finally:
        shutil.rmtree(h.root, ignore_errors=True)


# ---- three nodes, one memcached --------------------------------------------

@pytest.fixture(scope="module")
def nodes(tls):
    k = World()
    k.dir = make_workdir("apiauth-rate-")
    k.memcached = Memcached().start()
    k.pepper = make_pepper(k.dir)
    k.store = Store(k.dir / "store", pepper=k.pepper)
    k.store.app("shop")
    k.nodes = []
    try:
        for _ in range(3):
            h = Httpd(make_workdir("apiauth-node-"), tls[0], tls[1],
                      body=NODE.format(pepper=k.pepper,
                                       port=k.memcached.port),
                      store=k.store)
            k.nodes.append(h.start())
        yield k
    finally:
        for h in k.nodes:
            h.stop()
            shutil.rmtree(h.root, ignore_errors=True)
        k.memcached.stop()
        k.store.drop()
        shutil.rmtree(k.dir, ignore_errors=True)


def test_three_nodes_admit_exactly_the_limit(nodes):
    secret, cred_id = nodes.store.key("shop")
    rng = random.Random(7)
    plan = [rng.choice(nodes.nodes) for _ in range(150)]

    def one_request(h):
        return get(h, "/limited", secret).status_code

    window = int(time.time()) // 3600
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(one_request, plan))
    if int(time.time()) // 3600 != window:
        pytest.skip("the run straddled a window boundary")
    assert statuses.count(200) == 60, statuses
    assert statuses.count(429) == 90
    # the counters name no credential: MACs under the pepper's key
    keys = Mc(nodes.memcached.port).keys()
    assert keys and all(k.startswith("aarl:") for k in keys)
    assert not any(cred_id in k or secret in k for k in keys)


def test_an_unreachable_count_lets_requests_through(nodes):
    secret, _ = nodes.store.key("shop")
    nodes.memcached.stop()
    try:
        r = get(nodes.nodes[0], "/limited", secret)
        assert r.status_code == 200, r.text
        assert "RateLimit-Limit" not in r.headers
        assert "AA10027" in nodes.nodes[0].error_log()
        # authentication itself still fails closed
        assert get(nodes.nodes[0], "/limited", "aak_nothing").status_code \
            == 401
    finally:
        nodes.memcached.start()


def test_the_earlier_name_of_the_store_still_counts(nodes, tls):
    """ApiAuthRateLimitStore, as the previous release spelled it: the same
    store, and a warning naming the directive to write instead."""
    body = NODE.format(pepper=nodes.pepper, port=nodes.memcached.port)
    old = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1],
                body=body.replace("ApiAuthSharedStore",
                                  "ApiAuthRateLimitStore"),
                store=nodes.store)
    new = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body,
                store=nodes.store)
    try:
        old.start()
        new.start()
        secret, _ = nodes.store.key("shop")
        r = get(old, "/limited", secret)
        assert r.status_code == 200
        assert r.headers["RateLimit-Remaining"] == "59"
        log = old.error_log()
        assert "AA10003" in log and "write ApiAuthSharedStore memcache:" in log
        # counted in memcached, where a node of the new spelling counts
        assert get(new, "/limited", secret) \
            .headers["RateLimit-Remaining"] == "58"
    finally:
        for h in (old, new):
            h.stop()
            shutil.rmtree(h.root, ignore_errors=True)


def test_counting_in_a_shared_socache_is_said_to_drift(nodes, tls):
    """Without ApiAuthSharedStore, a shared socache counts by reading
    then writing: httpd says so at start."""
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=f"""
ApiAuthCacheSOCache "memcache:127.0.0.1:{nodes.memcached.port}"
ApiAuthSecretPepper "{nodes.pepper}"
<Location /limited>
    AuthType apiauth
    AuthName "limited"
    ApiAuthScheme apikey
    ApiAuthRateLimit 5/60
    Require valid-user
</Location>
""", store=nodes.store, modules=("socache_memcache",))
    try:
        h.start()
        assert "AA10028" in h.error_log()
    finally:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)
