"""Attacks (issue 6, "Attacks"), through a real apache2:

- SQL injection strings in every request parameter that reaches the
  store -- keys (header and query), Token, Basic (app id, app token,
  session, backend user id), opaque Bearer, install id and token, group
  ids (query, header, form, JSON), OAuth client ids and secrets (Basic and
  body), code, refresh_token, redirect_uri, scope, state, login names and
  passwords, the install-token endpoint's installid and app_key, and the
  token of introspection and revocation.  Each string is sent alone and
  glued to a real value (a quote, a comment, an OR, a NUL after a real key
  or user name: what a store that concatenated or truncated would let
  through), with the real secret where one goes along, so that a
  successful injection would show as a success.  Each must be refused with
  the 4xx of its case, never 2xx, never 5xx; afterwards the store holds
  the same rows as before, and a known-good credential still works.
- Brute force: failures per client address are counted (in the socache);
  past `ApiAuthFailureLimit COUNT SECONDS` the answer is 429 with
  Retry-After, for a good credential too, until the window has passed,
  while a client on another address is unaffected.

The RFC-mandated exceptions to "refused with a 4xx": introspection
answers 200 {"active": false} for a token it does not know (RFC 7662
§2.2) and revocation 200 (RFC 7009 §2.2); errors of the authorization
endpoint after the client and redirect URI check out go back to the
client as a redirect carrying the error and the state (RFC 6749 §4.1.2.1).
Those are asserted exactly instead.
"""
import base64
import http.client
import json
import re
import ssl
import time
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest

from harness import ROOT, SECRETS
from oauth_flows import ALICE, AUTHORIZE, CALLBACK, TOKEN

GROUP = "acme-corp"
INSTALL = "device-1"
BOB_PASSWORD = "bob-the-builder-42"
LOGIN = "/user/login"
INSTALL_TOKEN = "/v3/users/token"
INTROSPECT = "/auth/v2/introspect"
REVOKE = "/auth/v2/revoke"

GROUP_SOURCES = {"query": "query=group_id", "header": "header=X-Group-Id",
                 "form": "form=group_id", "json": "json=group_id"}

BODY = """
<Location /api>
    AuthType apiauth
    AuthName "api"
    ApiAuthScheme apikey token basic bearer install
    ApiAuthProvider dbd oauth
    ApiAuthKeyQuery api_key
    ApiAuthAllowBackend on
    ApiAuthCache off
    AuthzSendForbiddenOnFailure On
    Require valid-user
</Location>
<Location /user/login>
    SetHandler apiauth-login
</Location>
<Location /v3/users/token>
    AuthType apiauth
    AuthName "dashboard"
    ApiAuthScheme token
    ApiAuthCache off
    Require valid-user
    SetHandler apiauth-install-token
</Location>
""" + "".join(f"""
<Location /group/{name}>
    AuthType apiauth
    AuthName "groups"
    ApiAuthScheme basic
    ApiAuthCache off
    ApiAuthGroupFrom {source}
    AuthzSendForbiddenOnFailure On
    Require apiauth-group
</Location>
""" for name, source in GROUP_SOURCES.items())

# The strings, whole; `glued` adds them to a real value.
INJECTIONS = [
    ("quote", "'"),
    ("or", "' OR '1'='1"),
    ("or-tight", "'OR'1'='1'--"),
    ("drop", "'; DROP TABLE apiauth_credentials; --"),
    ("drop-tight", "x';DROP/**/TABLE/**/apiauth_credentials;--"),
    ("union", "' UNION SELECT id, digest FROM apiauth_credentials --"),
    ("backslash", "\\"),
    ("backslash-quote", "\\'"),
    ("double-quote", '" OR ""="'),
    ("wildcard", "%"),
    ("underscore", "_"),
    ("nul", "\x00' OR '1'='1"),
    ("unicode-quotes", "\u2018 OR \u20181\u2019=\u20191"),
    ("fullwidth-quote", "\uff07OR\uff071\uff07=\uff071"),
    ("crlf", "'\r\nX-Injected: 1"),
    ("long", "'" + "A" * 5000),
]
GLUE = [("quote-after", "'"), ("comment-after", "'--"),
        ("or-after", "' OR '1'='1"), ("nul-after", "\x00' OR '1'='1"),
        ("space-after", " ")]


