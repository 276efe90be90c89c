"""apiauth-admin's users, sessions and installs, as an operator uses them,
checked against a running server (conf-examples/tapglue.conf for logins
and sessions, contextual.conf for Token keys bound to a user).

The server runs with `ApiAuthCache off`: these commands change the store
behind the server's back, which a cached credential would only notice
within ApiAuthCacheTTL (documented); the tests here are about what the
commands do, not about the cache."""
import json
import re
import subprocess

import pytest

from examples import ExampleSite
from harness import ADMIN, env_of

LOGIN = "/0.4/user/login"
ME = "/0.4/me/env"
V3 = "/v3/anything/env"


@pytest.fixture(scope="module")
def ops(tls):
    a = ExampleSite("apiauth-admin-users-")
    store = a.store
    a.app = store.app("shop")
    a.app_token, _ = store.key("shop", "--kind", "app_token")
    a.backend, _ = store.key("shop", "--kind", "backend")
    a.other_app = store.app("market")
    a.serve(tls, "<Location />\n    ApiAuthCache off\n</Location>\n"
            + a.example("tapglue.conf", "contextual.conf"))
    yield a
    a.remove()


def create_user(ops, name, password, *extra):
    return ops.store.admin("user", "create", name, *extra, check=False,
                           input=password + "\n")


def login(ops, name, password):
    return ops.post(LOGIN, auth=(ops.app_token, ""),
                    json={"username": name, "password": password})


def session_of(ops, name, password):
    r = login(ops, name, password)
    assert r.status_code == 201, r.text
    return r.json()["session_token"]


def user_ids(ops):
    return {u["user_id"] for u in
            json.loads(ops.store.out("user", "list", json=True))}


# ---- user create ----------------------------------------------------------------

def test_user_create_reads_the_password_from_stdin(ops):
    p = create_user(ops, "ann", "ann-password-1", "--app", "shop",
                    "--email", "ann@example.com")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ann"
    assert "ann-password-1" not in p.stdout + p.stderr
    assert login(ops, "ann", "ann-password-1").status_code == 201
    assert login(ops, "ann@example.com",
                 "ann-password-1").status_code == 201


def test_user_create_refuses_a_short_password(ops):
    p = create_user(ops, "shorty", "seven77", "--app", "shop")
    assert p.returncode == 2, p.stderr
    assert "shorty" not in user_ids(ops)


def test_user_create_without_a_password_is_usage_error(ops):
    p = ops.store.admin("user", "create", "silent", check=False, input="")
    assert p.returncode == 2
    assert "silent" not in user_ids(ops)


@pytest.mark.parametrize("name", ["app_lookalike", "cli_lookalike"])
def test_user_create_refuses_app_and_client_lookalikes(ops, name):
    p = create_user(ops, name, "long-enough-pw")
    assert p.returncode == 2, p.stderr
    assert name not in user_ids(ops)


def test_user_create_refuses_a_duplicate(ops):
    assert create_user(ops, "dup", "first-password").returncode == 0
    p = create_user(ops, "dup", "second-password")
    assert p.returncode == 1, p.stderr
    assert login(ops, "dup", "first-password").status_code == 201
    assert login(ops, "dup", "second-password").status_code == 401


def test_user_create_in_unknown_app_is_refused(ops):
    p = create_user(ops, "lost", "long-enough-pw", "--app", "no-such-app")
    assert p.returncode == 1, p.stderr
    assert "lost" not in user_ids(ops)


# ---- user passwd ----------------------------------------------------------------

def test_user_passwd_replaces_the_password(ops):
    assert create_user(ops, "pat", "old-password-1",
                       "--app", "shop").returncode == 0
    assert login(ops, "pat", "old-password-1").status_code == 201
    p = ops.store.admin("user", "passwd", "pat", check=False,
                        input="new-password-2\n")
    assert p.returncode == 0, p.stderr
    assert login(ops, "pat", "old-password-1").status_code == 401
    assert login(ops, "pat", "new-password-2").status_code == 201


