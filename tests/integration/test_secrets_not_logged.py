"""Nothing logged ever contains a secret (DESIGN.md, "Responses"): after
a run of successes and every kind of refusal, with keys in headers, in
Basic pairs and in the query string, at LogLevel debug, neither log holds
a key -- while the refusals of known keys name their credential ids."""
import base64
import re
import time

import pytest

from harness import env_of, with_wrong_checksum

BODY = """
<Location /api>
    AuthType apiauth
    AuthName "api"
    ApiAuthScheme apikey token basic bearer
    ApiAuthKeyQuery api_key
    ApiAuthCache off
    AuthzSendForbiddenOnFailure On
    Require valid-user
</Location>
<Location /scoped>
    AuthType apiauth
    AuthName "scoped"
    ApiAuthKeyQuery api_key
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope admin
</Location>
<Location /other-app>
    AuthType apiauth
    AuthName "other"
    ApiAuthKeyQuery api_key
    AuthzSendForbiddenOnFailure On
    Require apiauth-app app_NobodyHasThisId
</Location>
<Location /bearer-only>
    AuthType apiauth
    AuthName "bearer-only"
    ApiAuthScheme bearer
    Require valid-user
</Location>
"""


def b64(text):
    return base64.b64encode(text.encode()).decode()


def every_form(key, app):
    """The ways a key is sent, and what else on the wire would reveal it."""
    return [
        {"headers": {"X-API-Key": key}},
        {"params": {"api_key": key, "page": "1"}},
        {"headers": {"Authorization": "Token " + key}},
        {"headers": {"Authorization": "Bearer " + key}},
        {"headers": {"Authorization": "Basic " + b64(key + ":")}},
        {"headers": {"Authorization": "Basic " + b64(f"{app}:{key}")}},
    ]


class Run:
    pass


@pytest.fixture(scope="module")
def run(module_store, module_httpd):
    store = module_store()
    r = Run()
    r.app = store.app("shop")
    r.good, r.good_id = store.key("shop")
    r.revoked, r.revoked_id = store.key("shop")
    store.revoke(r.revoked_id)
    r.expiring, r.expiring_id = store.key("shop", "--expires", "1s")
    store.user("carol", "--app", "shop")
    r.user_token, r.user_token_id = store.key("shop", "--kind", "token",
                                              "--user", "carol")
    r.secrets = [r.good, r.revoked, r.expiring, r.user_token]
    httpd = module_httpd(store=store, body=BODY, loglevel="debug")
    r.httpd = httpd
    r.statuses = []

    def send(path, **kw):
        resp = httpd.get(path, **kw)
        r.statuses.append((path, resp.status_code))
        return resp

    time.sleep(2.1)            # r.expiring has expired
    for form in every_form(r.good, r.app):
        send("/api/env", **form)                     # 200
        send("/scoped/env", **form)                  # 403 scope
        send("/other-app/env", **form)               # 403 app
        send("/api/env", tls=False, **form)          # 403 TLS
    for key in (r.revoked, r.expiring):
        for form in every_form(key, r.app):
            send("/api/env", **form)                 # 401
    for form in every_form(r.user_token, r.app):
        send("/api/env", **form)                     # 200 or 401 (Basic app)
    mistyped = with_wrong_checksum(r.good)
    r.secrets.append(mistyped)
    for form in every_form(mistyped, r.app):
        send("/api/env", **form)                     # 401 checksum
    send("/bearer-only/env",
         headers={"Authorization": "Bearer " + r.good})   # 401 not here
    # 400s that carry a key: two credentials, a repeated query key
    send("/api/env", headers={"X-API-Key": r.good},
         params={"api_key": r.revoked})
    send(f"/api/env?api_key={r.good}&api_key={r.good}")
    send("/api/env", headers={"Authorization": "Bearer " + r.good,
                              "X-API-Key": r.revoked})
    # an OAuth access token in the query (RFC 6750 §2.3): taken by no
    # scheme here, a secret all the same; the backend keeps its query
    r.query_token = ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9."
                     + b64(r.good).rstrip("="))
    r.secrets.append(r.query_token)
    send("/bearer-only/env", params={"access_token": r.query_token})  # 401
    r.kept = send("/api/env", headers={"X-API-Key": r.good},
                  params={"page": "2", "access_token": r.query_token})
    httpd.wait_for_access_log("/bearer-only/env")
    r.httpd.stop()             # every line is written
    r.error_log = httpd.error_log()
    r.access_log = httpd.access_log()
    return r


def encodings(secret, app):
    """A secret as it might appear in a log: as sent, base64 in a Basic
    pair (with an empty password or after the app id), or the start of
    its own base64."""
    return [secret, b64(secret + ":"), b64(f"{app}:{secret}"),
            b64(secret)[:20]]


def test_the_run_went_through_every_answer(run):
    seen = {status for _, status in run.statuses}
    assert seen == {200, 400, 401, 403}


@pytest.mark.parametrize("log", ["error_log", "access_log"])
def test_no_key_is_logged(run, log):
    text = getattr(run, log)
    assert text, f"{log} is empty"
    for secret in run.secrets:
        for form in encodings(secret, run.app):
            assert form not in text, f"{log} holds a secret ({form[:8]}...)"


@pytest.mark.parametrize("log", ["error_log", "access_log"])
def test_nothing_shaped_like_a_key_is_logged(run, log):
    assert re.findall(r"aak_[0-9A-Za-z]{20,}", getattr(run, log)) == []


def test_query_keys_show_masked_in_the_access_log(run):
    lines = [x for x in run.access_log.splitlines() if "api_key=" in x]
    assert lines
    for line in lines:
        assert re.findall(r"api_key=([^& \"]*)", line) == \
            ["***"] * line.count("api_key=")


def test_an_access_token_in_the_query_shows_masked(run):
    lines = [x for x in run.access_log.splitlines() if "access_token=" in x]
    assert len(lines) == 2
    for line in lines:
        # %r and %q both
        assert re.findall(r"access_token=([^& \"]*)", line) == ["***"] * 2
    # what the backend got is the query as sent
    assert run.kept.status_code == 200
    assert env_of(run.kept)["QUERY_STRING"] == \
        "page=2&access_token=" + run.query_token


@pytest.mark.parametrize("which", ["revoked", "expiring", "good"])
def test_refusals_of_known_keys_name_their_credential_id(run, which):
    # revoked and expired: refused by authn; good: refused by Require
    # (scope, app) and on a Bearer-only location
    assert getattr(run, which + "_id") in run.error_log


def test_refusal_of_revoked_key_names_id_and_reason(run):
    assert re.search(rf"credential {run.revoked_id} refused: the "
                     r"credential has been revoked", run.error_log)