def payloads(real=None, in_header=False):
    """(name, string) to try where `real` is the genuine value: every
    injection alone, and glued after the real value.  In a header, none
    with a NUL byte or a line break (HTTP cannot carry them) and none
    that only adds trailing space (HTTP strips it: the value would be the
    real one)."""
    out = list(INJECTIONS)
    if real is not None:
        out += [(name, real + tail) for name, tail in GLUE]
    if in_header:
        out = [(n, v) for n, v in out
               if not set(v) & {"\x00", "\r", "\n"} and v.rstrip() != real]
    return out


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def header(value):
    """A header value as bytes on the wire (UTF-8 where not Latin-1)."""
    return value.encode("utf-8")


def basic(user, password):
    return {"Authorization": "Basic " + b64(f"{user}:{password}"
                                            .encode("utf-8"))}


# ---- the server and its store -----------------------------------------------

class Target:
    pass


def table_names():
    """Every table the schema creates (sql/sqlite, the same names as
    sql/pgsql)."""
    names = []
    for f in sorted((ROOT / "sql" / "sqlite").glob("*.sql")):
        names += re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)",
                            f.read_text())
    return names


def row_counts(store):
    return {t: int(store.sql(f"SELECT COUNT(*) FROM {t}"))
            for t in table_names()}


@pytest.fixture(scope="module")
def t(servers):
    x = Target()
    x.o = o = servers.make(body=BODY)
    store = x.store = o.store
    x.app_id = store.app("shop")
    x.key, _ = store.key("shop")
    x.app_token, _ = store.key("shop", "--kind", "app_token")
    x.backend, _ = store.key("shop", "--kind", "backend")
    store.user("bob", "--app", "shop", "--email", "bob@example.com",
               password=BOB_PASSWORD)
    store.user("dash", "--app", "shop")
    x.dashboard, _ = store.key("shop", "--kind", "token", "--user", "dash")
    store.admin("app", "install", "shop", GROUP)
    x.m2m = o.client("m2m", "client_credentials",
                     scopes=("integration.order",))
    x.web = o.client("web", "authorization_code", "refresh_token",
                     first_party=True)
    x.consent = o.client("consent", "authorization_code", "refresh_token")
    r = o.post(LOGIN, auth=(x.app_token, ""),
               json={"username": "bob", "password": BOB_PASSWORD})
    assert r.status_code == 201, r.text
    x.session = r.json()["session_token"]
    r = o.get(INSTALL_TOKEN, params={"installid": INSTALL},
              headers={"Authorization": "Token " + x.dashboard})
    assert r.status_code == 200, r.text
    x.install = r.json()["token"]
    x.refresh = user_tokens(x)["refresh_token"]
    # codes for the redirect_uri attacks, issued before the count
    x.codes = [fresh_code(x) for _ in payloads(CALLBACK)]
    x.counts = row_counts(store)
    return x


def fresh_code(x):
    r = x.o.get(AUTHORIZE, auth=ALICE, params={
        "response_type": "code", "client_id": x.web["client_id"],
        "redirect_uri": CALLBACK})
    assert r.status_code == 302, r.text
    return parse_qs(urlparse(r.headers["Location"]).query)["code"][0]


def user_tokens(x):
    r = x.o.post(TOKEN, auth=(x.web["client_id"], x.web["client_secret"]),
                 data={"grant_type": "authorization_code",
                       "code": fresh_code(x), "redirect_uri": CALLBACK})
    assert r.status_code == 200, r.text
    return r.json()


# ---- what a refusal must look like --------------------------------------------

API_REFUSAL = {400: "invalid_request", 401: "invalid_token"}
CLIENT_REFUSAL = {400: "invalid_request", 401: "invalid_client"}


