"""ApiAuthProvider file: keys in a text file written by apiauth-admin
(no database), re-read when it changes, failing closed when it is gone,
and chained with dbd."""
import shutil
import time

import pytest

from harness import env_of, file_key, give_to_server, make_workdir

BODY = """
<Location /file>
    AuthType apiauth
    AuthName "file"
    ApiAuthProvider file
    ApiAuthCredentialFile "%(creds)s"
    ApiAuthCache off
    Require valid-user
</Location>
<Location /missing>
    AuthType apiauth
    AuthName "missing"
    ApiAuthProvider file
    ApiAuthCredentialFile "%(missing)s"
    Require valid-user
</Location>
<Location /chain>
    AuthType apiauth
    AuthName "chain"
    ApiAuthProvider file dbd
    ApiAuthCredentialFile "%(creds)s"
    ApiAuthCache off
    Require valid-user
</Location>
"""

NOT_KNOWN = {"error": "invalid_token",
             "error_description": "the credential is not known"}

# the provider stats the file at most once a second
RELOAD_WAIT = 1.2


class Env:
    pass


@pytest.fixture(scope="module")
def env(module_store, module_httpd):
    e = Env()
    e.dir = make_workdir("apiauth-creds-")
    give_to_server(e.dir)
    e.creds = e.dir / "credentials"
    e.app = "app_FileOnlyApp0001"
    e.key, e.key_id = file_key(e.creds, e.app, "--scope", "files.read")
    e.store = module_store()
    e.db_app = e.store.app("db-shop")
    e.db_key, e.db_key_id = e.store.key("db-shop")
    e.httpd = module_httpd(store=e.store, body=BODY % {
        "creds": e.creds, "missing": e.dir / "no-such-file"})
    yield e
    shutil.rmtree(e.dir, ignore_errors=True)


def get(env, path, key):
    return env.httpd.get(path, headers={"X-API-Key": key})


def test_key_from_the_file_is_accepted(env):
    r = get(env, "/file/env", env.key)
    assert r.status_code == 200, r.text
    seen = env_of(r)
    assert seen["REMOTE_USER"] == env.app
    assert seen["APIAUTH_APP"] == env.app
    assert seen["APIAUTH_KIND"] == "api_key"
    assert seen["APIAUTH_SCOPE"] == "files.read"
    assert seen["APIAUTH_CREDENTIAL_ID"] == env.key_id
    assert seen["APIAUTH_EXPIRES"] == "0"


def test_file_holds_a_digest_not_the_secret(env):
    text = env.creds.read_text()
    assert env.key not in text
    assert f":{env.key_id}:api_key:{env.app}::0:files.read" in text


def test_key_unknown_to_the_file_is_refused(env):
    r = get(env, "/file/env", env.db_key)
    assert r.status_code == 401
    assert r.json() == NOT_KNOWN


def test_key_appended_to_the_file_works_without_restart(env):
    new_key, new_id = file_key(env.creds, env.app)
    time.sleep(RELOAD_WAIT)
    r = get(env, "/file/env", new_key)
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_CREDENTIAL_ID"] == new_id
    assert get(env, "/file/env", env.key).status_code == 200


def test_line_removed_from_the_file_stops_its_key(env):
    gone_key, gone_id = file_key(env.creds, env.app)
    time.sleep(RELOAD_WAIT)
    assert get(env, "/file/env", gone_key).status_code == 200
    kept = [line for line in env.creds.read_text().splitlines(True)
            if f":{gone_id}:" not in line]
    env.creds.write_text("".join(kept))
    time.sleep(RELOAD_WAIT)
    r = get(env, "/file/env", gone_key)
    assert r.status_code == 401
    assert r.json() == NOT_KNOWN
    assert get(env, "/file/env", env.key).status_code == 200


def test_expired_line_is_refused(env, tmp_path):
    scratch = tmp_path / "one"
    key, key_id = file_key(scratch, env.app, "--expires", "1h")
    digest, cid, kind, app, user, _, scope = \
        scratch.read_text().strip().split(":", 6)
    past = int(time.time()) - 10
    with env.creds.open("a") as f:
        f.write(f"{digest}:{cid}:{kind}:{app}:{user}:{past}:{scope}\n")
    time.sleep(RELOAD_WAIT)
    r = get(env, "/file/env", key)
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token",
                        "error_description": "the credential has expired"}


def test_malformed_line_is_skipped_and_the_others_still_work(env):
    with env.creds.open("a") as f:
        f.write("this is not a credential line\n# a comment\n\n")
    time.sleep(RELOAD_WAIT)
    assert get(env, "/file/env", env.key).status_code == 200
    assert "AA10060" in env.httpd.error_log()


def test_missing_file_is_503(env):
    r = get(env, "/missing/env", env.key)
    assert r.status_code == 503
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"error": "temporarily_unavailable",
                        "error_description":
                            "the credential store is unreachable"}


@pytest.mark.parametrize("which", ["file", "dbd"])
def test_chain_finds_keys_of_either_provider(env, which):
    key, key_id, app = ((env.key, env.key_id, env.app) if which == "file"
                        else (env.db_key, env.db_key_id, env.db_app))
    r = get(env, "/chain/env", key)
    assert r.status_code == 200, r.text
    assert env_of(r)["APIAUTH_CREDENTIAL_ID"] == key_id
    assert env_of(r)["REMOTE_USER"] == app


def test_chain_refuses_a_key_neither_knows(env, tmp_path):
    other_store_key, _ = file_key(tmp_path / "elsewhere", env.app)
    r = get(env, "/chain/env", other_store_key)
    assert r.status_code == 401
    assert r.json() == NOT_KNOWN


def test_chain_stops_at_the_provider_that_knows_a_revoked_key(env):
    key, key_id = env.store.key("db-shop")
    env.store.revoke(key_id)
    r = get(env, "/chain/env", key)
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token",
                        "error_description":
                            "the credential has been revoked"}
