"""The authorization endpoint and its consent page (RFC 6749 §4.1, RFC 7636,
RFC 9207, RFC 9700 §2.1, §4.11; RFC 8252 §7.3), through a real apache2.

Two rules carry most of the weight.  Until the client and its redirect URI
check out, an error is a page for the user and never a redirect: the
endpoint must not be an open redirector.  After that, every answer goes
back to that redirect URI, success or error, with state and iss.  Each
refusal below sits next to the request that succeeds."""
import re
import threading
from urllib.parse import parse_qs, urlparse

import pytest

from harness import htpasswd
from oauth_flows import (ALICE, AUTHORIZE, CALLBACK, TOKEN, authorize_url,
                         consent, consent_fields, pkce_pair, redirect_params,
                         store_sql, unique)

LOOPBACK = "http://127.0.0.1/cb"
OTHER_CALLBACK = "https://client.example/other"

# An authorize endpoint that nobody logs in to: a misconfiguration the
# handler must answer with 500, never with a code for nobody.
UNAUTHENTICATED = """
<Location /open/authorize>
    SetHandler apiauth-authorize
</Location>
"""


class Clients:
    pass


@pytest.fixture(scope="module")
def o(servers):
    # a second scope for the code grant, so that a narrower scope is a
    # request of its own
    return servers.make(body=UNAUTHENTICATED,
                        extra="ApiAuthOAuthScope profile.read "
                              "authorization_code")


@pytest.fixture(scope="module")
def c(o):
    """The clients every test may use; none is changed by a test."""
    k = Clients()
    k.shop = o.client("shop", "authorization_code", "refresh_token",
                      scopes=("integration.store", "integration.order"))
    k.multi = o.client("multi", "authorization_code",
                       redirect_uris=(CALLBACK, OTHER_CALLBACK))
    k.native = o.client("native", "authorization_code", "refresh_token",
                        redirect_uris=(LOOPBACK,), public=True)
    k.robot = o.client("robot", "client_credentials",
                       scopes=("integration.store",))
    k.console = o.client("console", "authorization_code", first_party=True)
    return k


def get_authorize(o, path=AUTHORIZE, auth=ALICE, **params):
    return o.get(path, params=params, auth=auth)


def assert_error_page(r):
    """Refused on a page: 400 HTML, and nothing that sends the browser on."""
    assert r.status_code == 400, (r.status_code, r.headers, r.text)
    assert "Location" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")
    assert "code=" not in r.text
    return r


def assert_redirected_error(o, r, redirect_uri, error, state):
    """Refused back at the client: error, state and iss (RFC 9207), no
    code; the redirect goes to the registered URI and nowhere else."""
    assert r.status_code == 302, (r.status_code, r.text)
    location = r.headers["Location"]
    assert location.split("?")[0] == redirect_uri
    got = redirect_params(location)
    assert got["error"] == error, got
    assert got["state"] == state
    assert got["iss"] == o.issuer
    assert "code" not in got
    return got


def exchange(o, client, code, **data):
    """The client's token request for `code` (client_secret_basic, or
    client_id alone for a public client)."""
    form = {"grant_type": "authorization_code", "code": code, **data}
    if client["client_secret"] is None:
        form["client_id"] = client["client_id"]
        return o.post(TOKEN, data=form)
    return o.post(TOKEN, data=form,
                  auth=(client["client_id"], client["client_secret"]))


def approved(o, **params):
    """alice approves the request of `params`; returns the 303's query."""
    page, answer = consent(o, authorize_url(o, response_type="code",
                                            **params))
    assert page.status_code == 200, (page.status_code, page.text)
    assert answer.status_code == 303, (answer.status_code, answer.text)
    return answer.headers["Location"], redirect_params(
        answer.headers["Location"])


# ---- who asks, and where the answer would go: a page, never a redirect ---