def error_of(r):
    if not r.headers.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        return r.json().get("error")
    except ValueError:
        return None


# a form body or query that encodes a NUL byte is malformed as a whole
MALFORMED = "invalid_request"


def check(failures, case, name, r, allowed):
    """`allowed`: {status: the JSON error it must carry, or a set of
    them}.  httpd's own 400 (an HTML page) is right too where a header
    grew past its limit.  Records what differs (never the payload
    itself: it may be 5 KB)."""
    error = error_of(r)
    wanted = allowed.get(r.status_code, ())
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    if name.startswith("long") or " long" in name:
        wanted |= {None} if r.status_code == 400 else set()
    if error not in wanted:
        failures.append(f"{case} [{name}]: {r.status_code} {error} "
                        f"{r.text[:160]!r}")


def attack(t, case, cases, allowed):
    """Sends every (name, request kwargs) of `cases`; all must be
    refused as `allowed` says."""
    failures = []
    for name, kw in cases:
        check(failures, case, name, t.o.request(**kw), allowed)
    assert failures == [], "\n".join(failures)


# ---- first, while the codes it needs are fresh (they live 60 s) --------

def test_injection_in_redirect_uri_at_the_token_endpoint_is_refused(t):
    # each with a real code of its own (a refused redemption may spend it)
    web = (t.web["client_id"], t.web["client_secret"])
    cases = [(n, token_request(t, {"grant_type": "authorization_code",
                                   "code": code, "redirect_uri": p}, web))
             for (n, p), code in zip(payloads(CALLBACK), t.codes)]
    attack(t, "redirect_uri", cases, {400: {"invalid_grant", MALFORMED}})


# ---- mod_apiauth: every place a credential is read ---------------------------

def test_injection_in_x_api_key_is_refused(t):
    attack(t, "X-API-Key", [
        (n, dict(method="GET", path="/api/hello",
                 headers={"X-API-Key": header(p)}))
        for n, p in payloads(t.key, in_header=True)], API_REFUSAL)


def test_injection_in_query_api_key_is_refused(t):
    attack(t, "?api_key=", [
        (n, dict(method="GET", path="/api/hello", params={"api_key": p}))
        for n, p in payloads(t.key)], API_REFUSAL)


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer"])
def test_injection_in_token_and_bearer_is_refused(t, scheme):
    attack(t, scheme, [
        (n, dict(method="GET", path="/api/hello",
                 headers={"Authorization": header(f"{scheme} {p}")}))
        for n, p in payloads(t.key, in_header=True)], API_REFUSAL)


def test_injection_in_jwt_shaped_bearer_claims_is_refused(t):
    # token68 all through, so it passes the parser and reaches the
    # providers: an unsigned JWT whose claims are the injections
    def shaped(p):
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()) \
            .rstrip(b"=").decode()
        return ".".join([part({"alg": "RS256", "typ": "at+jwt", "kid": p}),
                         part({"iss": p, "sub": p, "jti": p,
                               "client_id": p}), "c2ln"])
    attack(t, "Bearer JWT", [
        (n, dict(method="GET", path="/api/hello",
                 headers={"Authorization": "Bearer " + shaped(p)}))
        for n, p in payloads(t.o.issuer)], API_REFUSAL)


def test_injection_in_basic_user_is_refused(t):
    # the user part is an app token, a backend token, an app id or a key:
    # with the real app's key, session or user as the password
    cases = []
    for password in ("", t.key, t.session, "bob"):
        cases += [(f"{n} / {password[:4]}",
                   dict(method="GET", path="/api/hello",
                        headers=basic(p, password)))
                  for n, p in payloads(t.app_id)
                  if ":" not in p]
    attack(t, "Basic user", cases, API_REFUSAL)


@pytest.mark.parametrize("user", ["app id", "app token", "backend token"])
def test_injection_in_basic_password_is_refused(t, user):
    # the key of an app id, the session of an app token, the user id a
    # backend token acts as
    real_user, real_password = {"app id": (t.app_id, t.key),
                                "app token": (t.app_token, t.session),
                                "backend token": (t.backend, "bob")}[user]
    attack(t, f"Basic password of {user}", [
        (n, dict(method="GET", path="/api/hello",
                 headers=basic(real_user, p)))
        for n, p in payloads(real_password)], API_REFUSAL)


