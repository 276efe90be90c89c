"""conf-examples/form-login.conf: the resource owner signs in on a page
(httpd's own mod_auth_form, the session in an encrypted cookie), not in a
Basic dialog, and then meets the consent page.  Served as shipped, in
place of the Basic login of taptouch.conf.

A wrong password is a 401 with the login page again, and counts towards
ApiAuthFailureLimit: past the limit the address gets 429 before any
password is checked, the right one included.  A user refused by a Require
line after signing in has not failed a login, and is not counted."""
import json
from urllib.parse import urlparse

import pytest
import requests

from examples import ExampleSite, make_named_files
from oauth_flows import (CALLBACK, authorize_url, consent_fields,
                         redirect_params)
from test_failure_limit import from_address

LIMIT = 3
MODULES = ("oauth", "auth_form", "session", "session_cookie",
           "session_crypto", "request")


def without_basic_login(taptouch):
    """taptouch.conf less its <Location /auth/v2/authorize>, which
    form-login.conf replaces."""
    start = taptouch.index("<Location /auth/v2/authorize>")
    end = taptouch.index("</Location>", start) + len("</Location>")
    return taptouch[:start] + taptouch[end:]


FORBIDDEN_TO_ALICE = """
<Location /auth/v2/bob-only>
    AuthType form
    AuthName "Taptouch login"
    AuthFormProvider file
    AuthUserFile {users}
    Session On
    SessionCookieName apiauth_login path=/auth/v2/;Secure;HttpOnly
    SessionCryptoPassphraseFile {key}
    Require user bob
</Location>
"""


@pytest.fixture(scope="module")
def site(tls):
    s = ExampleSite("apiauth-form-login-")
    make_named_files(s.dir)
    body = (without_basic_login(s.example("taptouch.conf"))
            + s.example("form-login.conf")
            + FORBIDDEN_TO_ALICE.format(users=s.dir / "etc" / "users",
                                        key=s.dir / "etc" / "session-key"))
    s.serve(tls, body, modules=MODULES,
            extra_global=f"ApiAuthFailureLimit {LIMIT} 60")
    s.shop = json.loads(s.store.out(
        "client", "create", "shop", "--grant", "authorization_code",
        "--redirect-uri", CALLBACK, "--scope", "integration.store",
        "--display-name", "Shop", json=True))
    yield s
    s.remove()


def authorize(site, **more):
    return authorize_url(site, response_type="code",
                         client_id=site.shop["client_id"],
                         redirect_uri=CALLBACK, state="form-1", **more)


def test_the_login_is_a_page_that_leads_to_the_consent_page(site):
    s = site.session()
    url = authorize(site)
    r = s.get(url, allow_redirects=False)
    # a page, not a Basic dialog: no WWW-Authenticate: Basic
    assert r.status_code == 401, r.text
    assert "Basic" not in r.headers.get("WWW-Authenticate", "")
    assert 'name="httpd_password"' in r.text
    assert r.headers["X-Frame-Options"] == "DENY"
    parsed = urlparse(url)
    back = parsed.path + "?" + parsed.query
    # the form posts to the URL the browser shows, and is sent back there
    r = s.post(url, data={"httpd_username": "alice",
                          "httpd_password": "wonderland"},
               allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text)
    assert r.headers["Location"] == back
    assert "apiauth_login" in s.cookies.get_dict()
    page = s.get(site.url(back), allow_redirects=False)
    assert page.status_code == 200, page.text
    assert "Shop wants access" in page.text
    fields = consent_fields(page.text)
    fields["decision"] = "approve"
    answer = s.post(site.url("/auth/v2/authorize"), data=fields,
                    allow_redirects=False)
    assert answer.status_code == 303, answer.text
    got = redirect_params(answer.headers["Location"])
    token = requests.post(site.url("/auth/v2/token"), verify=str(site.cert),
                          auth=(site.shop["client_id"],
                                site.shop["client_secret"]),
                          data={"grant_type": "authorization_code",
                                "code": got["code"],
                                "redirect_uri": CALLBACK})
    assert token.status_code == 200, token.text


def form_post(site, source, path, user, password):
    body = f"httpd_username={user}&httpd_password={password}"
    return from_address(site.httpd, source, "POST", path,
                        {"Content-Type": "application/x-www-form-urlencoded"},
                        body)


def test_wrong_passwords_count_and_end_in_429(site):
    path = urlparse(authorize(site))
    path = path.path + "?" + path.query
    for _ in range(LIMIT):
        status, _, body = form_post(site, "127.0.0.21", path, "alice",
                                    "not-her-password")
        assert status == 401
        assert b'name="httpd_password"' in body    # the page again
    # past the limit, even the right password is not checked
    status, headers, _ = form_post(site, "127.0.0.21", path, "alice",
                                   "wonderland")
    assert status == 429
    assert 0 < int(headers["Retry-After"]) <= 60
    # another address signs in as before
    status, headers, _ = form_post(site, "127.0.0.22", path, "alice",
                                   "wonderland")
    assert status == 302, status


def test_a_user_refused_by_require_has_not_failed_a_login(site):
    """alice signs in, then is refused by Require user bob, again and
    again: no login failed, so nothing is counted."""
    for _ in range(LIMIT + 2):
        status, _, _ = form_post(site, "127.0.0.23", "/auth/v2/bob-only",
                                 "alice", "wonderland")
        assert status == 401
    status, _, _ = form_post(site, "127.0.0.23", "/auth/v2/bob-only",
                             "bob", "wrong")
    assert status == 401      # a real failure: counted, not yet over
