"""Faults under load (issue 6, "Faults"), through real apache2 processes:

- a graceful restart (SIGUSR1 to the parent, what `apachectl -k graceful`
  sends) and a child killed with SIGKILL, each while a few client threads
  issue tokens (client_credentials, codes), rotate refresh tokens and call
  protected resources for a few seconds: no 5xx, no issued token lost, no
  single-use token usable twice, and the server goes on serving;
- SQLite with many writers at once (threads, two httpd instances with two
  children each on one file, apiauth-admin in a loop): never a 500, never
  "database is locked" in an answer, and 503s, if any, rare -- counted and
  reported;
- the SQLite store going away while httpd runs (the file replaced by a
  corrupt one, or its directory made unreadable): 503 everywhere the
  store is needed, never 200, no crash, and service back without a
  restart when the store is.

A load is bounded by LOAD_SECONDS, every request by a timeout, and every
thread by a join deadline, so that a hang fails instead of blocking.
What the tests measured (counts, 503 rates) is written to the terminal.
"""
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

import harness
from harness import SECRETS, give_to_server
from oauth_flows import ALICE, AUTHORIZE, CALLBACK, TOKEN

LOAD_SECONDS = 4.0
JOIN_DEADLINE = 60
MAX_503_RATE = 0.01          # "rare": at most one answer in a hundred
STORE_RESOURCE = "/integration/v1/hello"     # Bearer, scope integration.store
ORDER_RESOURCE = "/orders/hello"             # Bearer, scope integration.order
API = "/api/hello"                           # keys, sessions, install tokens
LOGIN = "/user/login"
INSTALL_TOKEN = "/v3/users/token"
BOB_PASSWORD = "bob-the-builder-42"

# What the OAuthServer of these tests adds: resources that ask the store on
# every request (no credential cache, which would answer for it), a login
# endpoint, and install tokens for a dashboard user's Token key.
BODY = """
<Location /integration/v1>
    ApiAuthCache off
</Location>
<Location /orders>
    ApiAuthCache off
</Location>
<Location /api>
    AuthType apiauth
    AuthName "api"
    ApiAuthScheme apikey token basic bearer install
    ApiAuthProvider dbd
    ApiAuthKeyQuery api_key
    ApiAuthAllowBackend on
    ApiAuthCache off
    Require valid-user
</Location>
<Location /user/login>
    SetHandler apiauth-login
</Location>
<Location /v3/users/token>
    AuthType apiauth
    AuthName "dashboard"
    ApiAuthScheme token
    ApiAuthProvider dbd
    ApiAuthCache off
    Require valid-user
    SetHandler apiauth-install-token
</Location>
"""


# Under APIAUTH_TEST_VALGRIND=1 httpd is one process (apache2 -X) twenty
# times slower: there is no child to restart or kill, and a load of a few
# seconds measures nothing.
needs_children_and_speed = pytest.mark.skipif(
    getattr(harness, "VALGRIND", False),
    reason="one httpd process under valgrind: no children, no load")