def test_user_passwd_refuses_short_password_and_unknown_user(ops):
    assert create_user(ops, "quinn", "quinn-password").returncode == 0
    p = ops.store.admin("user", "passwd", "quinn", check=False,
                        input="short\n")
    assert p.returncode == 2
    assert login(ops, "quinn", "quinn-password").status_code == 201
    p = ops.store.admin("user", "passwd", "nobody-here", check=False,
                        input="long-enough-pw\n")
    assert p.returncode == 1


# ---- user delete ----------------------------------------------------------------

def test_user_delete_ends_sessions_and_keys(ops):
    assert create_user(ops, "dora", "dora-password",
                       "--app", "shop").returncode == 0
    session = session_of(ops, "dora", "dora-password")
    key, _ = ops.store.key("shop", "--kind", "token", "--user", "dora")
    assert ops.get(ME, auth=(ops.app_token, session)).status_code == 200
    assert ops.get(V3, headers={"Authorization": "Token " + key}
                   ).status_code == 200
    assert ops.get(ME, auth=(ops.backend, "dora")).status_code == 200

    p = ops.store.admin("user", "delete", "dora", check=False)
    assert p.returncode == 0, p.stderr

    assert ops.get(ME, auth=(ops.app_token, session)).status_code == 401
    assert ops.get(V3, headers={"Authorization": "Token " + key}
                   ).status_code == 401
    assert ops.get(ME, auth=(ops.backend, "dora")).status_code == 401
    assert login(ops, "dora", "dora-password").status_code == 401
    assert "dora" not in user_ids(ops)


def test_user_delete_of_unknown_user_is_refused(ops):
    p = ops.store.admin("user", "delete", "nobody-at-all", check=False)
    assert p.returncode == 1


# ---- user list ------------------------------------------------------------------

def test_user_list_json_never_shows_a_password(ops):
    assert create_user(ops, "lena", "lena-password", "--app", "shop",
                       "--email", "lena@example.com").returncode == 0
    out = ops.store.out("user", "list", json=True)
    users = {u["user_id"]: u for u in json.loads(out)}
    assert users["lena"]["email"] == "lena@example.com"
    assert users["lena"]["app"] == ops.app
    assert "$2" not in out and "password" not in out
    hashes = ops.store.sql("SELECT password FROM apiauth_users").split()
    assert hashes and not any(h in out for h in hashes)
    text = ops.store.out("user", "list")
    assert "lena" in text and "$2" not in text


# ---- sessions -------------------------------------------------------------------

def test_session_list_and_revoke(ops):
    assert create_user(ops, "sam", "sam-password-1",
                       "--app", "shop").returncode == 0
    session = session_of(ops, "sam", "sam-password-1")
    kept = session_of(ops, "sam", "sam-password-1")
    listed = json.loads(ops.store.out("session", "list", "sam", json=True))
    assert len(listed) == 2
    assert all(s["user"] == "sam" and s["app"] == ops.app for s in listed)
    assert all(s["id"].startswith("ses_") for s in listed)
    out = json.dumps(listed)
    assert session not in out and kept not in out

    assert ops.get(ME, auth=(ops.app_token, session)).status_code == 200
    # which listed id is `session`: revoke each in turn and see
    first = listed[0]["id"]
    p = ops.store.admin("session", "revoke", first, check=False)
    assert p.returncode == 0, p.stderr
    statuses = sorted(ops.get(ME, auth=(ops.app_token, s)).status_code
                      for s in (session, kept))
    assert statuses == [200, 401]
    left = json.loads(ops.store.out("session", "list", "sam", json=True))
    assert [s["id"] for s in left] == [listed[1]["id"]]

    again = ops.store.admin("session", "revoke", first, check=False)
    assert again.returncode == 1
    unknown = ops.store.admin("session", "revoke", "ses_doesnotexist",
                              check=False)
    assert unknown.returncode == 1


def test_session_revoke_takes_only_session_ids(ops):
    _, key_id = ops.store.key("shop")
    p = ops.store.admin("session", "revoke", key_id, check=False)
    assert p.returncode == 2


