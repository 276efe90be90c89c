"""No secret the suite used ever reaches a log (DESIGN.md, "Responses":
nothing logged ever contains a secret; logs name the credential id).

This module runs last (pytest takes the files of a directory in the order
of their names).  By then every server of the session has stopped, and
harness.SECRETS holds every secret the suite minted or used -- keys, app,
backend and install tokens, sessions, client secrets, codes, access and
refresh tokens, passwords -- and a copy of every error.log and access.log
those servers wrote.  Each secret is looked for in each log as it is,
URL-encoded, inside base64 (a Basic pair) and, for a JWT, by its
signature; and each log is searched for anything shaped like one of our
secrets even if the registry never saw it.  A finding names the log, the
test that started its server and the kind of secret, never the secret;
APIAUTH_KEEP_LOGS=1 keeps the copies of the logs to look at.

Run alone, or after a subset of the suite, it checks what that subset
left; the check that the registry saw every kind needs the whole
directory."""
import os
import re
from pathlib import Path

import pytest

from harness import SECRETS, SecretRegistry, secret_forms

HERE = Path(__file__).resolve().parent

# what one of our secrets looks like (lib/base/keys.h: PREFIX_<32 random><6
# checksum>), and a whole JWT
SHAPES = [
    (re.compile(r"\baak_[0-9A-Za-z]{30,}"), "key-shaped string"),
    (re.compile(r"\baas_[0-9A-Za-z]{30,}"), "session-token-shaped string"),
    (re.compile(r"\baai_[0-9A-Za-z]{30,}"), "install-token-shaped string"),
    (re.compile(r"\baac_[0-9A-Za-z]{30,}"), "code-shaped string"),
    (re.compile(r"\baar_[0-9A-Za-z]{30,}"), "refresh-token-shaped string"),
    (re.compile(r"\baacs_[0-9A-Za-z]{30,}"), "client-secret-shaped string"),
    (re.compile(r"\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\."
                r"[0-9A-Za-z_-]{16,}"), "JWT"),
]

EVERY_KIND = {"key (api_key)", "key (token)", "key (app_token)",
              "key (backend)", "client secret", "access token",
              "refresh token", "authorization code", "session token",
              "install token", "user password", "resource owner password"}

# every form is at least this long (harness.SecretRegistry.MIN_LENGTH)
GRAM = SecretRegistry.MIN_LENGTH

# Secrets other tests send, on purpose, where nothing can know they are
# secrets; each is excused only in the log lines that show that request:
# (test file, log, pattern of the line).
SENT_ON_PURPOSE = [
    # a key in the query of a location without ApiAuthKeyQuery is no
    # credential there, so it is not masked
    ("test_schemes.py", "access.log", r'"GET /default/env\?api_key='),
    # ?installid=&token= where ApiAuthScheme install is not accepted
    ("test_contextual.py", "access.log",
     r'"GET /v3/(other/env|users/token/)\?installid=[^ &]*&token='),
]


def index_of_forms():
    """{first GRAM characters: [(form, kind)]} over every form of every
    secret: one pass over a log then finds them all."""
    index = {}
    for kind, value in SECRETS.secrets():
        for form in secret_forms(value):
            index.setdefault(form[:GRAM], []).append((form, kind))
    return index


def line_at(text, i):
    start = text.rfind("\n", 0, i) + 1
    end = text.find("\n", i)
    return text.count("\n", 0, i) + 1, text[start:end if end >= 0 else None]


def secrets_in(text, index):
    """[(kind, line number, line)] for every registered secret `text`
    holds (the line is for matching SENT_ON_PURPOSE, never shown)."""
    found = []
    for i in range(len(text) - GRAM + 1):
        candidates = index.get(text[i:i + GRAM])
        if candidates:
            for form, kind in candidates:
                if text.startswith(form, i):
                    found.append((kind, *line_at(text, i)))
    return found


def sent_on_purpose(label, log, line):
    test_file = Path(label.split("::")[0]).name
    return any(test_file == name and log == which and re.search(pattern, line)
               for name, which, pattern in SENT_ON_PURPOSE)


def shapes_in(text):
    """[(kind, line number, line)] for everything shaped like a secret."""
    found = []
    for pattern, kind in SHAPES:
        for m in pattern.finditer(text):
            found.append((kind, *line_at(text, m.start())))
    return found


@pytest.fixture(scope="module")
def logs():
    kept = SECRETS.logs()
    if not kept:
        pytest.skip("no server ran earlier in this session; run this module "
                    "after the others (the whole directory)")
    return kept


def describe(label, path, kind, line):
    # the log's own path only where it is kept: the archive is removed
    # at exit unless APIAUTH_KEEP_LOGS is set
    where = path if os.environ.get("APIAUTH_KEEP_LOGS") else path.name
    return f"{where} line {line}, server started by {label}: {kind}"


def test_no_secret_the_suite_used_is_in_any_log(logs):
    index = index_of_forms()
    assert index, "the registry holds no secret"
    findings = set()
    for label, path in logs:
        text = path.read_text(errors="replace")
        for kind, number, line in secrets_in(text, index):
            if not sent_on_purpose(label, path.name, line):
                findings.add(describe(label, path, kind, number))
    assert not findings, ("secrets in logs:\n" + "\n".join(sorted(findings)))


def test_nothing_shaped_like_a_secret_is_in_any_log(logs):
    findings = set()
    for label, path in logs:
        text = path.read_text(errors="replace")
        for kind, number, line in shapes_in(text):
            if not sent_on_purpose(label, path.name, line):
                findings.add(describe(label, path, kind, number))
    assert not findings, ("secret-shaped strings in logs:\n"
                          + "\n".join(sorted(findings)))


def test_registry_saw_every_kind_of_secret(request, logs):
    ran = {Path(str(item.fspath)).name for item in request.session.items}
    every = {p.name for p in HERE.glob("test_*.py")}
    if not every <= ran:
        pytest.skip("only part of the suite ran: "
                    f"{len(every - ran)} test files were left out")
    assert EVERY_KIND <= SECRETS.kinds(), \
        f"never registered: {sorted(EVERY_KIND - SECRETS.kinds())}"
