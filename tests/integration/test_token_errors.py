"""Every error of the token endpoint (RFC 6749 §5.2) as a client meets it
through httpd: the status, the exact JSON body, Cache-Control: no-store,
and for invalid_client a 401 with a Basic challenge.  Each refusal is
preceded by the request that succeeds, so that what is refused is the
one thing changed; after every test the server still answers and has never
answered 5xx (the store-down tests use servers of their own).

The module shares one server, with a scope only the code flow may ask for
(profile.read) and ApiAuthOAuthMaxBody 1024."""
import base64
import sqlite3
import subprocess
import time

import pytest

from backends import DBD
from harness import Store, give_to_server, make_workdir
from oauth_flows import CALLBACK, TOKEN, code_for, pkce_pair, store_sql, unique

EXTRA = """
ApiAuthOAuthScope profile.read authorization_code
ApiAuthOAuthMaxBody 1024
"""
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def o(servers):
    return servers.make(extra=EXTRA)


@pytest.fixture(autouse=True)
def never_5xx(request):
    """After each test of the shared server: it still serves, and no
    request of the test got a 5xx."""
    if "o" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("o")
    before = server.access_log().splitlines()
    probes = sum("/public/hello" in line for line in before)
    yield
    assert server.is_serving()
    # httpd logs a request once answered: wait for the probe's own line,
    # by then those of the test are written too
    deadline = time.monotonic() + 5
    while True:
        lines = server.access_log().splitlines()
        if (sum("/public/hello" in line for line in lines) > probes
                or time.monotonic() > deadline):
            break
        time.sleep(0.05)
    for line in lines[len(before):]:
        status = line.split('" ', 1)[1].split()[0]
        assert not status.startswith("5"), line


@pytest.fixture
def web(o):
    """A confidential client of the code flow, that may refresh."""
    return o.client(unique("web"), "authorization_code", "refresh_token",
                    scopes=("integration.store", "profile.read"))


@pytest.fixture
def m2m(o):
    """A confidential client of client_credentials."""
    return o.client(unique("m2m"), "client_credentials",
                    scopes=("integration.order",))


@pytest.fixture
def spa(o):
    """A public client (PKCE, no secret) of the code flow."""
    return o.client(unique("spa"), "authorization_code", "refresh_token",
                    public=True)


def basic(client, secret=None):
    return (client["client_id"],
            client["client_secret"] if secret is None else secret)


def token(o, data=None, auth=None, **kw):
    return o.post(TOKEN, data=data, auth=auth, **kw)


def assert_ok(r, scope=None):
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    if scope is not None:
        assert r.json()["scope"] == scope
    return r.json()


