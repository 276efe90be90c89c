"""Two httpd nodes, as behind a load balancer: one PostgreSQL database, one
memcached as the socache they share (ApiAuthCacheSOCache memcache:...),
the same signing key, issuer and ApiAuthSecretPepper on both.  What one
node issues, the other honours; what one node spends or revokes, the other
refuses -- at once where the revocation went through a server (the store,
and the cache entries and revocation markers it shares), within
ApiAuthCacheTTL where it did not (apiauth-admin).

PostgreSQL only: a SQLite file is not shared between machines."""
import concurrent.futures
import json
import secrets
import shutil
import time

import pytest

from backends import DBD, Memcached
from harness import (OAUTH_CONF, Httpd, Store, htpasswd, make_key,
                     make_pepper, make_workdir)
from oauth_flows import (AUTHORIZE, CALLBACK, TOKEN, authorize_url,
                         consent_fields, owner_session, redirect_params,
                         unique)
from dpop_keys import DPoPKey
from oauth_tokens import bearer, client_auth, user_tokens

pytestmark = pytest.mark.skipif(
    DBD != "pgsql", reason="nodes share a PostgreSQL store "
                           "(APIAUTH_TEST_DBD=pgsql)")

ISSUER = "https://api.example.test"
# seconds a validated credential is cached: short where the test waits for
# it, long where what it proves is that nobody had to wait
SHORT_TTL = 3
LONG_TTL = 300

NODE = f"""
ApiAuthCacheSOCache "{{socache}}"
ApiAuthSecretPepper "{{pepper}}"
ApiAuthSessionLifetime 3600
<Location /keys>
    AuthType apiauth
    AuthName "keys"
    ApiAuthScheme apikey
    ApiAuthProvider dbd
    ApiAuthCacheTTL {SHORT_TTL}
    Require valid-user
</Location>
<Location /0.4>
    AuthType apiauth
    AuthName "tapglue"
    ApiAuthScheme basic
    ApiAuthProvider dbd
    ApiAuthCacheTTL {LONG_TTL}
    Require valid-user
</Location>
<Location /0.4/user/login>
    AuthType None
    Require all granted
    SetHandler apiauth-login
</Location>
<Location /uncached>
    AuthType apiauth
    AuthName "uncached"
    ApiAuthScheme apikey
    ApiAuthProvider dbd
    ApiAuthCache off
    Require valid-user
</Location>
<Location /dpop>
    AuthType apiauth
    AuthName "dpop"
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    Require valid-user
</Location>
<Location /cached/v1>
    AuthType apiauth
    AuthName "cached"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    ApiAuthCacheTTL {LONG_TTL}
    Require apiauth-scope integration.store
</Location>
"""


class Cluster:
    pass


def start_node(c, tls, extra="", pepper=None):
    conf = OAUTH_CONF.format(issuer=ISSUER, key=c.signing_key, users=c.users,
                             extra="")
    body = NODE.format(socache=c.memcached.socache, pepper=pepper or c.pepper)
    node = Httpd(make_workdir("apiauth-node-"), tls[0], tls[1],
                 body=conf + body + extra, store=c.store,
                 modules=("oauth", "socache_memcache"))
    c.nodes.append(node)
    return node.start()


@pytest.fixture(scope="module")
def nodes(tls):
    c = Cluster()
    c.dir = make_workdir("apiauth-nodes-")
    c.memcached = Memcached().start()
    c.pepper = make_pepper(c.dir)
    c.signing_key = make_key(c.dir, "ec")
    c.users = c.dir / "users"
    htpasswd(c.users, "alice", "wonderland")
    c.store = Store(c.dir / "store", pepper=c.pepper)
    c.nodes = []
    try:
        c.a = start_node(c, tls)
        c.b = start_node(c, tls)
        c.app = c.store.app("shop")
        c.web = json.loads(c.store.out(
            "client", "create", "web", "--grant", "authorization_code",
            "--grant", "refresh_token", "--grant", "client_credentials",
            "--redirect-uri", CALLBACK, "--scope", "integration.store",
            json=True))
        yield c
    finally:
        for h in c.nodes:
            h.stop()
            shutil.rmtree(h.root, ignore_errors=True)
        c.memcached.stop()
        c.store.drop()
        shutil.rmtree(c.dir, ignore_errors=True)


