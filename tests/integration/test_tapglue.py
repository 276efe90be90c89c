"""Tapglue's authentication page (shared/seeds/000), replayed against
conf-examples/tapglue.conf as shipped: a user logs in at /0.4/user/login
with the app token as the Basic user name, then calls the API with
`curl -u APP_TOKEN:SESSION_TOKEN`; creating a user takes the app token
alone; the app's backend acts as a user with `-u BACKEND_TOKEN:USER_ID`;
plain HTTP fails.  Each refusal sits next to the request that succeeds."""
import json
import statistics
import subprocess
import time

import pytest

from examples import ExampleSite
from harness import env_of, give_to_server

LOGIN = "/0.4/user/login"
ME = "/0.4/me/env"
USERS = "/0.4/users"
USER_SEARCH = "/0.4/users/search/env"
NO_BACKEND = "/0.4/admin/env"

ALICE_PW = "wonderland-42"
BOB_PW = "builder-1234"
CAROL_PW = "other-app-pw"


def extra_conf(httpd):
    """What the test adds to the example: the create-user call answered by
    env.cgi (the example's paths end where the API's do, not in /env), and
    a location of this API where backend tokens are not welcome (the
    example turns them on for all of /0.4, an operator may turn them off
    below it)."""
    return f"""
ScriptAliasMatch "^/0\\.4/users$" "{httpd.root}/cgi/env.cgi"
<Location /0.4/admin>
    ApiAuthAllowBackend off
</Location>
"""


@pytest.fixture(scope="module")
def tapglue(tls):
    t = ExampleSite("apiauth-tapglue-")
    store = t.store
    t.app = store.app("myapp")
    t.app_token, t.app_token_id = store.key("myapp", "--kind", "app_token")
    t.backend, t.backend_id = store.key("myapp", "--kind", "backend")
    t.other_app = store.app("otherapp")
    t.other_app_token, _ = store.key("otherapp", "--kind", "app_token")
    t.other_backend, _ = store.key("otherapp", "--kind", "backend")
    store.user("alice", "--app", "myapp", "--email", "alice@example.com",
               password=ALICE_PW)
    store.user("carol", "--app", "otherapp", password=CAROL_PW)
    store.user("bob", password=BOB_PW)          # of no app
    body = t.example("tapglue.conf")
    t.serve(tls, lambda h: body + extra_conf(h))
    yield t
    t.remove()


def curl(t, path, user, *args, tls=True):
    """The seed's own client: `curl -u USER ...`; returns (status, body)."""
    cmd = ["curl", "-s", "-S", "--noproxy", "*", "--cacert", str(t.cert),
           "-o", "-", "-w", "\n%{http_code}", "-u", user, *args,
           t.url(path, tls)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    body, _, status = proc.stdout.rpartition("\n")
    return int(status), body


def login(t, app_token, **fields):
    return t.post(LOGIN, auth=(app_token, ""), json=fields)


def session_of(t, app_token, **fields):
    r = login(t, app_token, **fields)
    assert r.status_code == 201, r.text
    return r.json()["session_token"]


def assert_login_ok(r, user, lifetime=2592000):
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"user_id", "session_token", "expires_in"}
    assert body["user_id"] == user
    assert body["expires_in"] == lifetime
    assert body["session_token"]
    return body["session_token"]


def store_sql(t, statement):
    out = t.store.sql(statement)
    give_to_server(t.store.dir)
    return out


# ---- the login endpoint ---------------------------------------------------

def test_login_with_email_as_json_returns_session(tapglue):
    r = login(tapglue, tapglue.app_token, email="alice@example.com",
              password=ALICE_PW)
    assert_login_ok(r, "alice")


def test_login_with_username_as_json_returns_session(tapglue):
    r = login(tapglue, tapglue.app_token, username="alice",
              password=ALICE_PW)
    assert_login_ok(r, "alice")


def test_login_with_urlencoded_form_returns_session(tapglue):
    r = tapglue.post(LOGIN, auth=(tapglue.app_token, ""),
                     data={"username": "alice", "password": ALICE_PW})
    assert_login_ok(r, "alice")


def test_login_as_the_seed_curl_sends_it(tapglue):
    status, body = curl(tapglue, LOGIN, tapglue.app_token + ":",
                        "-H", "Content-Type: application/json",
                        "-d", json.dumps({"email": "alice@example.com",
                                          "password": ALICE_PW}))
    assert status == 201, body
    assert json.loads(body)["user_id"] == "alice"


