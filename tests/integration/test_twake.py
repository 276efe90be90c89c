"""Twake's authentication page (shared/seeds/002), replayed against
conf-examples/twake.conf as shipped: `Authorization: Basic
base64(public_id:private_api_key)`, built by hand as the page says, and
every request names the company it acts in (group_id: in the query of a
GET, in the JSON body of POST /api/v1/plugins/message); the app must be
installed in that company.  HTTPS, except in development mode.  Each
refusal sits next to the request that succeeds."""
import base64
import json

import pytest

from examples import ExampleSite
from harness import env_of, with_wrong_checksum

COMPANY = "2b6aa7b4-0aa4-11ec-9a03-0242ac130003"
OTHER_COMPANY = "7c1e0f22-0aa4-11ec-9a03-0242ac130003"
GET_PATH = "/api/v1/channels/env"
MESSAGE = "/api/v1/plugins/message/env"

# Development mode: the operator turns HTTPS off for the whole API.
DEVELOPMENT = """
<Location /api/v1>
    ApiAuthRequireTLS off
</Location>
"""


@pytest.fixture(scope="module")
def twake(tls):
    t = ExampleSite("apiauth-twake-")
    store = t.store
    t.public_id = store.app("my-connector")
    t.private_key, t.key_id = store.key("my-connector")
    t.other_id = store.app("other-connector")
    t.other_key, _ = store.key("other-connector")
    store.admin("app", "install", "my-connector", COMPANY)
    store.admin("app", "install", "other-connector", OTHER_COMPANY)
    conf = t.example("twake.conf")
    t.serve(tls, conf)
    t.dev = t.serve(tls, conf + DEVELOPMENT)
    yield t
    t.remove()


def basic(public_id, private_api_key):
    """The header as the page writes it: Basic base64(public_id:key)."""
    pair = f"{public_id}:{private_api_key}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def post_json(t, path, doc, auth, server=None, **kw):
    body = json.dumps(doc, separators=(",", ":"))
    headers = dict(auth, **{"Content-Type": "application/json"})
    return (server or t.httpd).post(path, data=body.encode(),
                                    headers=headers, **kw), body


def test_seed_header_shape_for_the_example_keys():
    assert basic("public_id", "private_api_key") == {
        "Authorization": "Basic cHVibGljX2lkOnByaXZhdGVfYXBpX2tleQ=="}


# ---- group_id in the query --------------------------------------------------

