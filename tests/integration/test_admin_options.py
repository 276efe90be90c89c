"""apiauth-admin refuses what it does not know: an option it has not got,
or one it has but that this command does not take, is a usage error
(exit 2, the reason on stderr, nothing done), for every command.  Before,
`client create ... --dpop-bond --json` read `--json` as the value of an
option nobody had, exited 0, and printed plain text to a script that
expected JSON."""
import json

import pytest

from harness import Store, make_workdir

# every command, with what it needs to run, and one option it does take
COMMANDS = [
    (("init",), None),
    (("purge",), None),
    (("app", "create", "shop2"), None),
    (("app", "list"), None),
    (("app", "install", "shop", "company-1"), None),
    (("key", "create", "shop"), "--scope=a"),
    (("key", "list"), None),
    (("key", "revoke", "crd_nothing"), None),
    (("user", "create", "bob"), "--app=shop"),
    (("user", "passwd", "bob"), None),
    (("user", "delete", "bob"), None),
    (("user", "list"), None),
    (("session", "list"), None),
    (("session", "revoke", "ses_nothing"), None),
    (("client", "create", "web", "--grant", "client_credentials"),
     "--scope=a"),
    (("client", "list"), None),
    (("client", "delete", "cli_nothing"), None),
    (("grant", "revoke", "bob", "web"), None),
]


@pytest.fixture(scope="module")
def store():
    s = Store(make_workdir("apiauth-admin-options-") / "store")
    s.app("shop")
    yield s
    s.drop()


def words(cmd):
    return " ".join(w for w in cmd if not w.startswith("--"))


@pytest.mark.parametrize("cmd,_", COMMANDS, ids=lambda c: words(c)
                         if isinstance(c, tuple) else "")
def test_an_unknown_option_is_a_usage_error(store, cmd, _):
    r = store.admin(*cmd, "--no-such-option", check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "unknown option --no-such-option" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("cmd,_", COMMANDS, ids=lambda c: words(c)
                         if isinstance(c, tuple) else "")
def test_an_option_of_another_command_is_a_usage_error(store, cmd, _):
    other = "--dpop-bound" if cmd[:2] != ("client", "create") \
        else "--expires=1d"
    r = store.admin(*cmd, other, check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"takes no {other.split('=')[0]}" in r.stderr
    assert r.stdout == ""


def test_the_misspelt_flag_of_the_report_is_refused(store):
    r = store.admin("client", "create", "agent", "--grant",
                    "client_credentials", "--dpop-bond", "--json",
                    check=False)
    assert r.returncode == 2
    assert "unknown option --dpop-bond" in r.stderr
    listed = json.loads(store.out("client", "list", json=True))
    assert not any(c["name"] == "agent" for c in listed)
    # spelt right, it works, and --json anywhere is --json
    made = json.loads(store.out("client", "create", "agent", "--grant",
                                "client_credentials", "--dpop-bound",
                                json=True))
    assert made["client_id"].startswith("cli_")


def test_a_flag_takes_no_value(store):
    r = store.admin("app", "list", "--json=yes", check=False)
    assert r.returncode == 2
    assert "no value for --json" in r.stderr


@pytest.mark.parametrize("cmd,option", [c for c in COMMANDS if c[1]],
                         ids=lambda c: words(c) if isinstance(c, tuple)
                         else str(c))
def test_the_options_a_command_takes_still_work(store, cmd, option):
    r = store.admin(*cmd, option, check=False,
                    input="correct horse battery\n")
    assert r.returncode == 0, r.stderr