def test_registered_client_and_redirect_uri_get_the_consent_page(o, c):
    r = get_authorize(o, response_type="code", client_id=c.shop["client_id"],
                      redirect_uri=CALLBACK, state="s1")
    assert r.status_code == 200, r.text
    assert "Location" not in r.headers


def test_unknown_client_id_is_an_error_page(o, c):
    assert_error_page(get_authorize(o, response_type="code",
                                    client_id="cli_doesnotexist",
                                    redirect_uri=CALLBACK, state="s1"))


def test_missing_client_id_is_an_error_page(o, c):
    assert_error_page(get_authorize(o, response_type="code",
                                    redirect_uri=CALLBACK, state="s1"))


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/cb",                  # another host
    "https://client.example/cb/../evil",        # another path
    "https://client.example/cbx",               # a longer path
    "https://client.example/cb#frag",           # a fragment
    "http://client.example/cb",                 # http instead of https
    "https://client.example/cb?x=1",            # another query
    "https://client.example:8443/cb",           # another port
], ids=["other-host", "dot-dot-path", "longer-path", "fragment", "http",
        "query", "port"])
def test_unregistered_redirect_uri_is_an_error_page_never_a_redirect(
        o, c, redirect_uri):
    r = assert_error_page(get_authorize(
        o, response_type="code", client_id=c.shop["client_id"],
        redirect_uri=redirect_uri, state="s1"))
    # not even a link to follow
    assert redirect_uri not in r.text
    assert "Refresh" not in r.headers


def test_unregistered_redirect_uri_is_a_page_even_with_other_errors(o, c):
    # an unknown response type must not turn the bad URI into a redirect
    assert_error_page(get_authorize(
        o, response_type="token", client_id=c.shop["client_id"],
        redirect_uri="https://evil.example/cb", state="s1"))


@pytest.mark.parametrize("repeated", ["client_id", "redirect_uri"])
def test_repeated_client_id_or_redirect_uri_is_an_error_page(o, c,
                                                             repeated):
    # RFC 6749 §3.1: parameters must not repeat; which one would count is
    # exactly what an attacker would like to choose
    params = {"response_type": "code", "client_id": c.shop["client_id"],
              "redirect_uri": CALLBACK, "state": "s1"}
    params[repeated] = [params[repeated], {
        "client_id": c.multi["client_id"],
        "redirect_uri": "https://evil.example/cb"}[repeated]]
    assert_error_page(o.get(AUTHORIZE, params=params, auth=ALICE))


def test_client_with_several_redirect_uris_must_name_one(o, c):
    assert_error_page(get_authorize(o, response_type="code",
                                    client_id=c.multi["client_id"],
                                    state="s1"))
    for uri in (CALLBACK, OTHER_CALLBACK):
        r = get_authorize(o, response_type="code",
                          client_id=c.multi["client_id"], redirect_uri=uri)
        assert r.status_code == 200, (uri, r.text)


def test_client_with_one_redirect_uri_may_leave_it_out_of_both_requests(
        o, c):
    location, got = approved(o, client_id=c.shop["client_id"], state="s2")
    assert location.startswith(CALLBACK + "?")
    assert got["state"] == "s2" and got["iss"] == o.issuer
    r = exchange(o, c.shop, got["code"])
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "integration.store"


