"""Metrics: what authentication does, counted across children, read as
Prometheus text from `SetHandler apiauth-metrics` and in mod_status's
page.  Each request below is counted once, under its location and its
outcome; the token endpoint's decisions (tokens issued, wrong secrets,
revocations) are counted from their effects; no credential, client or
app ever appears in the text."""
import re

import pytest

from oauth_tokens import client_auth
from oauth_flows import TOKEN

BODY = """
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
ApiAuthMetricsLabels app
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
<Location /metrics>
    SetHandler apiauth-metrics
    Require ip 127.0.0.1
</Location>
<Location /counted>
    AuthType apiauth
    AuthName "counted"
    ApiAuthScheme apikey
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope wanted
</Location>
<Location /limited>
    AuthType apiauth
    AuthName "limited"
    ApiAuthScheme apikey
    ApiAuthRateLimit 1/3600
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def o(servers):
    o = servers.make(body=BODY)
    o.store.app("shop")
    return o


def scrape(o):
    r = o.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values, r.text


def outcome(values, location, what):
    return next((v for k, v in values.items()
                 if k.startswith("apiauth_requests_total{")
                 and f'location="{location}"' in k
                 and f'outcome="{what}"' in k), 0)


def test_each_request_is_counted_under_its_outcome(o):
    good, _ = o.store.key("shop", "--scope", "wanted")
    narrow, _ = o.store.key("shop", "--scope", "other")
    before, _ = scrape(o)
    sent = {"accepted": [{"X-API-Key": good}] * 3,
            "no_credential": [{}] * 2,
            "unknown": [{"X-API-Key": "aak_" + "A" * 40}],
            "malformed": [{"X-API-Key": "not a key at all"}],
            "insufficient_scope": [{"X-API-Key": narrow}]}
    for headers_list in sent.values():
        for headers in headers_list:
            o.get("/counted/env", headers=headers)
    after, text = scrape(o)
    for what, headers_list in sent.items():
        assert outcome(after, "/counted", what) \
            - outcome(before, "/counted", what) == len(headers_list), what
    # the histogram saw every authentication (accepted or not) once
    count = next(v for k, v in after.items()
                 if k.startswith("apiauth_authentication_seconds_count{")
                 and 'location="/counted"' in k)
    was = next((v for k, v in before.items()
                if k.startswith("apiauth_authentication_seconds_count{")
                and 'location="/counted"' in k), 0)
    assert count - was == 8   # the 403 was authenticated first
    assert good not in text and narrow not in text
    assert "aak_" not in text


def test_rate_limited_and_failure_counts(o):
    key, _ = o.store.key("shop")
    before, _ = scrape(o)
    assert o.get("/limited/env", headers={"X-API-Key": key}).status_code \
        == 200
    assert o.get("/limited/env", headers={"X-API-Key": key}).status_code \
        == 429
    after, _ = scrape(o)
    assert outcome(after, "/limited", "rate_limited") \
        - outcome(before, "/limited", "rate_limited") == 1
    assert outcome(after, "/limited", "accepted") \
        - outcome(before, "/limited", "accepted") == 1


def test_the_token_endpoint_is_counted_from_its_decisions(o):
    c = o.client("metered", "client_credentials",
                 scopes=("integration.order",))
    before, _ = scrape(o)
    for _ in range(2):
        assert o.post(TOKEN, data={"grant_type": "client_credentials"},
                      auth=client_auth(c)).status_code == 200
    wrong = dict(c, client_secret=c["client_secret"][:-2] + "xx")
    assert o.post(TOKEN, data={"grant_type": "client_credentials"},
                  auth=client_auth(wrong)).status_code == 401
    after, text = scrape(o)
    key = 'apiauth_issued_total{what="client_credentials"}'
    assert after[key] - before.get(key, 0) == 2
    refused = sum(v for k, v in after.items()
                  if k.startswith("apiauth_refused_attempts_total"))
    was = sum(v for k, v in before.items()
              if k.startswith("apiauth_refused_attempts_total"))
    assert refused - was == 1
    assert c["client_secret"] not in text and c["client_id"] not in text


def test_cache_hits_are_counted(o):
    key, _ = o.store.key("shop", "--scope", "wanted")
    before, _ = scrape(o)
    for _ in range(3):
        # a connection each: no connection memo answers
        o.get("/counted/env", headers={"X-API-Key": key,
                                       "Connection": "close"})
    after, _ = scrape(o)
    hits = 'apiauth_cache_lookups_total{result="hit"}'
    misses = 'apiauth_cache_lookups_total{result="miss"}'
    assert after[misses] - before[misses] == 1
    assert after[hits] - before[hits] == 2
    assert after["apiauth_store_lookups_total"] \
        - before["apiauth_store_lookups_total"] == 1


def test_mod_status_shows_a_section(o):
    page = o.get("/server-status")
    assert page.status_code == 200
    assert "<h2>apiauth</h2>" in page.text
    assert re.search(r"<td>/counted</td>(<td>\d+</td>){12}", page.text)
    auto = o.get("/server-status", params={"auto": ""})
    assert re.search(r"^ApiAuth /counted accepted: \d+$", auto.text, re.M)
    assert re.search(r"^ApiAuthCacheHits: \d+$", auto.text, re.M)


def test_requests_per_app_where_asked(o):
    """ApiAuthMetricsLabels app: each app's requests, accepted or refused
    by a Require line; apps, never credentials, as labels."""
    app = o.store.app("metered-app")
    good, _ = o.store.key("metered-app", "--scope", "wanted")
    narrow, _ = o.store.key("metered-app", "--scope", "other")
    for key in (good, good, narrow):
        o.get("/counted/env", headers={"X-API-Key": key})
    after, text = scrape(o)
    assert after[f'apiauth_requests_by_app_total{{app="{app}",'
                 'outcome="accepted"}'] == 2
    assert after[f'apiauth_requests_by_app_total{{app="{app}",'
                 'outcome="refused"}'] == 1
    assert good not in text and narrow not in text