def assert_error(r, status, error, description):
    """RFC 6749 §5.2: this status, exactly this JSON body, not cached."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.json() == {"error": error, "error_description": description}
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith("Basic realm=")


def code_exchange(client, code, **more):
    return {"grant_type": "authorization_code", "code": code,
            "redirect_uri": CALLBACK, **more}


def public_tokens(o, client):
    """The first tokens of a public client: the code flow with PKCE."""
    verifier, challenge = pkce_pair()
    code = code_for(o, client["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    return assert_ok(token(o, code_exchange(client, code,
                                            client_id=client["client_id"],
                                            code_verifier=verifier)))


def multipart(*fields, boundary="XyZzYboundary"):
    """A multipart/form-data body built by hand, for the ones no client
    library would build."""
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; "
                   f'name="{n}"\r\n\r\n{v}\r\n' for n, v in fields)
    return body + f"--{boundary}--\r\n", \
        f"multipart/form-data; boundary={boundary}"


# ---- invalid_request -------------------------------------------------------

def test_missing_grant_type_is_invalid_request(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    assert_error(token(o, {"scope": "integration.order"}, basic(m2m)),
                 400, "invalid_request", "grant_type is required")


def test_empty_grant_type_counts_as_absent(o, m2m):
    """RFC 6749 §3.1: a parameter sent without a value is omitted."""
    assert_error(token(o, "grant_type=", basic(m2m),
                       headers={"Content-Type": FORM}),
                 400, "invalid_request", "grant_type is required")
    assert_error(token(o, auth=basic(m2m), files={"grant_type": (None, "")}),
                 400, "invalid_request", "grant_type is required")


def test_an_empty_copy_of_a_parameter_is_no_repeat(o, m2m):
    """RFC 6749 §3.1: the empty copy is omitted, so one grant_type is
    sent; two copies with values are still refused."""
    assert_ok(token(o, "grant_type=&grant_type=client_credentials",
                    basic(m2m), headers={"Content-Type": FORM}))
    assert_ok(token(o, auth=basic(m2m),
                    files=[("grant_type", (None, "client_credentials")),
                           ("grant_type", (None, ""))]))
    assert_error(token(o, "grant_type=client_credentials&grant_type="
                          "client_credentials", basic(m2m),
                       headers={"Content-Type": FORM}),
                 400, "invalid_request", "the grant_type parameter is "
                 "repeated")


def test_missing_code_is_invalid_request(o, web):
    code = code_for(o, web["client_id"])
    assert_ok(token(o, code_exchange(web, code), basic(web)))
    assert_error(token(o, {"grant_type": "authorization_code",
                           "redirect_uri": CALLBACK}, basic(web)),
                 400, "invalid_request", "code is required")


def test_missing_refresh_token_is_invalid_request(o, web):
    code = code_for(o, web["client_id"])
    tokens = assert_ok(token(o, code_exchange(web, code), basic(web)))
    assert_ok(token(o, {"grant_type": "refresh_token",
                        "refresh_token": tokens["refresh_token"]},
                    basic(web)))
    assert_error(token(o, {"grant_type": "refresh_token"}, basic(web)),
                 400, "invalid_request", "refresh_token is required")


def test_repeated_parameter_in_urlencoded_body_is_invalid_request(o, m2m):
    once = "grant_type=client_credentials&scope=integration.order"
    assert_ok(token(o, once, basic(m2m), headers={"Content-Type": FORM}),
              "integration.order")
    twice = once + "&scope=integration.order"
    assert_error(token(o, twice, basic(m2m), headers={"Content-Type": FORM}),
                 400, "invalid_request", "the scope parameter is repeated")
    # an empty copy is omitted (RFC 6749 §3.1): "scope=&scope=x" is x
    assert_ok(token(o, "scope=&" + once, basic(m2m),
                    headers={"Content-Type": FORM}), "integration.order")


def test_repeated_parameter_in_multipart_body_is_invalid_request(o, m2m):
    once = [("grant_type", (None, "client_credentials")),
            ("scope", (None, "integration.order"))]
    assert_ok(token(o, auth=basic(m2m), files=once), "integration.order")
    twice = once + [("grant_type", (None, "client_credentials"))]
    assert_error(token(o, auth=basic(m2m), files=twice),
                 400, "invalid_request",
                 "the grant_type parameter is repeated")


def test_client_secret_in_basic_and_body_is_invalid_request(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials",
                        "client_id": m2m["client_id"],
                        "client_secret": m2m["client_secret"]}))
    assert_error(token(o, {"grant_type": "client_credentials",
                           "client_secret": m2m["client_secret"]},
                       basic(m2m)),
                 400, "invalid_request",
                 "use one client authentication method, not Basic and "
                 "client_secret together")


def test_client_id_differing_from_basic_is_invalid_request(o, m2m, web):
    # the same id in both places is allowed (RFC 6749 §2.3.1 does not
    # forbid it, and libraries send it)
    assert_ok(token(o, {"grant_type": "client_credentials",
                        "client_id": m2m["client_id"]}, basic(m2m)))
    assert_error(token(o, {"grant_type": "client_credentials",
                           "client_id": web["client_id"]}, basic(m2m)),
                 400, "invalid_request",
                 "client_id differs from the authenticated client")


def test_malformed_basic_credentials_are_invalid_request(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    r = token(o, {"grant_type": "client_credentials"},
              headers={"Authorization": "Basic !!not-base64!!"})
    assert_error(r, 400, "invalid_request",
                 "the Basic client credentials are malformed")


def test_malformed_code_verifier_is_invalid_request(o, spa):
    verifier, challenge = pkce_pair()
    code = code_for(o, spa["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    assert_error(token(o, code_exchange(spa, code,
                                        client_id=spa["client_id"],
                                        code_verifier="too-short")),
                 400, "invalid_request",
                 "code_verifier must be 43 to 128 unreserved characters "
                 "(RFC 7636 §4.1)")
    # checked before the code is touched: it still redeems
    assert_ok(token(o, code_exchange(spa, code, client_id=spa["client_id"],
                                     code_verifier=verifier)))


def test_unsupported_content_type_is_invalid_request(o, m2m):
    assert_ok(token(o, "grant_type=client_credentials", basic(m2m),
                    headers={"Content-Type": FORM + "; charset=UTF-8"}))
    for ctype, body in [("application/json",
                         '{"grant_type": "client_credentials"}'),
                        ("text/plain", "grant_type=client_credentials")]:
        assert_error(token(o, body, basic(m2m),
                           headers={"Content-Type": ctype}),
                     400, "invalid_request",
                     "the body must be application/x-www-form-urlencoded "
                     "or multipart/form-data")


def test_malformed_multipart_bodies_are_invalid_request(o, m2m):
    good, ctype = multipart(("grant_type", "client_credentials"))
    with_charset = good.replace(
        'name="grant_type"\r\n',
        'name="grant_type"\r\nContent-Type: text/plain; charset=utf-8\r\n')
    for body, content_type in [
            (good, ctype),
            (good, ctype.replace("multipart/form-data",
                                 "Multipart/Form-Data")),
            (good, 'multipart/form-data; boundary="XyZzYboundary"'),
            (with_charset, ctype)]:
        assert_ok(token(o, body, basic(m2m),
                        headers={"Content-Type": content_type}))

    binary_part = good.replace(
        'name="grant_type"\r\n',
        'name="grant_type"\r\nContent-Type: application/octet-stream\r\n')
    cases = [
        (good[:-len("--\r\n")], ctype, "a multipart delimiter is malformed"),
        (good, "multipart/form-data",
         "multipart/form-data needs a boundary parameter"),
        (good, ctype.replace("XyZzY", "Other"),
         "the body has no multipart delimiter"),
        ("\x01\x02 not multipart at all", ctype,
         "the body has no multipart delimiter"),
        (binary_part, ctype, "a part's Content-Type is not text/plain"),
    ]
    for body, content_type, description in cases:
        assert_error(token(o, body, basic(m2m),
                           headers={"Content-Type": content_type}),
                     400, "invalid_request", description)

    # a file upload is no token request
    r = token(o, auth=basic(m2m),
              files={"grant_type": ("g.txt", "client_credentials",
                                    "text/plain")})
    assert_error(r, 400, "invalid_request",
                 "file uploads are not accepted here")


def test_more_than_32_parameters_is_invalid_request(o, m2m):
    padding = "".join(f"&p{i}=1" for i in range(30))
    assert_ok(token(o, "grant_type=client_credentials" + padding, basic(m2m),
                    headers={"Content-Type": FORM}))
    r = token(o, "grant_type=client_credentials" + padding + "&p30=1&p31=1",
              basic(m2m), headers={"Content-Type": FORM})
    assert_error(r, 400, "invalid_request",
                 "the body has more than 32 parameters")


def test_basic_credentials_are_form_urldecoded_first(o, m2m):
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before base64;
    a server that skipped the decoding would not find this client."""
    encoded = "".join(f"%{b:02X}" for b in m2m["client_id"].encode())
    pair = f"{encoded}:{m2m['client_secret']}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    assert_ok(token(o, {"grant_type": "client_credentials"}, headers=header))
    broken = f"{m2m['client_id']}%G1:{m2m['client_secret']}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(broken).decode()}
    assert_error(token(o, {"grant_type": "client_credentials"},
                       headers=header),
                 400, "invalid_request",
                 "the Basic client credentials are not form-urlencoded")