def test_injection_in_install_id_and_token_is_refused(t):
    cases = []
    for n, p in payloads(INSTALL):
        cases.append((f"query installid {n}", dict(
            method="GET", path="/api/hello",
            params={"installid": p, "token": t.install})))
    for n, p in payloads(t.install):
        cases.append((f"query token {n}", dict(
            method="GET", path="/api/hello",
            params={"installid": INSTALL, "token": p})))
    for n, p in payloads(INSTALL, in_header=True):
        cases.append((f"header id {n}", dict(
            method="GET", path="/api/hello",
            headers={"X-Install-Id": header(p),
                     "X-Install-Token": t.install})))
    for n, p in payloads(t.install, in_header=True):
        cases.append((f"header token {n}", dict(
            method="GET", path="/api/hello",
            headers={"X-Install-Id": INSTALL,
                     "X-Install-Token": header(p)})))
    attack(t, "install", cases, API_REFUSAL)


@pytest.mark.parametrize("source", list(GROUP_SOURCES))
def test_injection_in_group_id_is_refused(t, source):
    auth = basic(t.app_id, t.key)

    def request(p):
        if source == "query":
            return dict(method="GET", path="/group/query/hello",
                        params={"group_id": p}, headers=auth)
        if source == "header":
            return dict(method="GET", path="/group/header/hello",
                        headers=dict(auth, **{"X-Group-Id": header(p)}))
        if source == "form":
            return dict(method="POST", path="/group/form/env",
                        data={"group_id": p}, headers=auth)
        return dict(method="POST", path="/group/json/env",
                    data=json.dumps({"group_id": p}),
                    headers=dict(auth, **{"Content-Type":
                                          "application/json"}))

    # the good group first: the requests are right but for the group id
    assert t.o.request(**request(GROUP)).status_code == 200
    # malformed: 400; well-formed but not the app's: 403
    attack(t, f"group_id ({source})",
           [(n, request(p)) for n, p in payloads(GROUP,
                                                in_header=source
                                                == "header")],
           {400: "invalid_request", 403: "access_denied"})


# ---- the token endpoint --------------------------------------------------------

def token_request(t, data, auth=None):
    return dict(method="POST", path=TOKEN, data=data, auth=auth)


def test_injection_in_client_id_and_secret_is_refused(t):
    m2m = t.m2m
    cc = {"grant_type": "client_credentials"}
    cases = []
    for n, p in payloads(m2m["client_id"]):
        # client_secret_basic: each part form-urlencoded (RFC 6749 §2.3.1)
        cases.append((f"Basic id {n}", dict(
            method="POST", path=TOKEN, data=cc,
            headers=basic(quote(p, safe=""),
                          quote(m2m["client_secret"], safe="")))))
        cases.append((f"post id {n}", token_request(t, dict(
            cc, client_id=p, client_secret=m2m["client_secret"]))))
    for n, p in payloads(m2m["client_secret"]):
        cases.append((f"Basic secret {n}", dict(
            method="POST", path=TOKEN, data=cc,
            headers=basic(m2m["client_id"], quote(p, safe="")))))
        cases.append((f"post secret {n}", token_request(t, dict(
            cc, client_id=m2m["client_id"], client_secret=p))))
    attack(t, "client authentication", cases, CLIENT_REFUSAL)


def test_injection_in_code_refresh_token_and_scope_is_refused(t):
    web = (t.web["client_id"], t.web["client_secret"])
    m2m = (t.m2m["client_id"], t.m2m["client_secret"])
    cases = []
    for n, p in payloads(t.refresh[:12]):
        cases.append((f"code {n}", token_request(t, {
            "grant_type": "authorization_code", "code": p,
            "redirect_uri": CALLBACK}, web)))
        cases.append((f"refresh_token {n}", token_request(t, {
            "grant_type": "refresh_token", "refresh_token": p}, web)))
    attack(t, "code or refresh_token", cases,
           {400: {"invalid_grant", MALFORMED}})
    cases = [(f"scope {n}", token_request(t, {
        "grant_type": "client_credentials", "scope": p}, m2m))
        for n, p in payloads("integration.order")]
    attack(t, "scope", cases, {400: {"invalid_scope", MALFORMED}})