def test_redirect_uri_sent_at_authorize_must_be_sent_again(o, c):
    _, got = approved(o, client_id=c.shop["client_id"], redirect_uri=CALLBACK)
    r = exchange(o, c.shop, got["code"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"

    _, got = approved(o, client_id=c.shop["client_id"], redirect_uri=CALLBACK)
    r = exchange(o, c.shop, got["code"], redirect_uri=CALLBACK)
    assert r.status_code == 200, r.text


def test_redirect_uri_at_token_must_be_the_one_of_the_authorize_request(
        o, c):
    # both are registered to the client: still not the same request
    _, got = approved(o, client_id=c.multi["client_id"],
                      redirect_uri=OTHER_CALLBACK)
    r = exchange(o, c.multi, got["code"], redirect_uri=CALLBACK)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"

    _, got = approved(o, client_id=c.multi["client_id"],
                      redirect_uri=OTHER_CALLBACK)
    r = exchange(o, c.multi, got["code"], redirect_uri=OTHER_CALLBACK)
    assert r.status_code == 200, r.text


def test_loopback_redirect_uri_may_use_any_port(o, c):
    verifier, challenge = pkce_pair()
    uri = "http://127.0.0.1:53111/cb"
    location, got = approved(o, client_id=c.native["client_id"],
                             redirect_uri=uri, code_challenge=challenge,
                             code_challenge_method="S256", state="n1")
    assert location.startswith(uri + "?")
    assert got["iss"] == o.issuer and got["state"] == "n1"
    r = exchange(o, c.native, got["code"], redirect_uri=uri,
                 code_verifier=verifier)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("redirect_uri", [
    "http://localhost:53111/cb",       # a name, not the loopback address
    "http://127.0.0.1:53111/other",    # the port is free, the path is not
    "https://127.0.0.1:53111/cb",      # the scheme is not
    "http://127.0.0.2:53111/cb",
    "http://127.0.0.1.evil.example:53111/cb",
    "http://127.0.0.1:53111@evil.example/cb",
    "http://127.0.0.1:99999/cb",       # no socket has this port
    "http://127.0.0.1:0/cb",
], ids=["localhost", "other-path", "https", "other-address", "suffix-host",
        "userinfo", "port-99999", "port-0"])
def test_loopback_port_freedom_covers_nothing_else(o, c, redirect_uri):
    _, challenge = pkce_pair()
    assert_error_page(get_authorize(
        o, response_type="code", client_id=c.native["client_id"],
        redirect_uri=redirect_uri, code_challenge=challenge,
        code_challenge_method="S256", state="n1"))


# ---- after that: every error goes back to the client ---------------------

_, CHALLENGE = pkce_pair()


@pytest.mark.parametrize("params,error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "integration.unknown"}, "invalid_scope"),
    # registered, allowed to the client, but only for client_credentials
    ({"scope": "integration.order"}, "invalid_scope"),
    ({"scope": "integration.store integration.order"}, "invalid_scope"),
    ({"code_challenge": CHALLENGE, "code_challenge_method": "plain"},
     "invalid_request"),
    ({"code_challenge": CHALLENGE}, "invalid_request"),
    ({"code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge": "too-short", "code_challenge_method": "S256"},
     "invalid_request"),
    ({"code_challenge": CHALLENGE[:-1] + "=",
      "code_challenge_method": "S256"}, "invalid_request"),
], ids=["response-type-token", "response-type-missing", "unknown-scope",
        "client-credentials-scope", "one-scope-not-allowed", "pkce-plain",
        "challenge-without-method", "method-without-challenge",
        "short-challenge", "padded-challenge"])
def test_error_after_redirect_check_goes_back_with_state_and_iss(
        o, c, params, error):
    query = {"response_type": "code", "client_id": c.shop["client_id"],
             "redirect_uri": CALLBACK, "state": "st-1", **params}
    r = get_authorize(o, **{k: v for k, v in query.items() if v is not None})
    assert_redirected_error(o, r, CALLBACK, error, "st-1")


def test_confidential_client_with_s256_challenge_gets_the_consent_page(o, c):
    r = get_authorize(o, response_type="code", client_id=c.shop["client_id"],
                      redirect_uri=CALLBACK, code_challenge=CHALLENGE,
                      code_challenge_method="S256")
    assert r.status_code == 200, r.text


def test_error_goes_back_when_redirect_uri_was_left_out(o, c):
    r = get_authorize(o, response_type="token",
                      client_id=c.shop["client_id"], state="st-2")
    assert_redirected_error(o, r, CALLBACK, "unsupported_response_type",
                            "st-2")


def test_client_without_authorization_code_grant_is_unauthorized(o, c):
    r = get_authorize(o, response_type="code",
                      client_id=c.robot["client_id"], redirect_uri=CALLBACK,
                      state="st-3")
    assert_redirected_error(o, r, CALLBACK, "unauthorized_client", "st-3")


def test_public_client_without_pkce_is_refused_with_it_accepted(o, c):
    uri = "http://127.0.0.1:40001/cb"
    r = get_authorize(o, response_type="code",
                      client_id=c.native["client_id"], redirect_uri=uri,
                      state="st-4")
    assert_redirected_error(o, r, uri, "invalid_request", "st-4")
    r = get_authorize(o, response_type="code",
                      client_id=c.native["client_id"], redirect_uri=uri,
                      state="st-4", code_challenge=CHALLENGE,
                      code_challenge_method="S256")
    assert r.status_code == 200, r.text


def test_require_pkce_all_refuses_confidential_client_without_challenge(
        oauth_factory):
    strict = oauth_factory(extra="ApiAuthOAuthRequirePKCE all")
    shop = strict.client("shop", "authorization_code")
    r = get_authorize(strict, response_type="code",
                      client_id=shop["client_id"], redirect_uri=CALLBACK,
                      state="st-5")
    assert_redirected_error(strict, r, CALLBACK, "invalid_request", "st-5")
    verifier, challenge = pkce_pair()
    location, got = approved(strict, client_id=shop["client_id"],
                             redirect_uri=CALLBACK, code_challenge=challenge,
                             code_challenge_method="S256")
    r = exchange(strict, shop, got["code"], redirect_uri=CALLBACK,
                 code_verifier=verifier)
    assert r.status_code == 200, r.text


# ---- state is data, not markup or headers ---------------------------------

HOSTILE_STATE = 'x\r\nSet-Cookie: stolen=1\r\n\r\n<script>"&\'</script> %0d'


def test_hostile_state_is_url_encoded_in_an_error_redirect(o, c):
    r = get_authorize(o, response_type="token",
                      client_id=c.shop["client_id"], redirect_uri=CALLBACK,
                      state=HOSTILE_STATE)
    assert r.status_code == 302
    assert "Set-Cookie" not in r.headers
    location = r.headers["Location"]
    assert not re.search(r'[\r\n"<> \']', location), location
    assert "%0D%0A" in location
    assert parse_qs(urlparse(location).query)["state"] == [HOSTILE_STATE]


def test_hostile_state_survives_the_consent_page_and_the_approval(o, c):
    page, answer = consent(o, authorize_url(
        o, response_type="code", client_id=c.shop["client_id"],
        redirect_uri=CALLBACK, state=HOSTILE_STATE))
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert consent_fields(page.text)["state"] == HOSTILE_STATE
    assert answer.status_code == 303
    assert "Set-Cookie" not in answer.headers
    location = answer.headers["Location"]
    assert not re.search(r'[\r\n"<> \']', location), location
    got = parse_qs(urlparse(location).query)
    assert got["state"] == [HOSTILE_STATE]
    assert "code" in got


# ---- the consent page ------------------------------------------------------

def test_consent_page_names_the_client_and_the_scope_in_words(o, c):
    r = get_authorize(o, response_type="code", client_id=c.shop["client_id"],
                      redirect_uri=CALLBACK, state="s1")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "shop" in r.text
    assert "Read and change your store" in r.text
    assert "alice" in r.text


def test_consent_page_cannot_be_framed_or_cached(o, c):
    r = get_authorize(o, response_type="code", client_id=c.shop["client_id"],
                      redirect_uri=CALLBACK)
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "no-store" in r.headers["Cache-Control"]


def test_consent_page_escapes_the_client_name(o, c):
    name = "Tom&Jerry<b>" + unique("x")
    evil = o.client(name, "authorization_code")
    r = get_authorize(o, response_type="code", client_id=evil["client_id"],
                      redirect_uri=CALLBACK)
    assert r.status_code == 200, r.text
    assert "Tom&amp;Jerry&lt;b&gt;" in r.text
    assert "Jerry<b>" not in r.text


def test_approval_redirects_303_with_code_state_and_iss(o, c):
    page, answer = consent(o, authorize_url(
        o, response_type="code", client_id=c.shop["client_id"],
        redirect_uri=CALLBACK, state="ok-1"))
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith(CALLBACK + "?")
    got = redirect_params(answer.headers["Location"])
    assert got["state"] == "ok-1"
    assert got["iss"] == o.issuer
    assert "error" not in got
    r = exchange(o, c.shop, got["code"], redirect_uri=CALLBACK)
    assert r.status_code == 200, r.text


def test_denial_redirects_303_with_access_denied(o, c):
    page, answer = consent(o, authorize_url(
        o, response_type="code", client_id=c.shop["client_id"],
        redirect_uri=CALLBACK, state="no-1"), decision="deny")
    assert answer.status_code == 303
    got = redirect_params(answer.headers["Location"])
    assert got["error"] == "access_denied"
    assert got["state"] == "no-1"
    assert got["iss"] == o.issuer
    assert "code" not in got


def consent_form(o, client_id, user=ALICE):
    r = get_authorize(o, auth=user, response_type="code",
                      client_id=client_id, redirect_uri=CALLBACK,
                      state="csrf-1")
    assert r.status_code == 200, r.text
    fields = consent_fields(r.text)
    fields["decision"] = "approve"
    return fields


def post_consent(o, fields, user=ALICE):
    return o.post(AUTHORIZE, data=fields, auth=user)


def assert_forbidden_page(r):
    assert r.status_code == 403, (r.status_code, r.text)
    assert "Location" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")


def test_consent_post_without_csrf_token_is_forbidden(o, c):
    fields = consent_form(o, c.shop["client_id"])
    del fields["csrf"]
    assert_forbidden_page(post_consent(o, fields))


def forged_variants(token):
    when, _, mac = token.partition(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    return {
        "garbage": "forged",
        "empty-mac": when + ".",
        "altered-mac": when + "." + flipped,
        "later-time": str(int(when) + 1) + "." + mac,
        "mac-only": mac,
    }


@pytest.mark.parametrize("variant", ["garbage", "empty-mac", "altered-mac",
                                     "later-time", "mac-only"])
def test_consent_post_with_forged_csrf_token_is_forbidden(o, c, variant):
    fields = consent_form(o, c.shop["client_id"])
    fields["csrf"] = forged_variants(fields["csrf"])[variant]
    assert_forbidden_page(post_consent(o, fields))


def test_consent_post_with_another_clients_csrf_token_is_forbidden(o, c):
    fields = consent_form(o, c.shop["client_id"])
    fields["csrf"] = consent_form(o, c.multi["client_id"])["csrf"]
    assert_forbidden_page(post_consent(o, fields))


def test_consent_post_with_another_users_csrf_token_is_forbidden(o, c):
    bob = ("bob", "builder")
    htpasswd(o.users, *bob)
    bobs = consent_form(o, c.shop["client_id"], user=bob)
    alices = consent_form(o, c.shop["client_id"])
    # each user's own form works...
    r = post_consent(o, dict(bobs), user=bob)
    assert r.status_code == 303 and "code" in redirect_params(
        r.headers["Location"])
    # ...but not with the other's token
    alices["csrf"] = bobs["csrf"]
    assert_forbidden_page(post_consent(o, alices))


def test_a_consent_form_is_answered_once(o, c):
    """One form, one answer: posted again (a second tab, a replay), it is
    refused -- whether the first answer was Allow or Deny."""
    for first, second in (("approve", "approve"), ("approve", "deny"),
                          ("deny", "approve")):
        fields = consent_form(o, c.shop["client_id"])
        fields["decision"] = first
        r = post_consent(o, fields)
        assert r.status_code == 303, r.text
        fields["decision"] = second
        r = post_consent(o, fields)
        assert_forbidden_page(r)
        assert "answered already" in r.text
    # a new form of the same request is a new answer
    r = post_consent(o, consent_form(o, c.shop["client_id"]))
    assert r.status_code == 303, r.text


@pytest.fixture(scope="module")
def twins(o):
    """Two public clients of the same loopback redirect URI, that may ask
    for two scopes: a form of one is, changed, a valid request of the
    other or of a narrower scope -- only its token can tell them apart."""
    return [o.client(unique(name), "authorization_code",
                     redirect_uris=(LOOPBACK,), public=True,
                     scopes=("integration.store", "profile.read"))
            for name in ("twin-a", "twin-b")]


@pytest.mark.parametrize("change", [
    {"redirect_uri": "http://127.0.0.1:40001/cb"},   # another loopback port
    {"state": "bind-2"},
    {"scope": "integration.store"},                  # narrower, still valid
    {"code_challenge": pkce_pair()[1]},
    {"client_id": "twin"},                           # the other twin
], ids=["loopback-port", "state", "scope", "challenge", "client"])
def test_a_consent_form_answers_only_its_own_request(o, twins, change):
    """The form's token is bound to the whole authorization request: the
    same form with any part changed -- each change a valid request by
    itself -- is refused, and the form as it was issued still works."""
    _, challenge = pkce_pair()
    r = get_authorize(o, response_type="code",
                      client_id=twins[0]["client_id"],
                      redirect_uri="http://127.0.0.1:40000/cb",
                      scope="integration.store profile.read",
                      code_challenge=challenge, code_challenge_method="S256",
                      state="bind-1")
    assert r.status_code == 200, r.text
    fields = consent_fields(r.text)
    fields["decision"] = "approve"
    forged = dict(fields)
    for k, v in change.items():
        forged[k] = twins[1]["client_id"] if v == "twin" else v
    r = post_consent(o, forged)
    assert_forbidden_page(r)
    assert "was changed" in r.text
    r = post_consent(o, fields)
    assert r.status_code == 303, r.text
    assert r.headers["Location"].startswith("http://127.0.0.1:40000/cb?")
    assert "code" in redirect_params(r.headers["Location"])


def test_one_form_posted_at_once_from_many_tabs_answers_once(o, c):
    fields = consent_form(o, c.shop["client_id"])
    answers = []

    def post():
        answers.append(post_consent(o, dict(fields)).status_code)
    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == [303] + [403] * 7, answers


def test_a_denial_when_the_store_cannot_record_it_is_a_503_page(servers):
    o = servers.make()
    shop = o.client("shop", "authorization_code")
    fields = consent_form(o, shop["client_id"])
    fields["decision"] = "deny"
    store_sql(o, "DROP TABLE apiauth_consents")
    r = post_consent(o, fields)
    assert r.status_code == 503, r.text
    assert "Location" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")


def test_consent_page_shows_the_display_name_and_where_the_user_goes(o, c):
    shop = o.client(unique("acme"), "authorization_code",
                    display_name="Acme Shop & Café")
    r = get_authorize(o, response_type="code", client_id=shop["client_id"],
                      redirect_uri=CALLBACK)
    assert r.status_code == 200, r.text
    assert "Acme Shop &amp; Café wants access" in r.text
    assert "<b>client.example</b>" in r.text
    # a page for a phone as much as for a desktop
    assert '<meta name="viewport" content="width=device-width' in r.text
    # no form-action: browsers apply it to the redirects after the form,
    # which go to the client (test_browser.py); no script, no framing
    csp = r.headers["Content-Security-Policy"]
    assert "form-action" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def test_consent_page_names_a_loopback_client_with_its_port(o, c):
    r = get_authorize(o, **{k: v for k, v in native_form_params(
        c, 53123).items()})
    assert r.status_code == 200, r.text
    assert "<b>127.0.0.1:53123</b>" in r.text


def native_form_params(c, port):
    _, challenge = pkce_pair()
    return {"response_type": "code", "client_id": c.native["client_id"],
            "redirect_uri": f"http://127.0.0.1:{port}/cb",
            "code_challenge": challenge, "code_challenge_method": "S256"}


def test_first_party_client_skips_the_consent_page(o, c):
    r = get_authorize(o, response_type="code",
                      client_id=c.console["client_id"], redirect_uri=CALLBACK,
                      state="fp-1")
    assert r.status_code == 302, r.text
    got = redirect_params(r.headers["Location"])
    assert got["state"] == "fp-1" and got["iss"] == o.issuer
    r = exchange(o, c.console, got["code"], redirect_uri=CALLBACK)
    assert r.status_code == 200, r.text


def test_authorize_without_an_authenticated_user_is_500_not_a_code(o, c):
    r = get_authorize(o, path="/open/authorize", auth=None,
                      response_type="code",
                      client_id=c.console["client_id"], redirect_uri=CALLBACK)
    assert r.status_code == 500
    assert "Location" not in r.headers
    assert "code=" not in r.text
    # the same request where the owner logs in is answered with a code
    r = get_authorize(o, response_type="code",
                      client_id=c.console["client_id"], redirect_uri=CALLBACK)
    assert r.status_code == 302


@pytest.mark.parametrize("user", ["app_mallory", "cli_mallory", "shop-id"],
                         ids=["app-prefix", "cli-prefix", "client-id"])
def test_owner_whose_name_would_pass_for_an_app_or_client_gets_no_code(
        o, c, user):
    # a token's sub is the owner: named like an app, a client, or the very
    # client asking (whose own tokens have sub = client_id), it would pass
    # for one of them at every resource
    name = c.console["client_id"] if user == "shop-id" else user
    htpasswd(o.users, name, "pw")
    r = get_authorize(o, auth=(name, "pw"), response_type="code",
                      client_id=c.console["client_id"], redirect_uri=CALLBACK)
    assert r.status_code == 403, (r.status_code, r.headers, r.text)
    assert "Location" not in r.headers
    r = get_authorize(o, response_type="code",
                      client_id=c.console["client_id"], redirect_uri=CALLBACK)
    assert r.status_code == 302


def test_authorize_needs_the_owner_to_log_in(o, c):
    r = get_authorize(o, auth=None, response_type="code",
                      client_id=c.console["client_id"], redirect_uri=CALLBACK)
    assert r.status_code == 401
    assert "Location" not in r.headers
    r = get_authorize(o, auth=("alice", "wrong"), response_type="code",
                      client_id=c.console["client_id"], redirect_uri=CALLBACK)
    assert r.status_code == 401


# ---- what a client learns from the metadata document (RFC 8414) -----------

def test_metadata_lists_issuer_endpoints_pkce_and_iss_support(o):
    r = o.get("/.well-known/oauth-authorization-server")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    m = r.json()
    assert m["issuer"] == o.issuer
    assert m["authorization_endpoint"] == o.issuer + AUTHORIZE
    assert m["token_endpoint"] == o.issuer + "/auth/v2/token"
    assert m["jwks_uri"] == o.issuer + "/.well-known/jwks.json"
    assert m["introspection_endpoint"] == o.issuer + "/auth/v2/introspect"
    assert m["revocation_endpoint"] == o.issuer + "/auth/v2/revoke"
    assert m["code_challenge_methods_supported"] == ["S256"]
    assert m["authorization_response_iss_parameter_supported"] is True
    assert set(m["scopes_supported"]) == {
        "integration.store", "integration.order", "integration.inventory",
        "profile.read"}
    assert m["response_types_supported"] == ["code"]
    assert set(m["grant_types_supported"]) == {
        "authorization_code", "client_credentials", "refresh_token"}


def test_head_never_issues_a_code(tls):
    """HEAD is GET without a body in httpd; for a first-party client a GET
    issues a code, so HEAD is refused rather than allowed to do that."""
    from harness import OAuthServer
    o = OAuthServer(tls[0], tls[1]).start()
    try:
        c = o.client("first", "authorization_code", first_party=True)
        s = o.session()
        s.auth = ("alice", "wonderland")
        params = {"response_type": "code", "client_id": c["client_id"],
                  "redirect_uri": "https://client.example/cb",
                  "scope": "integration.store"}
        r = s.head(o.url("/auth/v2/authorize"), params=params,
                   allow_redirects=False)
        assert r.status_code == 405
        assert "Location" not in r.headers
        assert o.store.sql("SELECT COUNT(*) FROM apiauth_codes") == "0"
        r = s.get(o.url("/auth/v2/authorize"), params=params,
                  allow_redirects=False)
        assert r.status_code == 302
        assert "code=" in r.headers["Location"]
    finally:
        o.stop()


# ---- the operator's page (ApiAuthOAuthConsentTemplate) --------------------

BRANDED = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Example Corp</title></head><body class="brand">
<p id="who">{{user}} / {{client_name}} ({{client_id}}) to {{redirect_host}}</p>
<ul id="scopes">{{scopes}}</ul><p id="issuer">{{issuer}}</p>
<form method="post" action="{{action}}">{{fields}}
<button name="decision" value="approve">Yes</button>
<button name="decision" value="deny">No</button></form></body></html>
"""


def test_an_operator_template_brands_the_page(servers, tmp_path):
    page = tmp_path / "consent.html"
    page.write_text(BRANDED)
    page.chmod(0o644)
    tmp_path.chmod(0o755)
    o = servers.make(extra=f'ApiAuthOAuthConsentTemplate "{page}"')
    shop = o.client("shop", "authorization_code",
                    display_name="<script>x</script>")
    r = get_authorize(o, response_type="code", client_id=shop["client_id"],
                      redirect_uri=CALLBACK, state="t1")
    assert r.status_code == 200, r.text
    assert 'class="brand"' in r.text
    # every value is escaped, the template itself is not
    assert (f'<p id="who">alice / &lt;script&gt;x&lt;/script&gt; '
            f'({shop["client_id"]}) to client.example</p>') in r.text
    assert "<li>Read and change your store <small>(integration.store)" \
        in r.text
    assert f'<p id="issuer">{o.issuer}</p>' in r.text
    # and the form it holds works
    fields = consent_fields(r.text)
    fields["decision"] = "approve"
    answer = post_consent(o, fields)
    assert answer.status_code == 303, answer.text
    assert "code" in redirect_params(answer.headers["Location"])


def test_a_template_that_cannot_be_read_stops_httpd(servers, tmp_path):
    big = tmp_path / "big.html"
    big.write_text(BRANDED + "<!--" + "x" * (256 * 1024) + "-->")
    big.chmod(0o644)
    for path, says in ((tmp_path / "absent.html", "cannot read"),
                       (big, "larger than 256 KiB")):
        o = servers.make(start=False,
                         extra=f'ApiAuthOAuthConsentTemplate "{path}"')
        test = o.httpd.config_test()
        assert test.returncode != 0
        assert says in test.stderr, test.stderr


@pytest.mark.parametrize("text, says", [
    (BRANDED.replace("{{fields}}", ""), "needs {{fields}}"),
    (BRANDED.replace("{{issuer}}", "{{issuer_name}}"),
     "unknown placeholder {{issuer_name}}"),
    (BRANDED.replace("{{user}}", "{{ user }}"), "starts no placeholder"),
], ids=["no-fields", "unknown", "malformed"])
def test_a_broken_template_stops_httpd(servers, tmp_path, text, says):
    page = tmp_path / "consent.html"
    page.write_text(text)
    page.chmod(0o644)
    o = servers.make(start=False,
                     extra=f'ApiAuthOAuthConsentTemplate "{page}"')
    test = o.httpd.config_test()
    assert test.returncode != 0
    assert "ApiAuthOAuthConsentTemplate" in test.stderr
    assert says in test.stderr, test.stderr
