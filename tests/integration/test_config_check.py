"""Configuration mistakes are refused when httpd starts, not answered with
503 at every request: a provider that cannot do its job without a
directive stops `apache2 -t` and `apache2` with the directive and the
section named (as mod_auth_basic refuses a provider it does not know).

Each refusal sits next to the configuration that starts: the same
directives in the section itself, or in an enclosing one."""
import shutil

import pytest

from harness import Httpd, make_key, make_workdir
from oauth_tokens import public_pem


def section(path, *lines):
    body = "\n    ".join(("AuthType apiauth", 'AuthName "api"',
                          "ApiAuthScheme bearer apikey") + lines)
    return f"<Location {path}>\n    {body}\n    Require valid-user\n" \
           "</Location>\n"


@pytest.fixture(scope="module")
def keys():
    d = make_workdir("apiauth-confcheck-")
    pem = public_pem(make_key(d, "ec", "signer.pem"), d / "signer.pub.pem")
    yield pem
    shutil.rmtree(d, ignore_errors=True)


def jwt_lines(keys, issuer=True, audience=True, with_keys=True):
    lines = ["ApiAuthProvider jwt"]
    if with_keys:
        lines.append(f'ApiAuthJWTKeys "{keys}"')
    if issuer:
        lines.append("ApiAuthJWTIssuer https://as.example")
    if audience:
        lines.append("ApiAuthJWTAudience https://api.example")
    return lines


@pytest.fixture
def server(tls):
    made = []

    def make(body):
        h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body)
        made.append(h)
        return h
    yield make
    for h in made:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)


def assert_refused_at_start(h, *words):
    test = h.config_test()
    assert test.returncode != 0, test.stderr
    for w in words:
        assert w in test.stderr, (w, test.stderr)
    with pytest.raises(RuntimeError) as started:
        h.start()
    for w in words:
        assert w in str(started.value), (w, str(started.value))


@pytest.mark.parametrize("missing", ["keys", "issuer", "audience", "all"])
def test_jwt_provider_without_its_settings_does_not_start(server, keys,
                                                          missing):
    lines = jwt_lines(keys, issuer=missing not in ("issuer", "all"),
                      audience=missing not in ("audience", "all"),
                      with_keys=missing not in ("keys", "all"))
    h = server(section("/api", *lines))
    # the message names what ApiAuthJWT lacks (the separate directives of
    # the previous release fill the same settings)
    named = {"keys": "keys=", "issuer": "issuer=", "audience": "audience=",
             "all": "issuer= audience= keys="}
    assert_refused_at_start(h, "ApiAuthProvider jwt needs",
                            "missing: " + named[missing], "<Location /api>")


def test_jwt_provider_with_its_settings_starts(server, keys):
    h = server(section("/api", *jwt_lines(keys)))
    assert h.config_test().returncode == 0
    h.start()
    assert h.get("/api/hello").status_code == 401


def test_settings_of_an_enclosing_section_count(server, keys):
    """/api/v1 names the provider, /api holds its settings: a request to
    /api/v1 has both, so the server starts; /apiv2 is not inside /api."""
    outer = "<Location /api>\n    " + "\n    ".join(
        jwt_lines(keys)[1:]) + "\n</Location>\n"
    h = server(outer + section("/api/v1", "ApiAuthProvider jwt"))
    assert h.config_test().returncode == 0, h.config_test().stderr
    h.start()
    h.stop()
    h = server(outer + section("/apiv2", "ApiAuthProvider jwt"))
    assert_refused_at_start(h, "<Location /apiv2>")


def test_settings_of_another_kind_of_section_are_given_the_doubt(server,
                                                                keys):
    """The provider named in a <Location>, its settings in a <Directory>:
    only a request can say whether both apply, so the server starts (a
    request where they do not still fails closed)."""
    directory = "<Directory /var/www>\n    " + "\n    ".join(
        jwt_lines(keys)[1:]) + "\n</Directory>\n"
    h = server(directory + section("/api", "ApiAuthProvider jwt"))
    assert h.config_test().returncode == 0, h.config_test().stderr


def test_file_provider_without_a_file_does_not_start(server, tmp_path):
    h = server(section("/keys", "ApiAuthProvider file"))
    assert_refused_at_start(h, "ApiAuthProvider file needs "
                            "ApiAuthCredentialFile", "<Location /keys>")
    h = server(section("/keys", "ApiAuthProvider file",
                       f'ApiAuthCredentialFile "{tmp_path}/keys.txt"'))
    assert h.config_test().returncode == 0
    h.start()
    # the file itself may come later: until then, fail closed
    assert h.get("/keys/hello",
                  headers={"X-API-Key": "aak_nothing"}).status_code == 503


def test_a_certificate_header_without_a_trusted_proxy_does_not_start(server):
    h = server("ApiAuthClientCertHeader X-SSL-Client-Cert\n")
    assert_refused_at_start(h, "ApiAuthClientCertHeader X-SSL-Client-Cert "
                            "is believed only from an ApiAuthTrustedProxy")
    h = server("ApiAuthClientCertHeader X-SSL-Client-Cert\n"
               "ApiAuthTrustedProxy 10.0.0.0/8\n")
    assert h.config_test().returncode == 0, h.config_test().stderr
    h = server("ApiAuthClientCertHeader \"X SSL\"\n")
    assert_refused_at_start(h, "ApiAuthClientCertHeader: 'X SSL' is not a "
                            "header name")
