"""httpd serves a request from another location than the one it was sent
to: a front controller (FallbackResource), an ErrorDocument, a rewrite.
The other location authenticates again, under its own rules; mod_apiauth
strips the credential from the request once it has passed, so that the
backend never sees it, and reads it again from what the client sent.

Before, the second location found no credential and answered 401 to a
client whose key was good."""
import pytest

from harness import env_of

CONF = """
<Location /shop>
    AuthType apiauth
    AuthName "shop"
    ApiAuthScheme apikey
    Require valid-user
    FallbackResource /controller/env
</Location>
<Location /controller>
    AuthType apiauth
    AuthName "shop"
    ApiAuthScheme apikey
    Require valid-user
</Location>
<Location /strict>
    AuthType apiauth
    AuthName "strict"
    ApiAuthScheme apikey
    Require valid-user
    FallbackResource /other-app/env
</Location>
<Location /other-app>
    AuthType apiauth
    AuthName "other"
    ApiAuthScheme apikey
    Require apiauth-app app_nobody
</Location>
"""


class World:
    pass


@pytest.fixture(scope="module")
def w(module_store, module_httpd):
    k = World()
    k.store = module_store()
    k.app = k.store.app("shop")
    k.h = module_httpd(body=CONF, store=k.store,
                       modules=("dir",))
    k.key = k.store.key("shop")[0]
    return k


def test_a_front_controller_behind_a_key(w):
    r = w.h.get("/shop/orders/42", headers={"X-API-Key": w.key})
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_APP"] == w.app
    # the backend still never sees the key
    assert w.key not in r.text


def test_the_second_location_applies_its_own_rules(w):
    # the key is good at /strict, but /other-app wants another app
    r = w.h.get("/strict/orders/42", headers={"X-API-Key": w.key})
    assert r.status_code in (401, 403), r.text


def test_no_key_is_still_no_key(w):
    assert w.h.get("/shop/orders/42").status_code == 401
    r = w.h.get("/shop/orders/42", headers={"X-API-Key": "aak_nothing"})
    assert r.status_code == 401