# ---- the authorization endpoint ------------------------------------------------

def authorize(t, **params):
    return dict(method="GET", path=AUTHORIZE, auth=ALICE,
                params=dict({"response_type": "code",
                             "client_id": t.consent["client_id"],
                             "redirect_uri": CALLBACK}, **params))


def test_injection_in_client_id_and_redirect_uri_is_an_error_page(t):
    # unknown client or unregistered redirect URI: a page, never a redirect
    failures = []
    cases = [(f"client_id {n}", authorize(t, client_id=p))
             for n, p in payloads(t.consent["client_id"])]
    cases += [(f"redirect_uri {n}", authorize(t, redirect_uri=p))
              for n, p in payloads(CALLBACK)]
    for name, kw in cases:
        r = t.o.request(**kw)
        if (r.status_code != 400 or "Location" in r.headers
                or not r.headers["Content-Type"].startswith("text/html")):
            failures.append(f"{name}: {r.status_code} "
                            f"{r.headers.get('Location', '')[:80]}")
    assert failures == [], "\n".join(failures)


def test_injection_in_scope_and_state_goes_back_as_an_error(t):
    # a scope nobody registered: the error goes back to the client, with
    # the state exactly as sent (RFC 6749 §4.1.2.1), and no code
    failures = []
    for n, p in payloads("integration.store"):
        for field, kw in (("scope", authorize(t, scope=p, state="s1")),
                          ("state", authorize(t, scope="nonexistent.scope",
                                              state=p))):
            if field == "scope" and p.strip() == "integration.store":
                continue      # the real scope, space-separated: not wrong
            r = t.o.request(**kw)
            where = r.headers.get("Location", "")
            got = {k: v[0] for k, v in parse_qs(urlparse(where).query,
                                                keep_blank_values=True)
                   .items()}
            sent_state = kw["params"]["state"]
            if r.status_code == 400 and not where:
                continue      # refused on the page: never redirected
            if len(sent_state) > 2048 and "state" not in got:
                # too long to be sent back (lib/oauth/authorize.c
                # MAX_STATE): refused as such, and not reflected
                sent_state = None
            if (r.status_code != 302 or not where.startswith(CALLBACK)
                    or "X-Injected" in r.headers or "code" in got
                    or got.get("error") not in ("invalid_scope",
                                                "invalid_request")
                    or got.get("state") != sent_state):
                failures.append(f"{field} {n}: {r.status_code} "
                                f"{sorted(got)}")
    assert failures == [], "\n".join(failures)


# ---- logins, install tokens, introspection, revocation -----------------------

def test_injection_in_login_names_and_password_is_refused(t):
    # with bob's own password: an injection that found his row would log
    # in; and bob with injected passwords
    cases = []
    for field, real in (("username", "bob"), ("email", "bob@example.com")):
        for n, p in payloads(real):
            cases.append((f"{field} {n} (JSON)", dict(
                method="POST", path=LOGIN, auth=(t.app_token, ""),
                json={field: p, "password": BOB_PASSWORD})))
            cases.append((f"{field} {n} (form)", dict(
                method="POST", path=LOGIN, auth=(t.app_token, ""),
                data={field: p, "password": BOB_PASSWORD})))
    for n, p in payloads(BOB_PASSWORD):
        cases.append((f"password {n}", dict(
            method="POST", path=LOGIN, auth=(t.app_token, ""),
            json={"username": "bob", "password": p})))
    attack(t, "login", cases, {400: "invalid_request",
                               401: "invalid_credentials"})


