"""Single use under contention (DESIGN.md, "OAuth behaviour": "Two
concurrent refreshes of one token: exactly one succeeds").  Twenty clients,
each on its own TLS connection already open, send the same refresh token
(or the same code) at the same instant; the store must let exactly one
through, answer the others 400 invalid_grant, and never 5xx.  Every
request carries a timeout and every race a deadline, so a deadlock fails
the test instead of hanging it."""
import http.client
import json
import ssl
import threading
from base64 import b64encode
from urllib.parse import urlencode

import pytest

from oauth_flows import CALLBACK, TOKEN, ModuleServers, code_for, unique

RACERS = 20
ROUNDS = 3
DEADLINE = 60         # seconds for one race, all threads included


@pytest.fixture(scope="module")
def o(tls):
    servers = ModuleServers(tls)
    yield servers.make()
    servers.stop_all()


@pytest.fixture
def client(o):
    return o.client(unique("racer"), "authorization_code", "refresh_token")


def basic_header(client):
    pair = f"{client['client_id']}:{client['client_secret']}"
    return "Basic " + b64encode(pair.encode()).decode()


def race(o, client, form):
    """POSTs `form` to the token endpoint from RACERS threads at once;
    returns [(status, json body)] in no particular order."""
    ctx = ssl.create_default_context(cafile=str(o.httpd.cert))
    body = urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Authorization": basic_header(client)}
    start = threading.Barrier(RACERS, timeout=DEADLINE)
    answers, errors = [], []

    def racer():
        conn = http.client.HTTPSConnection("127.0.0.1", o.https_port,
                                           context=ctx, timeout=DEADLINE)
        try:
            conn.connect()            # the handshake is not part of the race
            start.wait()
            conn.request("POST", TOKEN, body=body, headers=headers)
            resp = conn.getresponse()
            answers.append((resp.status, json.loads(resp.read())))
        except Exception as e:        # reported below, with the others
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=racer, daemon=True)
               for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert not any(t.is_alive() for t in threads), "a racer never returned"
    assert errors == []
    assert len(answers) == RACERS
    return answers


def first_tokens(o, client):
    code = code_for(o, client["client_id"])
    r = o.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                            "redirect_uri": CALLBACK},
               auth=(client["client_id"], client["client_secret"]))
    assert r.status_code == 200, r.text
    return r.json()


def assert_exactly_one_winner(answers, refused_description):
    statuses = sorted(status for status, _ in answers)
    assert all(s < 500 for s in statuses), statuses
    winners = [body for status, body in answers if status == 200]
    losers = [body for status, body in answers if status != 200]
    assert len(winners) == 1, statuses
    assert statuses.count(400) == RACERS - 1, statuses
    for body in losers:
        assert body == {"error": "invalid_grant",
                        "error_description": refused_description}
    return winners[0]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_refreshes_of_one_token_let_exactly_one_through(
        o, client, round_):
    tokens = first_tokens(o, client)
    answers = race(o, client, {"grant_type": "refresh_token",
                               "refresh_token": tokens["refresh_token"]})
    winner = assert_exactly_one_winner(
        answers, "the refresh token was used before; its grant is revoked")
    assert winner["refresh_token"] != tokens["refresh_token"]

    # the losers presented a spent token: the family, the winner's new
    # tokens included, is revoked (RFC 9700 §4.14.2)
    r = o.post(TOKEN, data={"grant_type": "refresh_token",
                            "refresh_token": winner["refresh_token"]},
               auth=(client["client_id"], client["client_secret"]))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    r = o.get("/integration/v1/stores/env",
              headers={"Authorization": "Bearer " + winner["access_token"]})
    assert r.status_code == 401
    assert o.is_serving()


def test_concurrent_redemptions_of_one_code_issue_tokens_once(o, client):
    code = code_for(o, client["client_id"])
    answers = race(o, client, {"grant_type": "authorization_code",
                               "code": code, "redirect_uri": CALLBACK})
    assert_exactly_one_winner(
        answers, "the code was used before; everything issued from it is "
                 "revoked")
    assert o.is_serving()