# ---- invalid_client --------------------------------------------------------

def test_wrong_secret_is_invalid_client_with_basic_challenge(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    secret = m2m["client_secret"]
    wrong = secret[:-1] + ("Q" if secret[-1] != "Q" else "R")
    assert_error(token(o, {"grant_type": "client_credentials"},
                       basic(m2m, wrong)),
                 401, "invalid_client", "unknown client or wrong secret")
    # the same in the body (client_secret_post)
    assert_error(token(o, {"grant_type": "client_credentials",
                           "client_id": m2m["client_id"],
                           "client_secret": "aacs_wrong"}),
                 401, "invalid_client", "unknown client or wrong secret")


def test_unknown_client_is_invalid_client(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    for auth, body in [(("cli_DoesNotExist0000", m2m["client_secret"]), {}),
                       (None, {"client_id": "cli_DoesNotExist0000",
                               "client_secret": m2m["client_secret"]}),
                       (None, {"client_id": "cli_DoesNotExist0000"})]:
        assert_error(token(o, {"grant_type": "client_credentials", **body},
                           auth),
                     401, "invalid_client", "unknown client or wrong secret")


def test_confidential_client_without_secret_is_invalid_client(o, web):
    code = code_for(o, web["client_id"])
    assert_ok(token(o, code_exchange(web, code, client_id=web["client_id"],
                                     client_secret=web["client_secret"])))
    code = code_for(o, web["client_id"])
    assert_error(token(o, code_exchange(web, code,
                                        client_id=web["client_id"])),
                 401, "invalid_client",
                 "this client must authenticate with its secret")


def test_no_client_authentication_is_invalid_client(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    assert_error(token(o, {"grant_type": "client_credentials"}),
                 401, "invalid_client", "client authentication is required")


def test_client_credentials_in_query_string_are_not_accepted(o, m2m):
    """Secrets in URLs end up in logs: only the body and Basic count."""
    assert_ok(token(o, {"grant_type": "client_credentials",
                        "client_id": m2m["client_id"],
                        "client_secret": m2m["client_secret"]}))
    r = o.post(TOKEN, params={"client_id": m2m["client_id"],
                              "client_secret": m2m["client_secret"]},
               data={"grant_type": "client_credentials"})
    assert_error(r, 401, "invalid_client",
                 "client authentication is required")
    log = o.httpd.wait_for_access_log("client_secret=***")
    assert m2m["client_secret"] not in log
    assert f'?client_id={m2m["client_id"]}&client_secret=*** ' in log


def test_public_client_sending_a_secret_is_invalid_client(o, spa):
    verifier, challenge = pkce_pair()
    code = code_for(o, spa["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    assert_ok(token(o, code_exchange(spa, code, client_id=spa["client_id"],
                                     code_verifier=verifier)))
    code = code_for(o, spa["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    for auth, body in [((spa["client_id"], "anything"), {}),
                       (None, {"client_id": spa["client_id"],
                               "client_secret": "anything"})]:
        assert_error(token(o, code_exchange(spa, code, code_verifier=verifier,
                                            **body), auth),
                     401, "invalid_client", "unknown client or wrong secret")


# ---- invalid_grant ---------------------------------------------------------

def test_unknown_code_is_invalid_grant(o, web):
    assert_ok(token(o, code_exchange(web, code_for(o, web["client_id"])),
                    basic(web)))
    assert_error(token(o, code_exchange(web, "aac_" + "x" * 38), basic(web)),
                 400, "invalid_grant", "unknown or expired code")


def test_expired_code_is_invalid_grant(o, web):
    code = code_for(o, web["client_id"])
    assert_ok(token(o, code_exchange(web, code), basic(web)))
    code = code_for(o, web["client_id"])
    store_sql(o, "UPDATE apiauth_codes SET expires = 0 WHERE client_id = "
                 f"'{web['client_id']}' AND used IS NULL")
    assert_error(token(o, code_exchange(web, code), basic(web)),
                 400, "invalid_grant", "the code has expired")


def test_code_of_another_client_is_invalid_grant_and_stays_its_owners(o, web):
    other = o.client(unique("other"), "authorization_code",
                     scopes=("integration.store",))
    code = code_for(o, web["client_id"])
    assert_error(token(o, code_exchange(other, code), basic(other)),
                 400, "invalid_grant", "the code was issued to another client")
    # RFC 6749 §4.1.3: refused, and nothing spent: the code is still its
    # own client's to redeem
    assert_ok(token(o, code_exchange(web, code), basic(web)))


def test_wrong_redirect_uri_is_invalid_grant(o, web):
    code = code_for(o, web["client_id"])
    assert_ok(token(o, code_exchange(web, code), basic(web)))
    code = code_for(o, web["client_id"])
    assert_error(token(o, code_exchange(web, code,
                                        redirect_uri=CALLBACK + "/other"),
                       basic(web)),
                 400, "invalid_grant",
                 "redirect_uri differs from the authorization request")
    # sent at the authorize endpoint, so required here (RFC 6749 §4.1.3)
    code = code_for(o, web["client_id"])
    body = code_exchange(web, code)
    del body["redirect_uri"]
    assert_error(token(o, body, basic(web)), 400, "invalid_grant",
                 "redirect_uri differs from the authorization request")


def test_redirect_uri_left_out_of_both_requests_is_accepted(o, web):
    """The client has one redirect URI: it may leave it out of the
    authorize request, and then out of the token request too."""
    code = code_for(o, web["client_id"], redirect_uri=None)
    body = code_exchange(web, code)
    del body["redirect_uri"]
    assert_ok(token(o, body, basic(web)))


def test_replayed_code_revokes_what_first_redemption_issued(o, web):
    """RFC 6749 §4.1.2: the second redemption of a code fails, and the
    tokens of the first are revoked (someone else may hold the code)."""
    code = code_for(o, web["client_id"])
    first = assert_ok(token(o, code_exchange(web, code), basic(web)))
    assert_error(token(o, code_exchange(web, code), basic(web)),
                 400, "invalid_grant",
                 "the code was used before; everything issued from it is "
                 "revoked")
    assert_error(token(o, {"grant_type": "refresh_token",
                           "refresh_token": first["refresh_token"]},
                       basic(web)),
                 400, "invalid_grant", "the grant has been revoked")
    r = o.get("/integration/v1/stores/env",
              headers={"Authorization": "Bearer " + first["access_token"]})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def test_code_whose_grant_the_user_revoked_is_invalid_grant(o, web):
    """alice withdraws her consent (apiauth-admin grant revoke) between the
    redirect and the client's redemption: the code stands for a revoked
    grant (RFC 6749 §5.2 invalid_grant: "revoked").  Tokens issued anyway
    would be refused here, but a resource server that only checks
    signatures (ApiAuthProvider jwt) would take them for two days."""
    code = code_for(o, web["client_id"])
    assert_ok(token(o, code_exchange(web, code), basic(web)))
    code = code_for(o, web["client_id"])
    o.store.admin("grant", "revoke", "alice", web["name"])
    give_to_server(o.store.dir)
    assert_error(token(o, code_exchange(web, code), basic(web)),
                 400, "invalid_grant", "the grant has been revoked")


def test_pkce_verifier_mismatch_is_invalid_grant(o, spa):
    verifier, challenge = pkce_pair()
    code = code_for(o, spa["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    assert_ok(token(o, code_exchange(spa, code, client_id=spa["client_id"],
                                     code_verifier=verifier)))
    code = code_for(o, spa["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    other, _ = pkce_pair()
    assert_error(token(o, code_exchange(spa, code, client_id=spa["client_id"],
                                        code_verifier=other)),
                 400, "invalid_grant",
                 "code_verifier does not match the code_challenge")
    # a refusal spends nothing (RFC 6749 §5.2): the code is still its
    # client's, for the verifier of its challenge (a guess has 256 bits
    # against it, and counts towards ApiAuthFailureLimit)
    assert_ok(token(o, code_exchange(spa, code, client_id=spa["client_id"],
                                     code_verifier=verifier)))


def test_missing_verifier_for_code_with_challenge_is_invalid_grant(o, web):
    verifier, challenge = pkce_pair()
    code = code_for(o, web["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    assert_ok(token(o, code_exchange(web, code, code_verifier=verifier),
                    basic(web)))
    code = code_for(o, web["client_id"], code_challenge=challenge,
                    code_challenge_method="S256")
    assert_error(token(o, code_exchange(web, code), basic(web)),
                 400, "invalid_grant",
                 "code_verifier is required: the code was issued for a "
                 "code_challenge")


def test_verifier_for_code_without_challenge_is_invalid_grant(o, web):
    """RFC 9700 §2.1.1: a PKCE downgrade attempt."""
    code = code_for(o, web["client_id"])
    assert_ok(token(o, code_exchange(web, code), basic(web)))
    code = code_for(o, web["client_id"])
    verifier, _ = pkce_pair()
    assert_error(token(o, code_exchange(web, code, code_verifier=verifier),
                       basic(web)),
                 400, "invalid_grant",
                 "the code was issued without a code_challenge")


def test_refresh_token_of_another_client_is_invalid_grant(o, web):
    other = o.client(unique("other"), "authorization_code", "refresh_token",
                     scopes=("integration.store",))
    code = code_for(o, web["client_id"])
    tokens = assert_ok(token(o, code_exchange(web, code), basic(web)))
    tokens = assert_ok(token(o, {"grant_type": "refresh_token",
                                 "refresh_token": tokens["refresh_token"]},
                             basic(web)))
    assert_error(token(o, {"grant_type": "refresh_token",
                           "refresh_token": tokens["refresh_token"]},
                       basic(other)),
                 400, "invalid_grant",
                 "the refresh token was issued to another client")
    # nothing was spent or revoked: the owner refreshes as before, and its
    # access token still works
    r = o.get("/integration/v1/hello",
              headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert r.status_code == 200, r.text
    assert_ok(token(o, {"grant_type": "refresh_token",
                        "refresh_token": tokens["refresh_token"]},
                    basic(web)))


def test_a_stolen_public_refresh_token_cannot_log_its_owner_out(o, spa):
    """A public client needs no secret: whoever saw its refresh token can
    present it under another public client's id, used or not.  That is
    refused without touching the owner's grant (RFC 6749 §6)."""
    thief = o.client(unique("thief"), "authorization_code", "refresh_token",
                     public=True, redirect_uris=(CALLBACK,))
    tokens = public_tokens(o, spa)
    used = tokens["refresh_token"]
    tokens = assert_ok(token(o, {"grant_type": "refresh_token",
                                 "refresh_token": used,
                                 "client_id": spa["client_id"]}))
    for stolen in (tokens["refresh_token"], used):
        assert_error(token(o, {"grant_type": "refresh_token",
                               "refresh_token": stolen,
                               "client_id": thief["client_id"]}),
                     400, "invalid_grant",
                     "the refresh token was issued to another client")
    tokens = assert_ok(token(o, {"grant_type": "refresh_token",
                                 "refresh_token": tokens["refresh_token"],
                                 "client_id": spa["client_id"]}))
    r = o.get("/integration/v1/hello",
              headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert r.status_code == 200, r.text


def test_refresh_refused_for_its_scope_can_be_retried(o, web):
    """RFC 6749 §5.2/§6: invalid_scope issues nothing and leaves the
    refresh token usable; the retry without the scope is no replay."""
    code = code_for(o, web["client_id"])
    tokens = assert_ok(token(o, code_exchange(web, code), basic(web)))
    assert_error(token(o, {"grant_type": "refresh_token",
                           "refresh_token": tokens["refresh_token"],
                           "scope": "integration.store integration.order"},
                       basic(web)),
                 400, "invalid_scope",
                 "the requested scope exceeds what was granted")
    again = assert_ok(token(o, {"grant_type": "refresh_token",
                                "refresh_token": tokens["refresh_token"]},
                            basic(web)))
    r = o.get("/integration/v1/hello",
              headers={"Authorization": "Bearer " + again["access_token"]})
    assert r.status_code == 200, r.text


def test_expired_refresh_token_is_invalid_grant(o, web):
    code = code_for(o, web["client_id"])
    tokens = assert_ok(token(o, code_exchange(web, code), basic(web)))
    store_sql(o, "UPDATE apiauth_refresh_tokens SET expires = 0 WHERE "
                 f"client_id = '{web['client_id']}' AND used IS NULL")
    assert_error(token(o, {"grant_type": "refresh_token",
                           "refresh_token": tokens["refresh_token"]},
                       basic(web)),
                 400, "invalid_grant", "the refresh token has expired")


# ---- unauthorized_client ---------------------------------------------------

def test_grant_not_registered_for_client_is_unauthorized_client(o, web, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    assert_error(token(o, {"grant_type": "client_credentials"}, basic(web)),
                 400, "unauthorized_client",
                 "this client may not use this grant type")
    assert_error(token(o, {"grant_type": "refresh_token",
                           "refresh_token": "aar_whatever"}, basic(m2m)),
                 400, "unauthorized_client",
                 "this client may not use this grant type")


def test_public_client_using_client_credentials_is_unauthorized_client(
        o, spa):
    body = {"grant_type": "client_credentials", "client_id": spa["client_id"]}
    assert_error(token(o, body), 400, "unauthorized_client",
                 "this client may not use this grant type")
    # even where the store says it may (apiauth-admin refuses to register
    # that; an edited row must not mint tokens for nobody)
    store_sql(o, "UPDATE apiauth_clients SET grant_types = "
                 "'authorization_code refresh_token client_credentials', "
                 "scope = 'integration.store integration.order' "
                 f"WHERE id = '{spa['client_id']}'")
    assert_error(token(o, body), 400, "unauthorized_client",
                 "a public client cannot use client_credentials")


# ---- unsupported_grant_type ------------------------------------------------

@pytest.mark.parametrize("grant", [
    "password", "implicit", "urn:ietf:params:oauth:grant-type:device_code",
    "client-credentials", "CLIENT_CREDENTIALS", "garbage\u00e9"])
def test_unknown_grant_type_is_unsupported_grant_type(o, m2m, grant):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    assert_error(token(o, {"grant_type": grant, "username": "alice",
                           "password": "wonderland"}, basic(m2m)),
                 400, "unsupported_grant_type",
                 "grant_type must be authorization_code, client_credentials "
                 "or refresh_token")


# ---- invalid_scope ---------------------------------------------------------

CC_SCOPE_REFUSED = ("a requested scope is unknown, or not allowed to this "
                    "client with client_credentials")


def test_unknown_scope_is_invalid_scope(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials",
                        "scope": "integration.order"}, basic(m2m)),
              "integration.order")
    for scope in ["no.such.scope", "integration.order no.such.scope",
                  'integration.order "quoted"']:
        assert_error(token(o, {"grant_type": "client_credentials",
                               "scope": scope}, basic(m2m)),
                     400, "invalid_scope", CC_SCOPE_REFUSED)


def test_scope_not_allowed_to_client_is_invalid_scope(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials",
                        "scope": "integration.order"}, basic(m2m)))
    # registered for client_credentials, but not given to this client
    assert_error(token(o, {"grant_type": "client_credentials",
                           "scope": "integration.inventory"}, basic(m2m)),
                 400, "invalid_scope", CC_SCOPE_REFUSED)


def test_code_flow_only_scope_with_client_credentials_is_invalid_scope(o):
    both = o.client(unique("both"), "authorization_code",
                    "client_credentials",
                    scopes=("integration.order", "profile.read"))
    code = code_for(o, both["client_id"], scope="profile.read")
    assert_ok(token(o, code_exchange(both, code), basic(both)),
              "profile.read")
    assert_error(token(o, {"grant_type": "client_credentials",
                           "scope": "profile.read"}, basic(both)),
                 400, "invalid_scope", CC_SCOPE_REFUSED)
    # left out, the request gets what client_credentials may have, only
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(both)),
              "integration.order")


def test_client_without_client_credentials_scopes_is_invalid_scope(o):
    bare = o.client(unique("bare"), "authorization_code",
                    "client_credentials", scopes=("profile.read",))
    code = code_for(o, bare["client_id"])
    assert_ok(token(o, code_exchange(bare, code), basic(bare)),
              "profile.read")
    assert_error(token(o, {"grant_type": "client_credentials"}, basic(bare)),
                 400, "invalid_scope",
                 "no scope is available to this client with "
                 "client_credentials")


def test_scope_beyond_grant_with_code_or_refresh_is_invalid_scope(o, web):
    code = code_for(o, web["client_id"], scope="integration.store "
                                               "profile.read")
    narrowed = assert_ok(token(o, code_exchange(web, code,
                                                scope="profile.read"),
                               basic(web)), "profile.read")
    # a refresh may ask for anything originally granted (RFC 6749 §6)...
    again = assert_ok(token(o, {"grant_type": "refresh_token",
                                "refresh_token": narrowed["refresh_token"]},
                            basic(web)), "integration.store profile.read")
    # ...and nothing more
    assert_error(token(o, {"grant_type": "refresh_token",
                           "refresh_token": again["refresh_token"],
                           "scope": "profile.read integration.order"},
                       basic(web)),
                 400, "invalid_scope",
                 "the requested scope exceeds what was granted")


# ---- what is not a token request at all ------------------------------------

def test_get_on_token_endpoint_is_405(o, m2m):
    assert_ok(token(o, {"grant_type": "client_credentials"}, basic(m2m)))
    for method in ("GET", "PUT", "DELETE"):
        r = o.request(method, TOKEN, auth=basic(m2m),
                      params={"grant_type": "client_credentials"})
        assert_error(r, 405, "invalid_request", "this endpoint takes POST")
        assert r.headers["Allow"] == "POST"


def test_body_over_max_body_is_413(o, m2m):
    fits = "grant_type=client_credentials&pad=" + "x" * 950
    assert len(fits) <= 1024
    assert_ok(token(o, fits, basic(m2m), headers={"Content-Type": FORM}))
    too_big = fits + "x" * 100
    assert_error(token(o, too_big, basic(m2m),
                       headers={"Content-Type": FORM}),
                 413, "invalid_request", "the request body is too large")
    # no Content-Length to go by: the same when the body is chunked
    assert_error(token(o, iter([too_big[:600].encode(),
                                too_big[600:].encode()]), basic(m2m),
                       headers={"Content-Type": FORM}),
                 413, "invalid_request", "the request body is too large")


def test_plain_http_to_token_endpoint_is_403(o, m2m):
    body = {"grant_type": "client_credentials"}
    assert_ok(token(o, body, basic(m2m)))
    assert_error(o.post(TOKEN, tls=False, data=body, auth=basic(m2m)),
                 403, "invalid_request",
                 "this endpoint is served over HTTPS only")


# ---- the store is gone -----------------------------------------------------

def assert_unavailable(r):
    assert r.status_code == 503, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Retry-After"].isdigit()
    assert r.json()["error"] == "temporarily_unavailable"


def test_database_gone_before_start_is_503_with_retry_after(servers):
    o = servers.make(start=False)
    client = o.client(unique("m2m"), "client_credentials",
                      scopes=("integration.order",))
    o.store.drop()     # the SQLite file, or the PostgreSQL database
    o.start()
    r = token(o, {"grant_type": "client_credentials"}, basic(client))
    assert_unavailable(r)
    assert o.is_serving()


@pytest.mark.skipif(DBD != "sqlite3", reason="a SQLite write lock; "
                    "PostgreSQL's counterpart is the next test")
def test_store_locked_by_another_writer_is_503_and_spends_nothing(servers):
    """A store that cannot take a write (here another process holds the
    write lock, as a long migration or a stuck apiauth-admin would) makes
    the refresh fail as a whole: 503, and the refresh token stays
    unspent for when the store is back."""
    o = servers.make()
    client = o.client(unique("web"), "authorization_code", "refresh_token")
    code = code_for(o, client["client_id"])
    tokens = assert_ok(token(o, code_exchange(client, code), basic(client)))
    refresh = {"grant_type": "refresh_token",
               "refresh_token": tokens["refresh_token"]}
    writer = sqlite3.connect(str(o.store.path), isolation_level=None,
                             timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        assert_unavailable(token(o, refresh, basic(client)))
        assert time.monotonic() - started < 20
        assert o.is_serving()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert_ok(token(o, refresh, basic(client)))


class LockTimeout:
    """A PostgreSQL store whose server-side connections give up waiting for
    a lock after a second (libpq's options in DBDParams: what an operator
    sets so that a stuck lock costs a 503, not a hung worker)."""

    def __init__(self, store):
        self.store = store

    def httpd_conf(self):
        return (f"DBDriver pgsql\nDBDParams \"{self.store.params} "
                f"options='-c lock_timeout=1000'\"\n")

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.mark.skipif(DBD != "pgsql", reason="a PostgreSQL table lock; "
                    "SQLite's counterpart is the test before")
def test_store_locked_past_lock_timeout_is_503_and_spends_nothing(servers):
    """PostgreSQL's counterpart of the locked SQLite store: another session
    holds the refresh tokens' table (a long migration, a stuck psql), the
    refresh gives up after lock_timeout and fails as a whole: 503, and the
    refresh token stays unspent for when the lock is gone."""
    store = Store(make_workdir("apiauth-locked-"))
    o = servers.make(store=LockTimeout(store))
    client = o.client(unique("web"), "authorization_code", "refresh_token")
    code = code_for(o, client["client_id"])
    tokens = assert_ok(token(o, code_exchange(client, code), basic(client)))
    refresh = {"grant_type": "refresh_token",
               "refresh_token": tokens["refresh_token"]}
    holder = subprocess.Popen(["psql", "-X", "-q", "-d", store.params],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        holder.stdin.write("BEGIN;\nLOCK TABLE apiauth_refresh_tokens IN "
                           "ACCESS EXCLUSIVE MODE;\n\\echo locked\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert_unavailable(token(o, refresh, basic(client)))
        assert time.monotonic() - started < 20
        assert o.is_serving()
    finally:
        holder.communicate("ROLLBACK;\n", timeout=30)
    assert_ok(token(o, refresh, basic(client)))
    store.drop()