# ---- app install ----------------------------------------------------------------

def test_app_install_is_idempotent(ops):
    for _ in range(2):
        p = ops.store.admin("app", "install", "shop", "company-7",
                            check=False)
        assert p.returncode == 0, p.stderr
    rows = ops.store.sql("SELECT count(*) FROM apiauth_app_groups "
                         f"WHERE app_id = '{ops.app}' "
                         "AND group_id = 'company-7'")
    assert rows == "1"


def test_app_install_of_unknown_app_is_refused(ops):
    p = ops.store.admin("app", "install", "no-such-app", "company-7",
                        check=False)
    assert p.returncode == 1


# ---- key create --user ----------------------------------------------------------

def test_token_key_for_unknown_user_is_refused(ops):
    p = ops.store.admin("key", "create", "shop", "--kind", "token",
                        "--user", "ghost", check=False)
    assert p.returncode == 1, p.stderr
    assert p.stdout.strip() == ""


def test_token_key_for_a_user_of_another_app_is_refused(ops):
    assert create_user(ops, "mia", "mia-password",
                       "--app", "market").returncode == 0
    p = ops.store.admin("key", "create", "shop", "--kind", "token",
                        "--user", "mia", check=False)
    assert p.returncode == 1, p.stderr
    assert p.stdout.strip() == ""
    p = ops.store.admin("key", "create", "market", "--kind", "token",
                        "--user", "mia", check=False)
    assert p.returncode == 0, p.stderr


def test_token_key_for_a_user_of_no_app_works_in_any_app(ops):
    assert create_user(ops, "nomad", "nomad-password").returncode == 0
    key, _ = ops.store.key("shop", "--kind", "token", "--user", "nomad")
    r = ops.get(V3, headers={"Authorization": "Token " + key})
    assert r.status_code == 200, r.text
    assert env_of(r)["REMOTE_USER"] == "nomad"
    assert env_of(r)["APIAUTH_APP"] == ops.app


# ---- --help ---------------------------------------------------------------------

COMMANDS = ["init", "purge", "app create", "app list", "app install",
            "key create", "key list", "key revoke", "user create",
            "user passwd", "user delete", "user list", "session list",
            "session revoke", "client create", "client list",
            "client delete", "grant revoke"]


def help_text(*args):
    p = subprocess.run([str(ADMIN), *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def command_lines(text):
    """The commands the help describes: its lines that start with two
    spaces and a lower-case word (one word for init and purge, two for
    the others)."""
    found = set()
    for m in re.finditer(r"^  ([a-z]+)(?: ([a-z]+))?\b", text, re.M):
        first, second = m.group(1), m.group(2)
        found.add(first if first in ("init", "purge") or not second
                  else f"{first} {second}")
    return found


def example_lines(text):
    """Every example: a line, or one stage of a pipeline in it, that starts
    with apiauth-admin."""
    out = []
    for line in text.splitlines():
        for stage in line.split("|"):
            if stage.strip().startswith("apiauth-admin "):
                out.append(stage.strip())
    return out


def test_help_gives_an_example_of_every_command():
    text = help_text("--help")
    described = command_lines(text)
    assert set(COMMANDS) <= described, set(COMMANDS) - described
    examples = example_lines(text)
    options = r"(?:\s+(?:-[DP]\s+\S+|--pepper\s+\S+|--json))*"
    for command in described | set(COMMANDS):
        pattern = re.compile(r"^apiauth-admin" + options + r"\s+"
                             + r"\s+".join(command.split()) + r"(\s|$)")
        assert any(pattern.match(e) for e in examples), command


def test_help_mentions_every_command_the_tool_takes():
    text = help_text("help")
    assert text == help_text("--help")
    words = {c.split()[0] for c in command_lines(text)}
    assert {"init", "purge", "app", "key", "user", "session", "client",
            "grant"} <= words
    bad = subprocess.run([str(ADMIN), "frobnicate"], capture_output=True,
                         text=True)
    assert bad.returncode == 2