def token(node, client, **data):
    return node.post(TOKEN, data=data, auth=client_auth(client))


def code_on(node, client_id):
    """alice consents on `node`; the code of its redirect."""
    s = owner_session(node)
    page = s.get(authorize_url(node, response_type="code",
                               client_id=client_id, redirect_uri=CALLBACK,
                               scope="integration.store"),
                 allow_redirects=False)
    assert page.status_code == 200, page.text
    fields = consent_fields(page.text)
    fields["decision"] = "approve"
    answer = s.post(node.url(AUTHORIZE), data=fields, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return redirect_params(answer.headers["Location"])["code"]


def redeem(node, client, code):
    return token(node, client, grant_type="authorization_code", code=code,
                 redirect_uri=CALLBACK)


def refresh_on(node, client, refresh_token):
    return token(node, client, grant_type="refresh_token",
                 refresh_token=refresh_token)


# ---- what A issues, B honours ------------------------------------------------

def test_access_token_issued_on_a_works_on_b(nodes):
    r = token(nodes.a, nodes.web, grant_type="client_credentials",
              scope="integration.store")
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    r = nodes.b.get("/cached/v1/env", headers=bearer(access))
    assert r.status_code == 200, r.text
    # and B's introspection knows it as its own
    r = nodes.b.post("/auth/v2/introspect", data={"token": access},
                     auth=client_auth(nodes.web))
    assert r.status_code == 200
    assert r.json()["active"] is True
    assert r.json()["iss"] == ISSUER


def test_a_dpop_proof_used_on_a_is_refused_on_b(nodes):
    """Each node remembers the proofs it took in the cache both share: the
    proof a thief copies off A's traffic is no good at B.  The nodes
    answer for one name, as behind a load balancer (the proof names the
    URL the client used, here each node's own)."""
    key = DPoPKey()
    r = nodes.a.post(TOKEN, data={"grant_type": "client_credentials",
                                  "scope": "integration.store"},
                     auth=client_auth(nodes.web),
                     headers={"DPoP": key.proof("POST",
                                                nodes.a.url(TOKEN))})
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    # one name for both nodes: the Host header of A, sent to either
    host = f"127.0.0.1:{nodes.a.https_port}"
    proof = key.proof("GET", f"https://{host}/dpop/hello", token=access)
    headers = {"Authorization": "DPoP " + access, "DPoP": proof,
               "Host": host}
    assert nodes.a.get("/dpop/hello", headers=headers).status_code == 200
    again = nodes.b.get("/dpop/hello", headers=headers)
    assert again.status_code == 401, again.text
    assert "used before" in again.json()["error_description"]
    # a fresh proof by the same key is taken on B
    headers["DPoP"] = key.proof("GET", f"https://{host}/dpop/hello",
                                token=access)
    assert nodes.b.get("/dpop/hello", headers=headers).status_code == 200


def test_key_minted_for_the_cluster_works_on_both(nodes):
    key, _ = nodes.store.key("shop")
    for node in (nodes.a, nodes.b):
        r = node.get("/keys/env", headers={"X-API-Key": key})
        assert r.status_code == 200, r.text


# ---- what A spends, B refuses ------------------------------------------------

def test_refresh_token_used_on_a_is_refused_on_b(nodes):
    first = user_tokens(nodes.a, nodes.web)
    r = refresh_on(nodes.a, nodes.web, first["refresh_token"])
    assert r.status_code == 200, r.text
    rotated = r.json()
    # B serves the rotated tokens...
    r = nodes.b.get("/cached/v1/env", headers=bearer(rotated["access_token"]))
    assert r.status_code == 200, r.text
    # ...and refuses the spent refresh token: a replay, so the family is
    # revoked, and B's own cached answer for the rotated access token is
    # overruled by the grant's marker in the shared cache, at once
    r = refresh_on(nodes.b, nodes.web, first["refresh_token"])
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    r = nodes.b.get("/cached/v1/env", headers=bearer(rotated["access_token"]))
    assert r.status_code == 401, r.text
    r = refresh_on(nodes.a, nodes.web, rotated["refresh_token"])
    assert r.status_code == 400, r.text


def test_code_is_redeemable_once_across_both_nodes(nodes):
    code = code_on(nodes.a, nodes.web["client_id"])
    r = redeem(nodes.b, nodes.web, code)
    assert r.status_code == 200, r.text
    first = r.json()
    r = nodes.a.get("/cached/v1/env", headers=bearer(first["access_token"]))
    assert r.status_code == 200, r.text
    again = redeem(nodes.a, nodes.web, code)
    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_grant"
    # the second redemption revoked what the first one got, on both nodes
    for node in (nodes.a, nodes.b):
        r = node.get("/cached/v1/env", headers=bearer(first["access_token"]))
        assert r.status_code == 401, r.text
    r = refresh_on(nodes.b, nodes.web, first["refresh_token"])
    assert r.status_code == 400, r.text


def test_code_raced_on_both_nodes_is_redeemed_once(nodes):
    codes = [code_on(nodes.a, nodes.web["client_id"]) for _ in range(4)]
    attempts = [(node, code) for code in codes for node in (nodes.a, nodes.b)
                for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(len(attempts)) as pool:
        answers = list(pool.map(lambda a: (a[1], redeem(a[0], nodes.web,
                                                        a[1])), attempts))
    for code in codes:
        statuses = sorted(r.status_code for c, r in answers if c == code)
        assert statuses == [200] + [400] * 5, statuses


# ---- what A revokes, B refuses -----------------------------------------------

def login(node, app_token, password):
    return node.post("/0.4/user/login", auth=(app_token, ""),
                     json={"username": "lena", "password": password})


def test_logout_on_a_ends_the_session_on_b_at_once(nodes):
    """The session is cached on both nodes for LONG_TTL; the logout on A
    reaches B through the shared cache, not by waiting."""
    app_token, _ = nodes.store.key("shop", "--kind", "app_token")
    password = secrets.token_urlsafe(12)
    nodes.store.user("lena", "--app", "shop", password=password)
    r = login(nodes.a, app_token, password)
    assert r.status_code == 201, r.text
    session = r.json()["session_token"]
    for node in (nodes.b, nodes.a, nodes.b):
        r = node.get("/0.4/me/env", auth=(app_token, session))
        assert r.status_code == 200, r.text
    r = nodes.a.request("DELETE", "/0.4/user/login", auth=(app_token, session))
    assert r.status_code == 204, r.text
    r = nodes.b.get("/0.4/me/env", auth=(app_token, session))
    assert r.status_code == 401, r.text


def test_access_token_revoked_on_a_is_refused_on_b_at_once(nodes):
    access = token(nodes.a, nodes.web, grant_type="client_credentials",
                   scope="integration.store").json()["access_token"]
    r = nodes.b.get("/cached/v1/env", headers=bearer(access))
    assert r.status_code == 200, r.text
    r = nodes.a.post("/auth/v2/revoke", data={"token": access},
                     auth=client_auth(nodes.web))
    assert r.status_code == 200
    r = nodes.b.get("/cached/v1/env", headers=bearer(access))
    assert r.status_code == 401, r.text


def test_revocation_on_a_reaches_a_connection_kept_open_on_b(nodes):
    """A keep-alive connection may answer from what the cache said last
    time only where no other node writes the cache (shmcb, and its change
    count: apiauth_socache.c); over memcache B asks at every request, so
    A's revocation is B's next answer on the very connection it had."""
    access = token(nodes.a, nodes.web, grant_type="client_credentials",
                   scope="integration.store").json()["access_token"]
    with nodes.b.session() as kept:
        for _ in range(3):
            r = kept.get(nodes.b.url("/cached/v1/env"), headers=bearer(access),
                         timeout=30)
            assert r.status_code == 200, r.text
        r = nodes.a.post("/auth/v2/revoke", data={"token": access},
                         auth=client_auth(nodes.web))
        assert r.status_code == 200
        r = kept.get(nodes.b.url("/cached/v1/env"), headers=bearer(access),
                     timeout=30)
        assert r.status_code == 401, r.text


def test_replay_on_a_revokes_the_family_on_b_at_once(nodes):
    """B has the family's access token cached for LONG_TTL; the replay of
    a spent refresh token on A revokes the grant, and the grant's marker in
    the shared cache overrules B's cached answer."""
    first = user_tokens(nodes.a, nodes.web)
    r = refresh_on(nodes.a, nodes.web, first["refresh_token"])
    assert r.status_code == 200, r.text
    rotated = r.json()
    r = nodes.b.get("/cached/v1/env", headers=bearer(rotated["access_token"]))
    assert r.status_code == 200, r.text
    r = refresh_on(nodes.a, nodes.web, first["refresh_token"])
    assert r.status_code == 400, r.text
    r = nodes.b.get("/cached/v1/env", headers=bearer(rotated["access_token"]))
    assert r.status_code == 401, r.text


def test_refresh_token_revoked_on_a_is_refused_on_b(nodes):
    tokens = user_tokens(nodes.a, nodes.web)
    r = nodes.b.get("/cached/v1/env", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, r.text
    r = nodes.a.post("/auth/v2/revoke",
                     data={"token": tokens["refresh_token"]},
                     auth=client_auth(nodes.web))
    assert r.status_code == 200
    r = refresh_on(nodes.b, nodes.web, tokens["refresh_token"])
    assert r.status_code == 400, r.text
    r = nodes.b.get("/cached/v1/env", headers=bearer(tokens["access_token"]))
    assert r.status_code == 401, r.text


def test_key_revoked_with_apiauth_admin_is_refused_on_b_within_cache_ttl(
        nodes):
    """A revocation outside the servers reaches them when the cached answer
    expires: ApiAuthCacheTTL, the documented bound.  The key is used on A
    only; B's first answer comes from the cache the nodes share."""
    key, key_id = nodes.store.key("shop")
    r = nodes.a.get("/keys/env", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    cached_at = time.monotonic()
    nodes.store.revoke(key_id)
    r = nodes.b.get("/keys/env", headers={"X-API-Key": key})
    if time.monotonic() - cached_at < SHORT_TTL - 0.5:
        assert r.status_code == 200, "B does not read the shared cache"
    deadline = cached_at + SHORT_TTL + 1.5
    while True:
        r = nodes.b.get("/keys/env", headers={"X-API-Key": key})
        if r.status_code == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 401, "still accepted past ApiAuthCacheTTL"
    assert nodes.a.get("/keys/env",
                       headers={"X-API-Key": key}).status_code == 401


# ---- the browser moves between nodes ------------------------------------------

def test_consent_form_issued_by_a_is_accepted_by_b(nodes):
    """The CSRF token of the consent form is keyed by a derivation of
    ApiAuthSecretPepper, the same on every node."""
    s = owner_session(nodes.a)
    page = s.get(authorize_url(nodes.a, response_type="code",
                               client_id=nodes.web["client_id"],
                               redirect_uri=CALLBACK,
                               scope="integration.store"),
                 allow_redirects=False)
    assert page.status_code == 200, page.text
    fields = consent_fields(page.text)
    fields["decision"] = "approve"
    s_b = owner_session(nodes.b)
    answer = s_b.post(nodes.b.url(AUTHORIZE), data=fields,
                      allow_redirects=False)
    assert answer.status_code == 303, answer.text
    got = redirect_params(answer.headers["Location"])
    assert got["iss"] == ISSUER
    r = redeem(nodes.a, nodes.web, got["code"])
    assert r.status_code == 200, r.text
    # and the form is still bound to alice and this client: a forged one
    # is refused on B as on A
    forged = dict(fields, client_id=unique("cli_x"))
    answer = s_b.post(nodes.b.url(AUTHORIZE), data=forged,
                      allow_redirects=False)
    assert answer.status_code != 303


def test_consent_form_of_a_is_refused_by_a_node_with_another_pepper(nodes,
                                                                    tls):
    """What makes B accept A's form is the shared pepper, not the shared
    store: a node configured with a pepper of its own refuses the form."""
    other = nodes.dir / "other-pepper"
    other.write_text(secrets.token_hex(32) + "\n")
    other.chmod(0o644)
    stranger = start_node(nodes, tls, pepper=other)
    try:
        refused_elsewhere(nodes, stranger)
    finally:
        stranger.stop()


def refused_elsewhere(nodes, stranger):
    s = owner_session(nodes.a)
    page = s.get(authorize_url(nodes.a, response_type="code",
                               client_id=nodes.web["client_id"],
                               redirect_uri=CALLBACK,
                               scope="integration.store"),
                 allow_redirects=False)
    assert page.status_code == 200, page.text
    fields = dict(consent_fields(page.text), decision="approve")
    answer = owner_session(stranger).post(stranger.url(AUTHORIZE),
                                          data=fields, allow_redirects=False)
    assert answer.status_code == 403, answer.text
    assert "Location" not in answer.headers
    # the same form still works where the pepper is the one that made it
    answer = owner_session(nodes.b).post(nodes.b.url(AUTHORIZE), data=fields,
                                         allow_redirects=False)
    assert answer.status_code == 303, answer.text


# ---- the shared cache goes away ------------------------------------------------

def test_without_the_shared_cache_the_store_answers(nodes):
    """memcached stopped: every lookup goes to the store, so answers stay
    right (a revocation included), only slower; and the cache is used again
    once it is back."""
    key, key_id = nodes.store.key("shop")
    nodes.memcached.stop()
    try:
        for node in (nodes.a, nodes.b):
            r = node.get("/keys/env", headers={"X-API-Key": key})
            assert r.status_code == 200, r.text
        nodes.store.revoke(key_id)
        for node in (nodes.a, nodes.b):
            r = node.get("/keys/env", headers={"X-API-Key": key})
            assert r.status_code == 401, r.text
    finally:
        nodes.memcached.start()
    r = token(nodes.a, nodes.web, grant_type="client_credentials",
              scope="integration.store")
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    assert nodes.b.get("/cached/v1/env",
                       headers=bearer(access)).status_code == 200
    assert nodes.a.is_serving() and nodes.b.is_serving()


# ---- many writers at once ------------------------------------------------------

def test_concurrent_writers_on_three_nodes_never_get_a_5xx(nodes, tls):
    """PostgreSQL's counterpart of SQLite's many writers: threads on A, B
    and a third node whose every request opens a connection of its own
    (DBDPersist Off: mod_dbd prepares every statement on it first) rotate
    refresh tokens from node to node, redeem codes on another node than
    the one that issued them, ask for client_credentials tokens and use a
    key without the cache (a last-use write), while apiauth-admin mints
    keys and purges.  No answer is a 5xx, and every refresh token and code
    works exactly once."""
    c = start_node(nodes, tls, "DBDPersist Off\n")
    ring = [nodes.a, nodes.b, c]
    key, _ = nodes.store.key("shop")
    deadline = time.monotonic() + 3.0
    statuses, spent = [], []

    def rotate(i):
        tokens = user_tokens(ring[i % 3], nodes.web)
        n = i
        while time.monotonic() < deadline:
            n += 1
            old = tokens["refresh_token"]
            r = refresh_on(ring[n % 3], nodes.web, old)
            statuses.append(r.status_code)
            assert r.status_code == 200, r.text
            spent.append(old)
            tokens = r.json()
        return spent

    def codes(i):
        while time.monotonic() < deadline:
            code = code_on(ring[i % 3], nodes.web["client_id"])
            r = redeem(ring[(i + 1) % 3], nodes.web, code)
            statuses.append(r.status_code)
            assert r.status_code == 200, r.text
            again = redeem(ring[(i + 2) % 3], nodes.web, code)
            statuses.append(again.status_code)
            assert again.status_code == 400, again.text

    def reads(i):
        n = i
        while time.monotonic() < deadline:
            n += 1
            r = ring[n % 3].get("/uncached/env", headers={"X-API-Key": key})
            statuses.append(r.status_code)
            assert r.status_code == 200, r.text
            r = token(ring[n % 3], nodes.web, grant_type="client_credentials",
                      scope="integration.store")
            statuses.append(r.status_code)
            assert r.status_code == 200, r.text

    def admin(_):
        while time.monotonic() < deadline:
            for args in (("key", "create", "shop"), ("purge",)):
                p = nodes.store.admin(*args, check=False)
                assert p.returncode == 0, p.stderr

    work = [(rotate, i) for i in range(6)] + [(codes, i) for i in range(3)] \
        + [(reads, i) for i in range(4)] + [(admin, 0)]
    with concurrent.futures.ThreadPoolExecutor(len(work)) as pool:
        for f in [pool.submit(fn, i) for fn, i in work]:
            f.result(timeout=120)
    assert [s for s in statuses if s >= 500] == []
    assert len(statuses) > 100, len(statuses)
    # a spent refresh token is refused on every node (the first refusal
    # revokes its family, which is the point: spent once, never again)
    for node in ring:
        r = refresh_on(node, nodes.web, spent[0])
        assert r.status_code == 400, r.text
    assert c.is_serving()