def test_get_with_group_of_an_installed_company(twake):
    r = twake.get(GET_PATH, params={"group_id": COMPANY},
                  headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["REMOTE_USER"] == twake.public_id
    assert env["APIAUTH_APP"] == twake.public_id
    assert env["APIAUTH_KIND"] == "api_key"
    assert env["APIAUTH_CREDENTIAL_ID"] == twake.key_id
    assert twake.private_key not in r.text


def test_get_with_group_of_another_company_is_403(twake):
    r = twake.get(GET_PATH, params={"group_id": OTHER_COMPANY},
                  headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 403
    assert r.json()["error"] == "access_denied"


def test_get_without_group_is_400(twake):
    r = twake.get(GET_PATH, headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    r = twake.get(GET_PATH, params={"group_id": ""},
                  headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 400


def test_get_with_group_twice_is_400(twake):
    r = twake.get(f"{GET_PATH}?group_id={COMPANY}&group_id={COMPANY}",
                  headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 400


# ---- group_id in a JSON body ------------------------------------------------

def test_post_message_with_group_in_body_reaches_handler_unchanged(twake):
    doc = {"group_id": COMPANY, "message": {"text": "hi"}}
    r, sent = post_json(twake, MESSAGE, doc,
                        basic(twake.public_id, twake.private_key))
    assert r.status_code == 200, r.text
    env = env_of(r)
    assert env["REQUEST_BODY"] == sent
    assert env["APIAUTH_APP"] == twake.public_id


def test_post_message_with_group_of_another_company_is_403(twake):
    doc = {"group_id": OTHER_COMPANY, "message": {"text": "hi"}}
    r, _ = post_json(twake, MESSAGE, doc,
                     basic(twake.public_id, twake.private_key))
    assert r.status_code == 403
    assert r.json()["error"] == "access_denied"


def test_post_message_without_group_is_400(twake):
    r, _ = post_json(twake, MESSAGE, {"message": {"text": "hi"}},
                     basic(twake.public_id, twake.private_key))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_post_message_group_in_query_does_not_count(twake):
    """The location reads the body; a group id elsewhere is not it."""
    r, _ = post_json(twake, MESSAGE, {"message": {"text": "hi"}},
                     basic(twake.public_id, twake.private_key),
                     params={"group_id": COMPANY})
    assert r.status_code == 400


def test_post_message_over_body_limit_is_400(twake):
    doc = {"group_id": COMPANY, "message": {"text": "x" * 70000}}
    r, _ = post_json(twake, MESSAGE, doc,
                     basic(twake.public_id, twake.private_key))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_post_message_chunked_body(twake):
    """Without Content-Length the limit holds all the same, and a body
    within it still reaches the handler whole."""
    def chunks(doc):
        text = json.dumps(doc, separators=(",", ":")).encode()
        for i in range(0, len(text), 1000):
            yield text[i:i + 1000]

    headers = dict(basic(twake.public_id, twake.private_key),
                   **{"Content-Type": "application/json"})
    small = {"group_id": COMPANY, "message": {"text": "z" * 5000}}
    r = twake.post(MESSAGE, data=chunks(small), headers=headers)
    assert r.status_code == 200, r.text[:300]
    assert env_of(r)["REQUEST_BODY"].startswith('{"group_id":"' + COMPANY)
    big = {"group_id": COMPANY, "message": {"text": "z" * 70000}}
    r = twake.post(MESSAGE, data=chunks(big), headers=headers)
    assert r.status_code == 400


def test_post_message_body_at_the_limit_passes_one_more_byte_does_not(twake):
    doc = {"group_id": COMPANY, "message": {"text": ""}}
    pad = 65536 - len(json.dumps(doc, separators=(",", ":")))
    doc["message"]["text"] = "y" * pad
    r, sent = post_json(twake, MESSAGE, doc,
                        basic(twake.public_id, twake.private_key))
    assert len(sent) == 65536
    assert r.status_code == 200, r.text[:300]
    doc["message"]["text"] += "y"
    r, sent = post_json(twake, MESSAGE, doc,
                        basic(twake.public_id, twake.private_key))
    assert len(sent) == 65537
    assert r.status_code == 400


# ---- the key ----------------------------------------------------------------

def test_key_of_another_app_with_this_public_id_is_401(twake):
    r = twake.get(GET_PATH, params={"group_id": COMPANY},
                  headers=basic(twake.public_id, twake.other_key))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_key_is_401(twake):
    # the last character changed, whatever it was (a fixed "x" was the key
    # itself one time in 62)
    for key in ("not-the-key", with_wrong_checksum(twake.private_key), ""):
        r = twake.get(GET_PATH, params={"group_id": COMPANY},
                      headers=basic(twake.public_id, key))
        assert r.status_code == 401, key


def test_seed_example_keys_are_401(twake):
    r = twake.get(GET_PATH, params={"group_id": COMPANY},
                  headers={"Authorization":
                           "Basic cHVibGljX2lkOnByaXZhdGVfYXBpX2tleQ=="})
    assert r.status_code == 401


def test_no_credential_is_401_with_basic_challenge(twake):
    r = twake.get(GET_PATH, params={"group_id": COMPANY})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert 'realm="twake"' in r.headers["WWW-Authenticate"]


def test_key_never_in_logs(twake):
    twake.get(GET_PATH, params={"group_id": COMPANY},
              headers=basic(twake.public_id, twake.private_key))
    assert twake.private_key not in twake.error_log()
    assert twake.private_key not in twake.access_log()


# ---- HTTPS, except in development mode ----------------------------------------

def test_plain_http_fails(twake):
    r = twake.get(GET_PATH, tls=False, params={"group_id": COMPANY},
                  headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 403
    assert "HTTPS" in r.json()["error_description"]


def test_plain_http_allowed_in_development_mode(twake):
    r = twake.dev.get(GET_PATH, tls=False, params={"group_id": COMPANY},
                      headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 200, r.text
    doc = {"group_id": COMPANY, "message": {"text": "hi"}}
    r, sent = post_json(twake, MESSAGE, doc,
                        basic(twake.public_id, twake.private_key),
                        server=twake.dev, tls=False)
    assert r.status_code == 200, r.text
    assert env_of(r)["REQUEST_BODY"] == sent
    r = twake.dev.get(GET_PATH, tls=False, params={"group_id": OTHER_COMPANY},
                      headers=basic(twake.public_id, twake.private_key))
    assert r.status_code == 403


def test_post_message_with_numeric_group_in_body(twake):
    """A group id sent as a JSON number names the group spelled by its
    decimal digits (it once read as "%ld")."""
    twake.store.admin("app", "install", "my-connector", "4242")
    doc = {"group_id": 4242, "message": {"text": "hi"}}
    r, _ = post_json(twake, MESSAGE, doc,
                     basic(twake.public_id, twake.private_key))
    assert r.status_code == 200, r.text
    doc["group_id"] = 4243
    r, _ = post_json(twake, MESSAGE, doc,
                     basic(twake.public_id, twake.private_key))
    assert r.status_code == 403