@pytest.fixture
def report(request):
    """Writes a measurement to the terminal, whatever the verbosity."""
    plugins = request.config.pluginmanager
    reporter = plugins.getplugin("terminalreporter")
    capture = plugins.getplugin("capturemanager")

    def say(text):
        line = f"[{request.node.name}] {text}"
        if reporter is None or capture is None:
            print(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    return say


# ---- the server and what the load needs from its store ----------------------

class World:
    """An OAuthServer (or two on one store) and the credentials of a load:
    a client_credentials client, a first-party code-flow client that may
    refresh, an app with a key, an app token, a backend token and a
    dashboard user's Token key, and a user bob of that app."""

    def __init__(self, store, servers):
        self.store = store
        self.servers = servers
        self.o = servers[0]
        self.app_id = store.app("shop")
        self.key, _ = store.key("shop")
        self.app_token, _ = store.key("shop", "--kind", "app_token")
        store.user("bob", "--app", "shop", password=BOB_PASSWORD)
        self.backend, _ = store.key("shop", "--kind", "backend")
        store.user("dash", "--app", "shop")
        self.dashboard, _ = store.key("shop", "--kind", "token", "--user",
                                      "dash")
        self.m2m = self.o.client("m2m", "client_credentials",
                                 scopes=("integration.order",))
        self.web = self.o.client("web", "authorization_code",
                                 "refresh_token", first_party=True)

    def m2m_auth(self):
        return (self.m2m["client_id"], self.m2m["client_secret"])

    def web_auth(self):
        return (self.web["client_id"], self.web["client_secret"])


def world(oauth_factory, store, count=1, body=""):
    servers = [oauth_factory(store=store, body=BODY + body)
               for _ in range(count)]
    return World(store, servers)


# ---- processes of a running httpd ------------------------------------------

def child_pids(httpd):
    """The parent's children that serve requests: those with threads (the
    mod_cgid daemon, also a child, has one)."""
    parent = httpd.proc.pid
    pids = set()
    tasks = Path(f"/proc/{parent}/task")
    for task in tasks.iterdir():
        try:
            pids.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            pass
    if not pids:      # a kernel without /proc/.../children
        out = subprocess.run(["ps", "--ppid", str(parent), "-o", "pid="],
                             capture_output=True, text=True).stdout
        pids = {int(p) for p in out.split()}
    workers = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
        if threads > 1:
            workers.append(pid)
    return sorted(workers)


def crashes(httpd, allowed=()):
    """error.log lines of children that died of a signal, but for the
    pids a test killed itself."""
    return [line for line in httpd.error_log().splitlines()
            if "exit signal" in line
            and not any(f"child pid {pid} " in line for pid in allowed)]


# ---- a load -----------------------------------------------------------------

class Tally:
    """Every answer of a load, by what was asked."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()          # (what, status)
        self.server_errors = []            # (what, status, body)
        self.unexpected = []               # (what, status, body)
        self.resets = []                   # (what, error)
        self.gave_up = []                  # (what, error): failed twice
        self.locked_bodies = 0

    def answer(self, what, r, expected):
        body = r.text[:300]
        text = r.text.lower()
        with self.lock:
            self.statuses[(what, r.status_code)] += 1
            if "database is locked" in text or (r.status_code >= 400
                                                and "locked" in text):
                self.locked_bodies += 1
            if r.status_code >= 500:
                self.server_errors.append((what, r.status_code, body))
            elif r.status_code not in expected:
                self.unexpected.append((what, r.status_code, body))

    def reset(self, what, error):
        with self.lock:
            self.resets.append((what, repr(error)[:200]))

    def redirected_error(self, what, error):
        """An authorization answered by a redirect carrying an error: for
        temporarily_unavailable, the endpoint's 503."""
        with self.lock:
            self.statuses[(what, 302)] -= 1
            if error == "temporarily_unavailable":
                self.statuses[(what, 503)] += 1
                self.server_errors.append((what, 503, error))
            else:
                self.statuses[(what, error)] += 1
                self.unexpected.append((what, 302, error))

    def crashed(self, what, error):
        with self.lock:
            self.unexpected.append((what, "exception", repr(error)[:300]))

    def count(self, status=None):
        return sum(n for (_, s), n in self.statuses.items()
                   if status is None or s == status)

    def summary(self):
        by_status = Counter()
        for (_, s), n in self.statuses.items():
            by_status[s] += n
        return (f"{self.count()} answers {dict(sorted(by_status.items()))}, "
                f"{len(self.resets)} connection errors")


class Chain:
    """A family of refresh tokens, in the order they were issued."""

    def __init__(self, token):
        self.tokens = [token]
        self.ended = None         # why no later token is expected to work


class Load:
    """Client threads against one or more servers until a deadline.  Each
    thread keeps its own keep-alive connection; a connection error is
    retried once (on a new connection) where `retry` allows it."""

    def __init__(self, w, seconds=LOAD_SECONDS, retry=True):
        self.w = w
        self.seconds = seconds
        self.retry = retry
        self.tally = Tally()
        self.lock = threading.Lock()
        self.chains = []
        self.codes = []                     # redeemed once
        self.unredeemed = []                # redemption answered 503
        self.access = []                    # (server, resource, token,
                                            #  its refresh family or None)
        self.lost = []                      # refresh answered "used before"
        self.threads = []
        self.deadline = None

    # -- one request --------------------------------------------------------
    def send(self, session, o, what, method, path, expected, **kw):
        """(answer or None, whether it took a second attempt)."""
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        for attempt in (1, 2):
            try:
                r = session.request(method, o.url(path), **kw)
            except requests.ConnectionError as e:
                self.tally.reset(what, e)
                if attempt == 2 or not self.retry:
                    with self.tally.lock:
                        self.tally.gave_up.append((what, repr(e)[:200]))
                    return None, attempt == 2
                continue
            self.tally.answer(what, r, expected)
            return r, attempt == 2
        return None, True

    def issued(self, o, resource, body, chain=None):
        SECRETS.add_from_document(body)
        with self.lock:
            self.access.append((o, resource, body["access_token"], chain))

    # -- what the threads do ------------------------------------------------
    def client_credentials(self, s, o):
        r, _ = self.send(s, o, "client_credentials", "POST", TOKEN, {200},
                         data={"grant_type": "client_credentials"},
                         auth=self.w.m2m_auth())
        if r is not None and r.status_code == 200:
            self.issued(o, ORDER_RESOURCE, r.json())
            self.send(s, o, "bearer", "GET", ORDER_RESOURCE, {200},
                      headers=bearer(r.json()["access_token"]))

    def code_flow(self, s, o):
        r, _ = self.send(s, o, "authorize", "GET", AUTHORIZE, {302},
                         params={"response_type": "code",
                                 "client_id": self.w.web["client_id"],
                                 "redirect_uri": CALLBACK, "state": "load"},
                         auth=ALICE)
        if r is None or r.status_code != 302:
            return
        answer = parse_qs(urlparse(r.headers["Location"]).query)
        if "code" not in answer:
            self.tally.redirected_error("authorize", answer.get(
                "error", ["?"])[0])
            return
        code = answer["code"][0]
        SECRETS.add("authorization code", code)
        r, retried = self.send(s, o, "code", "POST", TOKEN, {200},
                               data={"grant_type": "authorization_code",
                                     "code": code, "redirect_uri": CALLBACK},
                               auth=self.w.web_auth())
        with self.lock:
            if r is not None and r.status_code == 400 and retried:
                # redeemed by the first attempt, whose answer never came
                self.lost.append(r.text[:200])
            if r is not None and r.status_code == 503:
                # a store failure loses nothing: the code must still work
                self.unredeemed.append((o, code))
            else:
                self.codes.append((o, code))
        if r is not None and r.status_code == 200:
            chain = Chain(r.json()["refresh_token"])
            self.issued(o, STORE_RESOURCE, r.json(), chain)
            with self.lock:
                self.chains.append((o, chain))

    def refresh(self, s, o, chain):
        if chain.ended:
            time.sleep(0.05)
            return
        token = chain.tokens[-1]
        r, retried = self.send(s, o, "refresh", "POST", TOKEN, {200},
                               data={"grant_type": "refresh_token",
                                     "refresh_token": token},
                               auth=self.w.web_auth())
        if r is None:
            # both attempts failed on the wire: the token's fate is unknown
            chain.ended = "connection lost twice"
            return
        if r.status_code == 200:
            body = r.json()
            self.issued(o, STORE_RESOURCE, body, chain)
            chain.tokens.append(body["refresh_token"])
            self.send(s, o, "bearer", "GET", STORE_RESOURCE, {200},
                      headers=bearer(body["access_token"]))
        elif r.status_code == 400 and retried:
            # the first attempt was carried out, its answer never arrived
            chain.ended = "answer lost with its connection"
            with self.lock:
                self.lost.append(r.text[:200])
        elif r.status_code == 400:
            chain.ended = f"refused: {r.text[:200]}"
        else:
            time.sleep(0.05)     # 503: the same token again, later

    def api_key(self, s, o):
        self.send(s, o, "api_key", "GET", API, {200},
                  headers={"X-API-Key": self.w.key})

    def login(self, s, o):
        r, _ = self.send(s, o, "login", "POST", LOGIN, {201},
                         auth=(self.w.app_token, ""),
                         json={"username": "bob", "password": BOB_PASSWORD})
        if r is not None and r.status_code == 201:
            session_token = r.json()["session_token"]
            SECRETS.add("session token", session_token)
            self.send(s, o, "session", "GET", API, {200},
                      auth=(self.w.app_token, session_token))

    def install_token(self, s, o):
        install = f"device-{threading.get_ident()}-{time.monotonic_ns()}"
        r, _ = self.send(s, o, "install_token", "GET", INSTALL_TOKEN, {200},
                         params={"installid": install},
                         headers={"Authorization": "Token "
                                  + self.w.dashboard})
        if r is not None and r.status_code == 200:
            token = r.json()["token"]
            SECRETS.add("install token", token)
            self.send(s, o, "install", "GET", API, {200},
                      params={"installid": install, "token": token})

    # -- running it -----------------------------------------------------------
    def thread(self, o, step, *args):
        def run():
            s = o.session()
            try:
                while time.monotonic() < self.deadline:
                    step(s, o, *args)
            except Exception as e:       # fails the test, with the others
                self.tally.crashed(step.__name__, e)
            finally:
                s.close()
        self.threads.append(threading.Thread(target=run, daemon=True))

    def start_chain(self, o):
        """A refresh token to rotate, from a code flow before the load."""
        s = o.session()
        before = len(self.chains)
        self.code_flow(s, o)
        s.close()
        assert len(self.chains) == before + 1, self.tally.unexpected
        return self.chains[-1][1]

    def plan(self, o, cc=2, refreshers=3, codes=1, keys=2, logins=0,
             installs=0):
        for _ in range(cc):
            self.thread(o, self.client_credentials)
        for _ in range(refreshers):
            self.thread(o, self.refresh, self.start_chain(o))
        for _ in range(codes):
            self.thread(o, self.code_flow)
        for _ in range(keys):
            self.thread(o, self.api_key)
        for _ in range(logins):
            self.thread(o, self.login)
        for _ in range(installs):
            self.thread(o, self.install_token)

    def run(self, faults=()):
        """Runs the threads; `faults` are (seconds after start, callable),
        done from this thread meanwhile."""
        start = time.monotonic()
        self.deadline = start + self.seconds
        for t in self.threads:
            t.start()
        for at, fault in sorted(faults, key=lambda f: f[0]):
            time.sleep(max(0.0, start + at - time.monotonic()))
            fault()
        for t in self.threads:
            t.join(max(1.0, self.deadline + JOIN_DEADLINE - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), \
            "a load thread never returned"
        return self.tally


def bearer(token):
    return {"Authorization": "Bearer " + token}


# ---- after a load: what must hold --------------------------------------------

def parallel(servers, fn, items):
    """fn(session of the item's server, item) for every item, 8 at a
    time, each worker thread with its own sessions."""
    local = threading.local()

    def call(item):
        if not hasattr(local, "sessions"):
            local.sessions = {id(o): o.session() for o in servers}
        return fn(local.sessions[id(item[0])], item)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(call, items))


def assert_nothing_lost_nothing_reusable(load):
    """Every access token issued still works; every refresh token family
    whose last token is known has that token work exactly once; every
    refresh token used before, and every code redeemed, is refused."""
    w = load.w

    def resource(s, item):
        o, path, token = item
        return s.get(o.url(path), headers=bearer(token), timeout=30).status_code

    # the family of a refresh whose answer died with a killed connection is
    # revoked (its retry presented a used token): its tokens are left out
    access = [(o, path, token) for o, path, token, chain in load.access
              if chain is None or not chain.ended]
    statuses = parallel(w.servers, resource, access)
    assert statuses.count(200) == len(statuses), Counter(statuses)

    def refresh(s, o, token):
        return s.post(o.url(TOKEN), data={"grant_type": "refresh_token",
                                          "refresh_token": token},
                      auth=w.web_auth(), timeout=30)

    live = [(o, c) for o, c in load.chains if not c.ended]
    assert live, "no refresh token family came through the load"

    def last_once(s, item):
        o, chain = item
        first = refresh(s, o, chain.tokens[-1])
        second = refresh(s, o, chain.tokens[-1])
        SECRETS.add_from_document(first.json())
        return first.status_code, second.status_code, second.json().get(
            "error")

    outcomes = parallel(w.servers, last_once, live)
    assert all(x == (200, 400, "invalid_grant") for x in outcomes), \
        Counter(outcomes)

    used = [(o, t) for o, c in load.chains for t in c.tokens[:-1]]

    def replay(s, item):
        o, token = item
        r = refresh(s, o, token)
        return r.status_code, r.json().get("error")

    outcomes = parallel(w.servers, replay, used)
    assert all(x == (400, "invalid_grant") for x in outcomes), \
        Counter(outcomes)

    def redeem(s, item):
        o, code = item
        r = s.post(o.url(TOKEN), data={"grant_type": "authorization_code",
                                       "code": code,
                                       "redirect_uri": CALLBACK},
                   auth=w.web_auth(), timeout=30)
        return r.status_code, r.json().get("error")

    outcomes = parallel(w.servers, redeem, load.codes)
    assert all(x == (400, "invalid_grant") for x in outcomes), \
        Counter(outcomes)

    def redeem_twice(s, item):
        return redeem(s, item)[0], redeem(s, item)

    outcomes = parallel(w.servers, redeem_twice, load.unredeemed)
    assert all(x == (200, (400, "invalid_grant")) for x in outcomes), \
        Counter(outcomes)
    return len(access), len(live), len(used), len(load.codes)


# ---- graceful restart and killed child --------------------------------------

@needs_children_and_speed
def test_graceful_restart_under_load_loses_no_token_and_answers_no_5xx(
        oauth_factory, new_store, report):
    w = world(oauth_factory, new_store())
    o = w.o
    parent = o.httpd.proc.pid
    before = child_pids(o.httpd)
    load = Load(w, retry=True)
    load.plan(o)
    tally = load.run(faults=[(1.2, o.httpd.graceful),
                             (2.6, o.httpd.graceful)])
    report(f"graceful x2: {tally.summary()}")
    assert tally.server_errors == []
    assert tally.unexpected == []
    # a reset connection was retried once; none may fail twice, and no
    # refresh whose answer was lost may have been carried out
    assert tally.gave_up == []
    assert [c.ended for _, c in load.chains if c.ended] == []
    assert load.lost == []
    assert tally.count(200) > 100, tally.summary()

    log = o.httpd.error_log()
    assert log.count("AH00493") == 2, "two graceful restarts were asked for"
    assert o.httpd.proc.pid == parent and o.httpd.proc.poll() is None
    # a new generation serves; the old one has finished and gone
    deadline = time.monotonic() + 10
    while (set(child_pids(o.httpd)) & set(before)
           and time.monotonic() < deadline):
        time.sleep(0.1)
    after = child_pids(o.httpd)
    assert after and not set(after) & set(before), (before, after)
    assert crashes(o.httpd) == []
    counts = assert_nothing_lost_nothing_reusable(load)
    report("checked afterwards: %d access tokens, %d refresh families, "
           "%d used refresh tokens, %d codes" % counts)
    assert o.is_serving()


@needs_children_and_speed
def test_killed_child_fails_only_its_connections_and_loses_no_token(
        oauth_factory, new_store, report):
    w = world(oauth_factory, new_store())
    o = w.o
    killed = []

    def kill_a_child():
        pids = child_pids(o.httpd)
        assert pids, "no child serves requests"
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    load = Load(w, retry=True)
    load.plan(o)
    threads = len(load.threads)
    tally = load.run(faults=[(1.5, kill_a_child)])
    report(f"SIGKILL to child {killed}: {tally.summary()}, refresh "
           f"families ended by the kill: "
           f"{sum(1 for _, c in load.chains if c.ended)}")
    assert tally.server_errors == []
    # a refresh or code redemption carried out by the killed child whose
    # answer never came: its retry presents a used token, refused (and
    # what it had issued revoked)
    assert [u for u in tally.unexpected
            if u[0] not in ("refresh", "code")] == []
    assert len(tally.unexpected) == len(load.lost)
    # only the connections of the killed child broke: at most one per
    # client thread, and each thread's retry went through
    assert len(tally.resets) <= threads, tally.resets
    assert tally.gave_up == []
    assert [c.ended for _, c in load.chains
            if c.ended and c.ended != "answer lost with its connection"] == []
    # a new child serves, the parent is the same
    deadline = time.monotonic() + 10
    while not child_pids(o.httpd) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert child_pids(o.httpd) and killed[0] not in child_pids(o.httpd)
    assert o.is_serving()
    assert crashes(o.httpd, allowed=killed) == []
    counts = assert_nothing_lost_nothing_reusable(load)
    report("checked afterwards: %d access tokens, %d refresh families, "
           "%d used refresh tokens, %d codes" % counts)


# ---- SQLite with many writers -----------------------------------------------

def admin_loop(store, deadline, args, outcomes):
    """apiauth-admin ARGS again and again until the deadline: another
    process writing to the store.  `outcomes` counts (exit status,
    whether it said "locked")."""
    mine = Counter()
    while time.monotonic() < deadline:
        p = store.admin(*args, check=False)
        mine[(p.returncode, "locked" in p.stderr.lower())] += 1
        if p.returncode != 0:
            mine[p.stderr.strip()[:200]] += 1
    outcomes.append(mine)


def sqlite_only(store):
    if store.driver != "sqlite3":
        pytest.skip("about one SQLite file and its locks")


@needs_children_and_speed
def test_sqlite_concurrent_writers_never_get_500_or_database_locked(
        oauth_factory, new_store, report):
    store = new_store()
    sqlite_only(store)
    # two servers on one file, two children each (ServerLimit is 2)
    w = world(oauth_factory, store, count=2, body="StartServers 2\n")
    load = Load(w, seconds=5.0, retry=False)
    for o in w.servers:
        load.plan(o, cc=1, refreshers=3, codes=2, keys=1, logins=1,
                  installs=2)
    admin_outcomes = []
    deadline = time.monotonic() + load.seconds
    admins = [threading.Thread(target=admin_loop, daemon=True,
                               args=(store, deadline, args, admin_outcomes))
              for args in (("key", "create", "shop"), ("purge",))]
    for t in admins:
        t.start()
    tally = load.run()
    for t in admins:
        t.join(JOIN_DEADLINE)
    admin = sum(admin_outcomes, Counter())
    total = tally.count()
    unavailable = tally.count(503)
    rate = unavailable / total if total else 0.0
    children = sum(len(child_pids(o.httpd)) for o in w.servers)
    report(f"{len(load.threads)} threads, {children} httpd children, 2 "
           f"apiauth-admin loops: {tally.summary()}; 503 rate "
           f"{rate:.4%} ({unavailable}/{total}); apiauth-admin "
           f"(exit status, said 'locked') and errors: {dict(admin)}")
    logs = "".join(o.httpd.error_log() for o in w.servers)
    report(f"error.log lines naming a locked database: "
           f"{sum('locked' in x for x in logs.splitlines())}")
    assert tally.server_errors == [] or {
        s for _, s, _ in tally.server_errors} == {503}, tally.server_errors
    assert tally.locked_bodies == 0
    assert rate <= MAX_503_RATE, f"503 rate {rate:.2%}"
    assert [u for u in tally.unexpected if u[1] != 503] == []
    assert tally.resets == []
    assert [k for k in admin if isinstance(k, str)] == [], dict(admin)
    assert tally.count(200) > 100, tally.summary()
    assert_nothing_lost_nothing_reusable(load)


@needs_children_and_speed
def test_sqlite_fresh_connections_under_contention_get_no_500_and_rare_503(
        oauth_factory, new_store, report):
    # DBDPersist Off: every request opens a connection of its own, as a
    # new child or a growing pool does now and then, and mod_dbd prepares
    # every statement on it at once.  With several requests at a time one
    # connection is closing (and, the last one on a WAL file, checkpoints
    # under an exclusive lock) while another prepares, and SQLite answers
    # the prepare "database is locked" at once (mod_dbd logs AH00632):
    # that moment's contention may reach a client only as a rare 503,
    # never as a 500 or a body naming the lock.
    store = new_store()
    sqlite_only(store)
    w = world(oauth_factory, store, body="DBDPersist Off\n")
    load = Load(w, seconds=3.0, retry=False)
    load.plan(w.o, cc=1, refreshers=0, codes=0, keys=3, installs=2)
    tally = load.run()
    total, unavailable = tally.count(), tally.count(503)
    rate = unavailable / max(total, 1)
    report(f"DBDPersist Off, {len(load.threads)} threads: {tally.summary()}; "
           f"503 rate {rate:.2%} ({unavailable}/{total}); error.log lines "
           f"naming a locked database: "
           f"{w.o.error_log().count('database is locked')}")
    assert {s for _, s, _ in tally.server_errors} <= {503}, \
        tally.server_errors
    assert tally.locked_bodies == 0
    assert rate <= MAX_503_RATE, (
        f"{unavailable} of {total} answers were 503, e.g. "
        f"{tally.server_errors[0]}")
    assert [u for u in tally.unexpected if u[1] != 503] == []
    assert tally.count(200) > 100, tally.summary()


# ---- the SQLite store gone, and back -----------------------------------------

class Outage:
    """Takes the server's SQLite store away and brings it back, each
    change one atomic step (a rename or a chmod) so that no connection
    opening meanwhile sees half of it."""

    def __init__(self, store, how):
        self.store, self.how = store, how
        self.away = store.dir.with_name(store.dir.name + "-away")

    def begin(self):
        if self.how == "corrupt":
            os.rename(self.store.dir, self.away)
            self.store.dir.mkdir()
            self.store.path.write_bytes(b"this is not an SQLite database\n"
                                        * 512)
            give_to_server(self.store.dir)
        else:
            self.store.dir.chmod(0)

    def end(self):
        if self.how == "corrupt":
            shutil.rmtree(self.store.dir)
            os.rename(self.away, self.store.dir)
        else:
            self.store.dir.chmod(0o755)


def probes(w, tokens):
    """Every kind of request that needs the store: (name, kwargs for
    Httpd.request, status when the store is there)."""
    app_id = w.app_id
    return [
        ("key header", dict(method="GET", path=API,
                            headers={"X-API-Key": w.key}), 200),
        ("key query", dict(method="GET", path=API,
                           params={"api_key": w.key}), 200),
        ("Token", dict(method="GET", path=API,
                       headers={"Authorization": "Token " + w.key}), 200),
        ("Basic key", dict(method="GET", path=API, auth=(w.key, "")), 200),
        ("Basic app id and key", dict(method="GET", path=API,
                                      auth=(app_id, w.key)), 200),
        ("Basic app token and session",
         dict(method="GET", path=API, auth=(w.app_token, tokens["session"])),
         200),
        ("Basic backend token", dict(method="GET", path=API,
                                     auth=(w.backend, "bob")), 200),
        ("install token", dict(method="GET", path=API, params={
            "installid": "device-1", "token": tokens["install"]}), 200),
        ("Bearer JWT", dict(method="GET", path=STORE_RESOURCE,
                            headers=bearer(tokens["access"])), 200),
        ("client_credentials", dict(
            method="POST", path=TOKEN, auth=w.m2m_auth(),
            data={"grant_type": "client_credentials"}), 200),
        ("introspection", dict(method="POST", path="/auth/v2/introspect",
                               auth=w.m2m_auth(),
                               data={"token": tokens["m2m_access"]}), 200),
        ("login", dict(method="POST", path=LOGIN, auth=(w.app_token, ""),
                       json={"username": "bob", "password": BOB_PASSWORD}),
         201),
        ("install token endpoint", dict(
            method="GET", path=INSTALL_TOKEN, params={"installid": "dev-2"},
            headers={"Authorization": "Token " + w.dashboard}), 200),
    ]


def assert_unavailable_json(name, r):
    assert r.status_code == 503, (name, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json"), name
    assert r.json()["error"] == "temporarily_unavailable", (name, r.text)
    assert r.headers["Cache-Control"] == "no-store", name


@pytest.mark.parametrize("how", ["corrupt", "unreadable"])
def test_sqlite_store_gone_mid_run_is_503_then_back_without_restart(
        oauth_factory, new_store, how, report):
    # DBDPersist Off: every request opens the database, as a new child or
    # a connection past DBDExptime would.  With pooled connections a
    # connection opened before keeps its file descriptors, and so reads
    # the old file: the outage would not be seen at all.
    store = new_store()
    sqlite_only(store)
    w = world(oauth_factory, store, body="DBDPersist Off\n")
    o = w.o
    parent = o.httpd.proc.pid

    def code():
        r = o.get(AUTHORIZE, auth=ALICE, params={
            "response_type": "code", "client_id": w.web["client_id"],
            "redirect_uri": CALLBACK})
        assert r.status_code == 302, r.text
        got = parse_qs(urlparse(r.headers["Location"]).query)
        assert "code" in got, got.get("error")
        return got["code"][0]

    def redeem(c):
        return o.post(TOKEN, auth=w.web_auth(), data={
            "grant_type": "authorization_code", "code": c,
            "redirect_uri": CALLBACK})

    def refresh(token):
        return o.post(TOKEN, auth=w.web_auth(), data={
            "grant_type": "refresh_token", "refresh_token": token})

    first = redeem(code()).json()
    tokens = {
        "access": first["access_token"],
        "session": o.post(LOGIN, auth=(w.app_token, ""), json={
            "username": "bob", "password": BOB_PASSWORD}).json()[
                "session_token"],
        "install": o.get(INSTALL_TOKEN, params={"installid": "device-1"},
                         headers={"Authorization": "Token " + w.dashboard}
                         ).json()["token"],
        "m2m_access": o.post(TOKEN, auth=w.m2m_auth(), data={
            "grant_type": "client_credentials"}).json()["access_token"],
    }
    SECRETS.add_from_document(first)
    checks = probes(w, tokens)
    for name, kw, status in checks:
        r = o.request(**kw)
        assert r.status_code == status, (name, r.status_code, r.text)
    pending_code = code()                       # issued, not yet redeemed
    refresh_token = first["refresh_token"]      # not yet used

    # a background client all along: never a 5xx but 503, never a 200
    # for a request made wholly inside the outage
    window = {}
    seen = []
    stop = threading.Event()

    def background():
        s = o.session()
        while not stop.is_set():
            sent = time.monotonic()
            try:
                r = s.get(o.url(API), headers={"X-API-Key": w.key},
                          timeout=30)
                seen.append((sent, time.monotonic(), r.status_code))
            except requests.ConnectionError as e:
                seen.append((sent, time.monotonic(), repr(e)))
        s.close()

    t = threading.Thread(target=background, daemon=True)
    t.start()
    time.sleep(0.3)
    outage = Outage(store, how)
    outage.begin()
    window["down"] = time.monotonic()
    try:
        # all at once, twice over: several connections and threads (each
        # 503 takes the glue's retries, some 400 ms)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda c: (c[0], o.request(**c[1])),
                                    checks * 2))
        for name, r in answers:
            assert_unavailable_json(name, r)
        assert_unavailable_json("refresh", refresh(refresh_token))
        assert_unavailable_json("code", redeem(pending_code))
        r = o.get(AUTHORIZE, auth=ALICE, params={
            "response_type": "code", "client_id": w.web["client_id"],
            "redirect_uri": CALLBACK})
        assert r.status_code == 503, r.text      # an HTML error page
        assert "Location" not in r.headers
        assert o.is_serving()
        time.sleep(0.3)
    finally:
        window["up"] = time.monotonic()
        outage.end()
    time.sleep(0.3)
    stop.set()
    t.join(JOIN_DEADLINE)

    # back, same parent, and what was presented meanwhile still works once
    assert o.httpd.proc.pid == parent and o.httpd.proc.poll() is None
    for name, kw, status in checks:
        r = o.request(**kw)
        assert r.status_code == status, (name, r.status_code, r.text)
    r = refresh(refresh_token)
    assert r.status_code == 200, r.text
    SECRETS.add_from_document(r.json())
    r = redeem(pending_code)
    assert r.status_code == 200, r.text
    SECRETS.add_from_document(r.json())

    statuses = Counter(s for _, _, s in seen)
    inside = [s for sent, got, s in seen
              if sent > window["down"] and got < window["up"]]
    report(f"{how}: background answers {dict(statuses)}, {len(inside)} "
           f"wholly inside the outage")
    assert set(statuses) <= {200, 503}, statuses
    assert inside and set(inside) == {503}, Counter(inside)
    assert crashes(o.httpd) == []
    assert o.is_serving()
