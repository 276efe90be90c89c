"""A DPoP proof is good once, across nodes, even when a thief sends the
copy to another node at the very moment its client sends the original.

Two nodes share one memcached.  As the socache (ApiAuthCacheSOCache
memcache:...) it remembers proofs by reading then writing, so two nodes
that both read "not seen" both take the proof; ApiAuthSharedStore makes
the claim memcached's atomic add, which exactly one node wins.  The
claims are named by MACs under the pepper (no thumbprint, no jti in
memcached); when memcached cannot be reached, proofs are refused (a proof
nobody can remember is not taken)."""
import concurrent.futures
import json
import shutil
import threading

import pytest

from backends import Memcached
from dpop_keys import DPoPKey
from harness import (OAUTH_CONF, Httpd, Store, htpasswd, make_key,
                     make_pepper, make_workdir)
from oauth_flows import TOKEN
from oauth_tokens import client_auth
from test_shared_cache import Mc

ISSUER = "https://api.example.test"
NODE = """
ApiAuthCacheSOCache "memcache:127.0.0.1:{port}"
ApiAuthSecretPepper "{pepper}"
{store}
<Location /dpop>
    AuthType apiauth
    AuthName "dpop"
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    Require valid-user
</Location>
"""
ROUNDS = 40


class World:
    pass


@pytest.fixture(scope="module")
def w(tls):
    k = World()
    k.dir = make_workdir("apiauth-replay-")
    k.memcached = Memcached().start()
    k.pepper = make_pepper(k.dir)
    k.key = make_key(k.dir, "ec")
    k.users = k.dir / "users"
    htpasswd(k.users, "alice", "wonderland")
    k.store = Store(k.dir / "store", pepper=k.pepper)
    k.nodes = []
    k.client = None
    k.tls = tls
    yield k
    for h in k.nodes:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)
    k.memcached.stop()
    k.store.drop()
    shutil.rmtree(k.dir, ignore_errors=True)


def pair(w, shared):
    """Two nodes, with or without ApiAuthSharedStore."""
    store = (f"ApiAuthSharedStore memcache:127.0.0.1:{w.memcached.port}"
             if shared else "")
    conf = OAUTH_CONF.format(issuer=ISSUER, key=w.key, users=w.users,
                             extra="")
    body = NODE.format(port=w.memcached.port, pepper=w.pepper, store=store)
    started = []
    for _ in range(2):
        h = Httpd(make_workdir("apiauth-node-"), w.tls[0], w.tls[1],
                  body=conf + body, store=w.store,
                  modules=("oauth", "socache_memcache"))
        w.nodes.append(h)
        started.append(h.start())
    if w.client is None:
        w.client = json.loads(w.store.out(
            "client", "create", "replay", "--grant", "client_credentials",
            "--scope", "integration.order", json=True))
    return started


def bound_token(node, w, key):
    r = node.post(TOKEN, data={"grant_type": "client_credentials"},
                  auth=client_auth(w.client),
                  headers={"DPoP": key.proof("POST", node.url(TOKEN))})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def race(a, b, key, token):
    """One proof, sent to both nodes at once; their statuses."""
    host = f"127.0.0.1:{a.https_port}"
    headers = {"Authorization": "DPoP " + token, "Host": host,
               "DPoP": key.proof("GET", f"https://{host}/dpop/hello",
                                 token=token)}
    start = threading.Barrier(2)

    def send(node):
        start.wait()
        return node.get("/dpop/hello", headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return sorted(pool.map(send, (a, b)))


def test_a_proof_sent_to_two_nodes_at_once_passes_once(w):
    a, b = pair(w, shared=True)
    key = DPoPKey()
    token = bound_token(a, w, key)
    outcomes = [race(a, b, key, token) for _ in range(ROUNDS)]
    assert outcomes == [[200, 401]] * ROUNDS, outcomes
    # the claims name neither key nor proof
    keys = Mc(w.memcached.port).keys()
    claims = [k for k in keys if k.startswith("aadp:")]
    assert len(claims) >= ROUNDS + 1      # and the token endpoint's proof
    assert not any(key.thumbprint in k for k in keys)


def test_memcached_restarted_between_requests_is_used_at_once(w):
    """The nodes' connections to the memcached that went are dead; the
    first claim after its restart still goes through."""
    a, _ = pair(w, shared=True)
    key = DPoPKey()
    token = bound_token(a, w, key)
    host = f"127.0.0.1:{a.https_port}"

    def one(_):
        return a.get("/dpop/hello", headers={
            "Authorization": "DPoP " + token, "Host": host,
            "DPoP": key.proof("GET", f"https://{host}/dpop/hello",
                              token=token)}).status_code
    # requests side by side leave the child several idle connections
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(32))) == {200}
    w.memcached.stop()
    w.memcached.start()
    for _ in range(3):
        r = a.get("/dpop/hello", headers={
            "Authorization": "DPoP " + token, "Host": host,
            "DPoP": key.proof("GET", f"https://{host}/dpop/hello",
                              token=token)})
        assert r.status_code == 200, r.text


def test_without_memcached_no_proof_is_taken(w):
    a, _ = pair(w, shared=True)
    key = DPoPKey()
    token = bound_token(a, w, key)
    host = f"127.0.0.1:{a.https_port}"
    w.memcached.stop()
    try:
        r = a.get("/dpop/hello", headers={
            "Authorization": "DPoP " + token, "Host": host,
            "DPoP": key.proof("GET", f"https://{host}/dpop/hello",
                              token=token)})
        assert r.status_code == 503, r.text
        assert "AA10091" in a.error_log()
    finally:
        w.memcached.start()