def test_injection_in_install_token_endpoint_parameters_is_refused(t):
    dash = {"Authorization": "Token " + t.dashboard}
    cases = [(f"app_key {n}", dict(method="GET", path=INSTALL_TOKEN,
                                   headers=dash,
                                   params={"installid": INSTALL,
                                           "app_key": p}))
             for n, p in payloads("shop")]
    attack(t, "app_key", cases, {400: "invalid_request",
                                 403: "access_denied"})
    # an install id is the device's own name: one that is well-formed is
    # minted for (it is data, not SQL), a malformed one is refused
    failures = []
    for n, p in payloads(INSTALL):
        r = t.o.get(INSTALL_TOKEN, headers=dash, params={"installid": p})
        if r.status_code == 200:
            body = r.json()
            SECRETS.add_from_document(body)
            if body["installid"] != p:
                failures.append(f"installid {n}: minted for another id")
            t.minted_installs = getattr(t, "minted_installs", 0) + 1
            # it works for exactly that install, and for no other
            ok = t.o.get("/api/hello", params={"installid": p,
                                               "token": body["token"]})
            other = t.o.get("/api/hello", params={"installid": INSTALL,
                                                  "token": body["token"]})
            if ok.status_code != 200 or other.status_code != 401:
                failures.append(f"installid {n}: {ok.status_code} for its "
                                f"own id, {other.status_code} for another")
        else:
            check(failures, "installid", n, r, {400: "invalid_request"})
    assert failures == [], "\n".join(failures)


def test_injection_in_introspected_or_revoked_token_changes_nothing(t):
    m2m = (t.m2m["client_id"], t.m2m["client_secret"])
    failures = []
    for n, p in payloads(t.refresh[:12]):
        r = t.o.post(INTROSPECT, auth=m2m, data={"token": p})
        if "\x00" in p:
            check(failures, "introspect", n, r, {400: MALFORMED})
        elif r.status_code != 200 or r.json() != {"active": False}:
            failures.append(f"introspect {n}: {r.status_code} {r.text[:80]}")
        r = t.o.post(REVOKE, auth=m2m, data={"token": p})
        if "\x00" in p:
            check(failures, "revoke", n, r, {400: MALFORMED})
        elif r.status_code != 200 or r.text != "":
            failures.append(f"revoke {n}: {r.status_code} {r.text[:80]}")
    assert failures == [], "\n".join(failures)


# ---- brute force ----------------------------------------------------------------