def test_wrong_password_and_unknown_user_get_the_same_401(tapglue):
    wrong = login(tapglue, tapglue.app_token, username="alice",
                  password="not-her-password")
    unknown = login(tapglue, tapglue.app_token, username="nobody",
                    password="not-her-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert wrong.json()["error"]
    assert (wrong.headers["WWW-Authenticate"]
            == unknown.headers["WWW-Authenticate"])
    assert ALICE_PW not in wrong.text


def test_wrong_password_and_unknown_user_take_about_as_long(tapglue):
    """Both check one bcrypt hash: the answer does not tell whether the
    user exists.  Medians of a few tries, within a generous factor."""
    def median_time(username):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            r = login(tapglue, tapglue.app_token, username=username,
                      password="not-the-password")
            times.append(time.perf_counter() - start)
            assert r.status_code == 401
        return statistics.median(times)

    login(tapglue, tapglue.app_token, username="alice", password="warm-up")
    wrong, unknown = median_time("alice"), median_time("nobody")
    assert unknown < 2 * wrong and wrong < 2 * unknown, (wrong, unknown)


@pytest.mark.parametrize("body,content_type", [
    ('{"username": "alice", "password": ', "application/json"),
    ('["alice", "x"]', "application/json"),
    ('{"username": "alice"}', "application/json"),
    ('{"password": "x1234567"}', "application/json"),
    ('{"username": 7, "password": "x1234567"}', "application/json"),
    ('{"username": "alice", "email": "alice@example.com", '
     '"password": "x1234567"}', "application/json"),
    ("username=alice", "application/x-www-form-urlencoded"),
    ("username=alice&email=alice%40example.com&password=x1234567",
     "application/x-www-form-urlencoded"),
], ids=["truncated-json", "not-an-object", "no-password", "no-login",
        "login-not-a-string", "both-json", "form-no-password", "both-form"])
def test_malformed_login_is_400(tapglue, body, content_type):
    r = tapglue.post(LOGIN, auth=(tapglue.app_token, ""), data=body,
                     headers={"Content-Type": content_type})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"


def test_user_of_another_app_cannot_log_in_here(tapglue):
    mine = login(tapglue, tapglue.app_token, username="carol",
                 password=CAROL_PW)
    wrong = login(tapglue, tapglue.app_token, username="alice",
                  password="not-her-password")
    assert mine.status_code == 401
    assert mine.content == wrong.content
    assert_login_ok(login(tapglue, tapglue.other_app_token,
                          username="carol", password=CAROL_PW), "carol")


def test_user_of_no_app_can_log_in_to_any_app(tapglue):
    for app_token in (tapglue.app_token, tapglue.other_app_token):
        assert_login_ok(login(tapglue, app_token, username="bob",
                              password=BOB_PW), "bob")


def test_login_needs_an_app_token(tapglue):
    fields = {"username": "alice", "password": ALICE_PW}
    assert tapglue.post(LOGIN, json=fields).status_code == 401
    assert tapglue.post(LOGIN, auth=(tapglue.backend, ""),
                        json=fields).status_code == 401
    assert tapglue.post(LOGIN, auth=("aak_not_a_token", ""),
                        json=fields).status_code == 401


# ---- APP_TOKEN:SESSION_TOKEN ----------------------------------------------

def test_session_token_is_the_user_within_the_app(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    status, body = curl(tapglue, ME, f"{tapglue.app_token}:{session}")
    assert status == 200, body
    env = dict(line.split("=", 1) for line in body.splitlines()
               if "=" in line)
    assert env["REMOTE_USER"] == "alice"
    assert env["APIAUTH_KIND"] == "session"
    assert env["APIAUTH_APP"] == tapglue.app


def test_session_token_works_with_requests_auth_too(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    r = tapglue.get(ME, auth=(tapglue.app_token, session))
    assert r.status_code == 200, r.text
    assert env_of(r)["REMOTE_USER"] == "alice"


def test_session_of_another_app_is_401(tapglue):
    carol = session_of(tapglue, tapglue.other_app_token, username="carol",
                       password=CAROL_PW)
    assert tapglue.get(ME, auth=(tapglue.other_app_token,
                                 carol)).status_code == 200
    assert tapglue.get(ME, auth=(tapglue.app_token, carol)).status_code == 401
    alice = session_of(tapglue, tapglue.app_token, username="alice",
                       password=ALICE_PW)
    assert tapglue.get(ME, auth=(tapglue.other_app_token,
                                 alice)).status_code == 401


def test_session_of_a_user_of_no_app_stays_in_its_app(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="bob",
                         password=BOB_PW)
    assert tapglue.get(ME, auth=(tapglue.app_token,
                                 session)).status_code == 200
    assert tapglue.get(ME, auth=(tapglue.other_app_token,
                                 session)).status_code == 401


def test_other_credentials_are_not_sessions(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    for auth in ((session, ""), (session, tapglue.app_token),
                 (tapglue.app_token, tapglue.app_token),
                 (tapglue.app_token, tapglue.backend)):
        assert tapglue.get(ME, auth=auth).status_code == 401, auth


def test_wrong_session_token_is_401(tapglue):
    r = tapglue.get(ME, auth=(tapglue.app_token, "aas_no_such_session"))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_app_token_alone_creates_users(tapglue):
    r = tapglue.post(USERS, auth=(tapglue.app_token, ""),
                     json={"username": "dave"})
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["APIAUTH_KIND"] == "app_token"
    assert env["APIAUTH_APP"] == tapglue.app
    assert env["REMOTE_USER"] == tapglue.app
    assert env["REQUEST_BODY"] == '{"username": "dave"}'


def test_app_token_alone_does_nothing_else(tapglue):
    """"All requests, except creating users, require a session token"."""
    assert tapglue.get(ME, auth=(tapglue.app_token, "")).status_code == 401
    assert tapglue.get(USER_SEARCH,
                       auth=(tapglue.app_token, "")).status_code == 401
    r = tapglue.get(USERS, auth=(tapglue.app_token, ""))
    # known, but the kind may not read here: 403 (AuthzSendForbiddenOnFailure)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "access_denied"


def test_sessions_and_backend_may_call_users_too(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    for auth in ((tapglue.app_token, session), (tapglue.backend, "alice")):
        assert tapglue.get(USERS, auth=auth).status_code == 200
        assert tapglue.get(USER_SEARCH, auth=auth).status_code == 200


def test_no_credential_is_401_with_basic_challenge(tapglue):
    r = tapglue.get(ME)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert 'realm="api.tapglue.com"' in r.headers["WWW-Authenticate"]


def test_logout_ends_the_session_at_once(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    # used first, so that the credential cache holds it; the row is then
    # changed behind the server's back, and the answer that does not see
    # the change shows the cache is on
    r = tapglue.get(ME, auth=(tapglue.app_token, session))
    assert env_of(r)["REMOTE_USER"] == "alice"
    sid = tapglue.store.credential_id(session)
    store_sql(tapglue, "UPDATE apiauth_credentials SET user_id = 'bob' "
                       f"WHERE id = '{sid}'")
    r = tapglue.get(ME, auth=(tapglue.app_token, session))
    assert env_of(r)["REMOTE_USER"] == "alice", "the cache is not on"
    status, body = curl(tapglue, LOGIN, f"{tapglue.app_token}:{session}",
                        "-X", "DELETE")
    assert status == 204, body
    assert body == ""
    assert tapglue.get(ME, auth=(tapglue.app_token,
                                 session)).status_code == 401
    r = tapglue.request("DELETE", LOGIN, auth=(tapglue.app_token, session))
    assert r.status_code == 401


def test_logout_ends_the_session_under_every_app_token(tapglue):
    """An app may have several app tokens (the dashboard manages them);
    a session is the app's, so logging out with one of them ends it under
    all of them, cached or not."""
    second, _ = tapglue.store.key("myapp", "--kind", "app_token")
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    for app_token in (tapglue.app_token, second):
        r = tapglue.get(ME, auth=(app_token, session))
        assert r.status_code == 200, r.text
    r = tapglue.request("DELETE", LOGIN, auth=(tapglue.app_token, session))
    assert r.status_code == 204
    assert tapglue.get(ME, auth=(second, session)).status_code == 401
    assert tapglue.get(ME, auth=(tapglue.app_token,
                                 session)).status_code == 401


def test_logout_reaches_connections_kept_open(tapglue):
    """Keep-alive connections remember what the cache said of their
    session and, under shmcb, do not ask again while nothing has been
    revoked on this node (apiauth_socache.c's change count).  The logout,
    made on a third connection, is the next answer on both: on the first
    its cache entry is gone, on the second (another app token, another
    entry) the session's revocation marker refuses it."""
    second, _ = tapglue.store.key("myapp", "--kind", "app_token")
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    with tapglue.session() as one, tapglue.session() as two:
        for _ in range(3):
            for s, app_token in ((one, tapglue.app_token), (two, second)):
                r = s.get(tapglue.url(ME), auth=(app_token, session),
                          timeout=30)
                assert r.status_code == 200, r.text
        r = tapglue.request("DELETE", LOGIN, auth=(tapglue.app_token, session))
        assert r.status_code == 204
        for s, app_token in ((one, tapglue.app_token), (two, second)):
            r = s.get(tapglue.url(ME), auth=(app_token, session), timeout=30)
            assert r.status_code == 401, r.text


def test_logout_with_another_apps_token_is_refused(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    r = tapglue.request("DELETE", LOGIN,
                        auth=(tapglue.other_app_token, session))
    assert r.status_code == 401
    assert tapglue.get(ME, auth=(tapglue.app_token,
                                 session)).status_code == 200


def test_expired_session_is_401(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="bob",
                         password=BOB_PW)
    sid = tapglue.store.credential_id(session)
    assert sid.startswith("ses_")
    lifetime = store_sql(tapglue, "SELECT expires - created FROM "
                                  f"apiauth_credentials WHERE id = '{sid}'")
    assert lifetime == "2592000"       # ApiAuthSessionLifetime, 30 days
    # not used before: a cached answer keeps the expiry it was cached with
    # (a change made behind the server's back shows within ApiAuthCacheTTL)
    store_sql(tapglue, "UPDATE apiauth_credentials SET expires = "
                       f"{int(time.time()) - 10} WHERE id = '{sid}'")
    assert tapglue.get(ME, auth=(tapglue.app_token,
                                 session)).status_code == 401


# ---- BACKEND_TOKEN:USER_ID ------------------------------------------------

def test_backend_token_acts_as_the_user_and_is_audited(tapglue):
    status, body = curl(tapglue, ME, f"{tapglue.backend}:alice")
    assert status == 200, body
    env = dict(line.split("=", 1) for line in body.splitlines()
               if "=" in line)
    assert env["REMOTE_USER"] == "alice"
    assert env["APIAUTH_KIND"] == "backend"
    assert env["APIAUTH_ACTING_APP"] == tapglue.app
    assert env["APIAUTH_APP"] == tapglue.app
    log = tapglue.error_log()
    audit = [line for line in log.splitlines() if "AA10023" in line
             and tapglue.backend_id in line]
    assert audit, log[-2000:]
    assert tapglue.app in audit[-1] and "alice" in audit[-1]
    assert tapglue.backend not in log
    assert tapglue.backend not in tapglue.access_log()


def test_backend_token_acts_as_a_user_of_no_app(tapglue):
    r = tapglue.get(ME, auth=(tapglue.backend, "bob"))
    assert r.status_code == 200, r.text
    assert env_of(r)["REMOTE_USER"] == "bob"


def test_backend_token_cannot_act_as_a_user_of_another_app(tapglue):
    assert tapglue.get(ME, auth=(tapglue.backend, "carol")).status_code == 401
    assert tapglue.get(ME, auth=(tapglue.other_backend,
                                 "alice")).status_code == 401


def test_backend_token_for_unknown_user_is_401(tapglue):
    assert tapglue.get(ME, auth=(tapglue.backend,
                                 "nobody")).status_code == 401
    assert tapglue.get(ME, auth=(tapglue.backend, "")).status_code == 401


def test_backend_token_refused_where_backend_is_not_allowed(tapglue):
    assert tapglue.get(NO_BACKEND, auth=(tapglue.backend,
                                         "alice")).status_code == 401
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    assert tapglue.get(NO_BACKEND, auth=(tapglue.app_token,
                                         session)).status_code == 200
    assert tapglue.backend not in tapglue.error_log()


# ---- HTTPS only -----------------------------------------------------------

def test_plain_http_fails(tapglue):
    session = session_of(tapglue, tapglue.app_token, username="alice",
                         password=ALICE_PW)
    r = tapglue.get(ME, tls=False, auth=(tapglue.app_token, session))
    assert r.status_code == 403
    assert "HTTPS" in r.json()["error_description"]
    r = tapglue.post(LOGIN, tls=False, auth=(tapglue.app_token, ""),
                     json={"username": "alice", "password": ALICE_PW})
    assert r.status_code == 403
    assert "session_token" not in r.text
    r = tapglue.get(ME, tls=False, auth=(tapglue.backend, "alice"))
    assert r.status_code == 403
