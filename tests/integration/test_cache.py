"""The credential cache (shmcb, the default): a revocation made with
apiauth-admin takes effect within ApiAuthCacheTTL, at once with
ApiAuthCache off, and a cached entry never outlives the key's expiry."""
import time

import pytest

from harness import env_of

TTL = 2

BODY = f"""
<Location /cached>
    AuthType apiauth
    AuthName "cached"
    ApiAuthCacheTTL {TTL}
    Require valid-user
</Location>
<Location /long-cached>
    AuthType apiauth
    AuthName "long-cached"
    ApiAuthCacheTTL 3600
    Require valid-user
</Location>
<Location /uncached>
    AuthType apiauth
    AuthName "uncached"
    ApiAuthCache off
    Require valid-user
</Location>
"""

REVOKED = {"error": "invalid_token",
           "error_description": "the credential has been revoked"}


class Env:
    pass


@pytest.fixture(scope="module")
def env(module_store, module_httpd):
    store = module_store()
    e = Env()
    e.store = store
    e.app = store.app("shop")
    e.httpd = module_httpd(store=store, body=BODY)
    return e


def get(env, path, key):
    return env.httpd.get(path, headers={"X-API-Key": key})


def sleep_until(when):
    delay = when - time.time()
    if delay > 0:
        time.sleep(delay)


def test_revoked_key_works_until_the_cache_ttl_then_is_refused(env):
    key, key_id = env.store.key("shop")
    first = time.time()
    assert get(env, "/cached/env", key).status_code == 200
    env.store.revoke(key_id)
    # several requests: whichever child answers, the cache is shared
    for _ in range(4):
        r = get(env, "/cached/env", key)
        assert r.status_code == 200, r.text
        assert env_of(r)["APIAUTH_CREDENTIAL_ID"] == key_id
    assert time.time() < first + TTL, "too slow to observe the cache"
    sleep_until(first + TTL + 0.5)
    r = get(env, "/cached/env", key)
    assert r.status_code == 401
    assert r.json() == REVOKED


def test_revocation_is_immediate_with_the_cache_off(env):
    key, key_id = env.store.key("shop")
    assert get(env, "/uncached/env", key).status_code == 200
    env.store.revoke(key_id)
    r = get(env, "/uncached/env", key)
    assert r.status_code == 401
    assert r.json() == REVOKED


def test_cached_entry_never_outlives_the_keys_expiry(env):
    key, key_id = env.store.key("shop", "--expires", "2s")
    expires = int(env.store.sql("SELECT expires FROM apiauth_credentials "
                                f"WHERE id = '{key_id}'"))
    r = get(env, "/long-cached/env", key)
    assert r.status_code == 200
    assert env_of(r)["APIAUTH_EXPIRES"] == str(expires)
    # revoked as well: only the cache can still say yes, and after the
    # expiry only a store lookup can say "revoked" -- an entry that
    # outlived the key would be refused as "expired" instead
    env.store.revoke(key_id)
    assert get(env, "/long-cached/env", key).status_code == 200
    sleep_until(expires + 0.2)
    r = get(env, "/long-cached/env", key)
    assert r.status_code == 401
    assert r.json() == REVOKED


def test_each_location_bounds_revocation_by_its_own_ttl(env):
    # /long-cached and /cached share the provider chain "dbd", hence the
    # cache entries; the entry /long-cached made must not let /cached
    # serve a revoked key for longer than its own TTL
    key, key_id = env.store.key("shop")
    first = time.time()
    assert get(env, "/long-cached/env", key).status_code == 200
    env.store.revoke(key_id)
    assert get(env, "/cached/env", key).status_code == 200
    assert get(env, "/uncached/env", key).status_code == 401
    sleep_until(first + TTL + 0.5)
    r = get(env, "/cached/env", key)
    assert r.status_code == 401
    assert r.json() == REVOKED
    assert get(env, "/long-cached/env", key).status_code == 200