LIMIT, WINDOW = 5, 4          # ApiAuthFailureLimit COUNT SECONDS
LIMITED = """
<Location /limited>
    AuthType apiauth
    AuthName "limited"
    ApiAuthScheme apikey basic
    ApiAuthProvider dbd
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def limited(servers):
    x = Target()
    x.o = servers.make(start=False, body=LIMITED,
                       extra=f"ApiAuthFailureLimit {LIMIT} {WINDOW}")
    test = x.o.httpd.config_test()
    if test.returncode != 0:
        pytest.fail("the server does not take ApiAuthFailureLimit: "
                    + (test.stderr or test.stdout)[-300:])
    x.o.start()
    x.store = x.o.store
    x.store.app("vault")
    x.key, _ = x.store.key("vault")
    x.client = x.o.client("guessed", "client_credentials",
                          scopes=("integration.order",))
    return x


def from_address(o, address, method, path, headers=None, body=None):
    """A request from `address` (another loopback address: the count is
    per TCP peer, so nothing in the request can choose it); returns
    (status, headers, body)."""
    ctx = ssl.create_default_context(cafile=str(o.httpd.cert))
    conn = http.client.HTTPSConnection("127.0.0.1", o.https_port,
                                       context=ctx, timeout=30,
                                       source_address=(address, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def fresh_window():
    """Waits, if need be, for a counting window (fixed, aligned on
    multiples of WINDOW seconds) with time enough left for a test's
    failures to fall in one."""
    left = WINDOW - time.time() % WINDOW
    if left < 2.5:
        time.sleep(left + 0.1)


def key_from(limited, address, key):
    return from_address(limited.o, address, "GET", "/limited/hello",
                        {"X-API-Key": key})


def retry_after(headers):
    value = headers.get("retry-after", "")
    assert value.isdigit() and 1 <= int(value) <= WINDOW, value
    return int(value)


def test_failures_past_the_limit_are_429_with_retry_after(limited):
    address = "127.0.0.11"
    assert key_from(limited, address, limited.key)[0] == 200
    fresh_window()
    for _ in range(LIMIT):
        assert key_from(limited, address, "wrong-key-123456")[0] == 401
    status, headers, body = key_from(limited, address, "wrong-key-123456")
    assert status == 429, body
    retry_after(headers)


def test_good_credential_from_a_blocked_address_waits_for_the_window(
        limited):
    address = "127.0.0.12"
    # the good key has been seen (and cached) from there before
    assert key_from(limited, address, limited.key)[0] == 200
    fresh_window()
    for _ in range(LIMIT):
        assert key_from(limited, address, "wrong-key-123456")[0] == 401
    status, headers, _ = key_from(limited, address, limited.key)
    assert status == 429
    basic_pair = {"Authorization": "Basic " + b64(limited.key + ":")}
    status, headers, _ = from_address(limited.o, address, "GET",
                                      "/limited/hello", basic_pair)
    assert status == 429
    time.sleep(retry_after(headers) + 0.2)
    assert key_from(limited, address, limited.key)[0] == 200


def test_a_blocked_address_leaves_other_addresses_alone(limited):
    blocked, other = "127.0.0.13", "127.0.0.14"
    fresh_window()
    for _ in range(LIMIT):
        assert key_from(limited, blocked, "wrong-key-123456")[0] == 401
    assert key_from(limited, blocked, limited.key)[0] == 429
    assert key_from(limited, other, limited.key)[0] == 200
    assert key_from(limited, other, "wrong-key-123456")[0] == 401
    assert key_from(limited, other, limited.key)[0] == 200


def test_wrong_client_secrets_at_the_token_endpoint_count_too(limited):
    address = "127.0.0.15"
    c = limited.client
    form = urlencode({"grant_type": "client_credentials"})

    def token(secret):
        return from_address(limited.o, address, "POST", TOKEN, {
            "Content-Type": "application/x-www-form-urlencoded",
            **basic(c["client_id"], secret)}, form)

    assert token(c["client_secret"])[0] == 200
    fresh_window()
    for _ in range(LIMIT):
        assert token("wrong-secret-123456")[0] == 401
    status, headers, body = token(c["client_secret"])
    assert status == 429, body
    retry_after(headers)
    assert json.loads(body)["error"] == "too_many_requests"


# ---- afterwards (this module's last tests) ------------------------------------

def test_store_is_intact_after_the_injections(t):
    after = row_counts(t.store)
    expected = dict(t.counts)
    # the only rows an attack may add: install tokens for well-formed ids
    expected["apiauth_credentials"] += getattr(t, "minted_installs", 0)
    assert after == expected


def test_known_good_credentials_still_work_after_the_injections(t):
    o = t.o
    assert o.get("/api/hello", headers={"X-API-Key": t.key}).status_code \
        == 200
    assert o.get("/api/hello", headers=basic(t.app_id, t.key)).status_code \
        == 200
    assert o.get("/api/hello", headers=basic(t.app_token, t.session)) \
        .status_code == 200
    assert o.get("/api/hello", params={"installid": INSTALL,
                                       "token": t.install}).status_code \
        == 200
    r = o.post(TOKEN, auth=(t.m2m["client_id"], t.m2m["client_secret"]),
               data={"grant_type": "client_credentials"})
    assert r.status_code == 200, r.text
    r = o.post(LOGIN, auth=(t.app_token, ""),
               json={"username": "bob", "password": BOB_PASSWORD})
    assert r.status_code == 201, r.text
    r = o.post(TOKEN, auth=(t.web["client_id"], t.web["client_secret"]),
               data={"grant_type": "refresh_token",
                     "refresh_token": t.refresh})
    assert r.status_code == 200, r.text
