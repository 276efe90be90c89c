"""The benchmark's configuration (bench/world.py, bench/httpd.conf.template)
starts, and every row answers as `make bench` expects it to: 200 for the
row's credential, 401 without one, each token endpoint row signing with
its own key, refresh tokens rotating.  The wrk script runs in each of its
modes, and one run under callgrind gives a count.  `make check` does not
run the benchmark; this keeps it from rotting silently."""
import base64
import json
import sys

import pytest

from harness import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import bench  # noqa: E402
import callgrind  # noqa: E402
import world as W  # noqa: E402


@pytest.fixture(scope="module")
def bench_world():
    w = W.World.create(prefix="apiauth-benchconf-")
    server = W.Server(w, "test")
    try:
        server.start()
        w.credentials(server)
        yield w, server
    finally:
        server.stop()
        w.remove()


def by_name(w, name):
    return next(r for r in w.rows() if r.name == name)


def send(server, row, headers=None, body=None, tls=None):
    return W.http(server.ports[row.vhost], row.method, row.path,
                  row.headers if headers is None else headers,
                  row.body if body is None else body,
                  tls=tls or server.world.tls_of(row))


def jose_header(token):
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def test_bench_configuration_passes_apache2_config_test(bench_world):
    _, server = bench_world
    got = server.config_test()
    assert got.returncode == 0, got.stderr


def test_mod_oauth2_is_there_for_its_row(bench_world):
    """Without it the row would silently be an unauthenticated one."""
    assert W.MOD_OAUTH2_SO.exists(), "apt-get install libapache2-mod-oauth2"


@pytest.mark.parametrize("name", [
    "open", "basic-sha", "basic-bcrypt", "mod-oauth2", "apikey",
    "apikey-ratelimit", "apikey-nocache", "token", "session", "bearer-oauth", "bearer-jwt",
    "cc-rs256", "cc-es256", "cc-eddsa"])
def test_row_answers_its_credential(bench_world, name):
    w, server = bench_world
    row = by_name(w, name)
    status, _, body = send(server, row)
    assert status == row.status == 200, body


@pytest.mark.parametrize("name", [
    "basic-sha", "basic-bcrypt", "mod-oauth2", "apikey", "apikey-ratelimit",
    "apikey-nocache",
    "token", "session", "bearer-oauth", "bearer-jwt", "cc-rs256"])
def test_row_refuses_a_request_without_credential(bench_world, name):
    """Each authenticated row really authenticates."""
    w, server = bench_world
    row = by_name(w, name)
    headers = [h for h in row.headers if h[0] == "Content-Type"]
    status, _, _ = send(server, row, headers=headers)
    assert status == 401


@pytest.mark.parametrize("name", ["dpop-oauth", "dpop-oauth-rs256", "cc-dpop"])
def test_dpop_rows_answer_a_fresh_proof_once(bench_world, name):
    """Measured by callgrind alone: each request its own proof."""
    w, server = bench_world
    row = by_name(w, name)
    fresh = row.fresh(server.ports[row.vhost])
    status, _, body = send(server, row, headers=row.headers + fresh)
    assert status == 200, body
    if name == "cc-dpop":
        assert json.loads(body)["token_type"] == "DPoP"
    status, _, _ = send(server, row, headers=row.headers + fresh)
    assert status == (400 if name == "cc-dpop" else 401)


def test_tls_rows_answer_and_the_bound_one_needs_its_certificate(
        bench_world):
    """Measured by callgrind alone (wrk presents no certificate): the
    Bearer row over TLS, and the certificate-bound row, whose token is
    refused on a connection without the client's certificate."""
    w, server = bench_world
    for name in ("bearer-tls", "mtls-oauth"):
        status, _, body = send(server, by_name(w, name))
        assert status == 200, (name, body)
    row = by_name(w, "mtls-oauth")
    status, _, body = send(server, row, tls=w.tls_context(cert=False))
    assert status == 401, body
    assert "certificate" in json.loads(body)["error_description"]


def test_mod_oauth2_row_checks_the_signature(bench_world):
    w, server = bench_world
    row = by_name(w, "mod-oauth2")
    token = w.creds["access_token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    status, _, _ = send(server, row,
                        headers=[("Authorization", "Bearer " + forged)])
    assert status == 401


@pytest.mark.parametrize("name,alg", [("cc-rs256", "RS256"),
                                      ("cc-es256", "ES256"),
                                      ("cc-eddsa", "EdDSA")])
def test_token_row_signs_with_its_key(bench_world, name, alg):
    w, server = bench_world
    status, _, body = send(server, by_name(w, name))
    assert status == 200, body
    assert jose_header(json.loads(body)["access_token"])["alg"] == alg


def test_refresh_row_rotates_from_answer_to_answer(bench_world):
    """What bench.lua does per connection: each answer's refresh token is
    the next request's."""
    w, server = bench_world
    row = by_name(w, "refresh")
    token = w.refresh_tokens(server, 1)[0]
    for _ in range(3):
        status, _, body = send(server, row,
                               body=W.next_refresh_body(row, token))
        assert status == 200, body
        new = json.loads(body)["refresh_token"]
        assert new != token
        token = new


def test_wrk_script_runs_every_mode(bench_world):
    w, server = bench_world
    row = by_name(w, "apikey")
    got = bench.wrk(server.port, row.path, bench.plain_spec(row), w.root,
                    connections=2, seconds=1)
    assert got["requests"] > 0 and got["errors"] == 0, got

    refresh = by_name(w, "refresh")
    spec = dict(bench.plain_spec(refresh), mode="refresh",
                tokens=w.refresh_tokens(server, 2))
    got = bench.wrk(server.port, refresh.path, spec, w.root, threads=2,
                    connections=2, seconds=1)
    assert got["requests"] > 0 and got["errors"] == 0, got

    rows = [r for r in w.request_rows() if r.ours and not r.callgrind_only]
    spec = {"mode": "soak", "limit": 60,
            "requests": [W.format_request(r).decode() for r in rows]}
    got = bench.wrk(server.port, "/", spec, w.root, seconds=1)
    assert 60 <= got["requests"] < 70 and got["errors"] == 0, got


def test_callgrind_run_counts_instructions(bench_world):
    w, _ = bench_world
    total, out = bench.callgrind_run(w, by_name(w, "apikey"), 3, "test")
    assert total > 1_000_000
    profile = callgrind.Profile(out)
    assert any(fn == "apiauth_check_authn" and ob in w.modules
               for ob, fn in profile.self_cost)


def test_oidc_provider_peer_script_parses():
    if not bench.shutil.which("node"):
        pytest.fail("node is missing: run support/setup-debian")
    got = bench.subprocess.run(["node", "--check",
                                str(ROOT / "bench" / "oidc" / "peer.mjs")],
                               capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
