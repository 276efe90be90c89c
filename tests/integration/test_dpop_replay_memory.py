"""A DPoP proof is good once however many proofs come after it.

Each node remembers the proofs it took until they could no longer pass
(their iat plus the window) in a table of its own (ApiAuthDPoPReplaySlots,
65536 by default).  In the socache, where they were before, a flood of
fresh proofs -- which anyone can send: a public client needs only its
client_id at the token endpoint -- pushed the memory of older ones out of
shmcb, and a copied proof passed again.  A full table refuses new proofs
(503, AA10093) and forgets none; it takes them again as old ones expire."""
import shutil
import time

import pytest
import requests

from dpop_keys import DPoPKey
from harness import Httpd, make_workdir
from oauth_flows import TOKEN
from oauth_tokens import client_auth

LOCATION = """
{extra}
<Location /dpop>
    AuthType apiauth
    AuthName "dpop"
    ApiAuthScheme dpop
    ApiAuthProvider oauth
    {dpop}
    Require valid-user
</Location>
"""


WINDOW = 15


def world(servers, extra="", dpop=""):
    o = servers.make(body=LOCATION.format(extra=extra, dpop=dpop))
    client = o.client("memory", "client_credentials",
                      scopes=("integration.order",))
    key = DPoPKey()
    r = o.post(TOKEN, data={"grant_type": "client_credentials"},
               auth=client_auth(client),
               headers={"DPoP": key.proof("POST", o.issuer + TOKEN)})
    assert r.status_code == 200, r.text
    return o, key, r.json()["access_token"]


def flood(o, key, token, count, answers=None):
    """`count` fresh proofs, each sent once; their statuses (and the
    answers, appended to `answers`)."""
    url = o.issuer + "/dpop/hello"
    statuses = []
    with requests.Session() as s:
        s.trust_env = False
        s.verify = str(o.httpd.cert)
        for _ in range(count):
            r = s.get(url, headers={
                "Authorization": "DPoP " + token,
                "DPoP": key.proof("GET", url, token=token)})
            statuses.append(r.status_code)
            if answers is not None:
                answers.append(r)
    return statuses


def call(o, token, proof):
    return o.get("/dpop/hello", headers={"Authorization": "DPoP " + token,
                                         "DPoP": proof})


def test_a_flood_of_fresh_proofs_does_not_push_out_a_used_one(servers):
    # a small socache fills soon: what is in it makes room for what comes
    root = make_workdir("apiauth-shmcb-")
    try:
        o, key, token = world(
            servers, extra=f'ApiAuthCacheSOCache "shmcb:{root}/c(32768)"')
        copied = key.proof("GET", o.issuer + "/dpop/hello", token=token)
        assert call(o, token, copied).status_code == 200
        assert set(flood(o, key, token, 1500)) == {200}
        again = call(o, token, copied)
        assert again.status_code == 401, again.text
        assert "used before" in again.json()["error_description"]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_full_table_refuses_new_proofs_and_forgets_none(servers):
    # a window long enough that no claim of the flood expires before the
    # table is seen full, even on a loaded machine
    o, key, token = world(servers, extra="ApiAuthDPoPReplaySlots 1024",
                          dpop=f"ApiAuthDPoP window={WINDOW}")
    copied = key.proof("GET", o.issuer + "/dpop/hello", token=token)
    assert call(o, token, copied).status_code == 200
    started = time.time()
    answers = []
    statuses = flood(o, key, token, 1100, answers)
    assert time.time() - started < WINDOW - 2, "the flood took too long"
    # a proof is refused when the slots it may take (128 from where its
    # digest points) are all held: some are, before all 1024 are
    assert statuses.count(200) <= 1023          # and the copied one
    assert set(statuses) == {200, 503}, set(statuses)
    refused = [r for r in answers if r.status_code == 503][0]
    assert refused.json()["error"] == "temporarily_unavailable"
    assert "AA10093" in o.httpd.error_log()
    again = call(o, token, copied)
    assert again.status_code == 401
    # once the proofs' window has passed, their slots are free again
    time.sleep(WINDOW + 2)
    fresh = key.proof("GET", o.issuer + "/dpop/hello", token=token)
    assert call(o, token, fresh).status_code == 200
    assert call(o, token, fresh).status_code == 401


@pytest.mark.parametrize("value", ["1000", "512", "33554432", "x"])
def test_a_table_size_that_is_no_power_of_two_in_range_does_not_start(
        tls, value):
    h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1],
              body=f"ApiAuthDPoPReplaySlots {value}\n")
    try:
        test = h.config_test()
        assert test.returncode != 0
        assert "power of two from 1024 to 16777216" in test.stderr
    finally:
        shutil.rmtree(h.root, ignore_errors=True)
