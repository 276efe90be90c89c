"""README stays true: every ```apache block in it is accepted by
`apache2 -t` (with the modules it names loaded, and the files it names made
in a temporary directory), and its shell examples name only commands and
options apiauth-admin has."""
import re
import subprocess

import pytest

from harness import ADMIN, HTTPD_BIN, MODULE_DIR, ROOT, make_workdir
from examples import local_paths, make_named_files

README = (ROOT / "README.md").read_text()
APACHE_BLOCKS = re.findall(r"```apache\n(.*?)```", README, re.S)


def without_loadmodule(block):
    """The block's LoadModule lines for httpd's own modules, from where
    Debian keeps them; ours come from conf-examples/*.load (base)."""
    lines = []
    for line in block.splitlines():
        words = line.split()
        if words[:1] == ["LoadModule"]:
            so = MODULE_DIR / words[2].rsplit("/", 1)[-1]
            if len(words) != 3 or words[1].startswith("apiauth") \
                    or not so.exists():
                continue
            line = f"LoadModule {words[1]} {so}"
        lines.append(line)
    return "\n".join(lines)


def base(workdir):
    loads = "\n".join(local_paths((ROOT / "conf-examples" / n).read_text(),
                                  workdir)
                      for n in ("apiauth.load", "apiauth_oauth.load"))
    mods = ["mpm_event", "authn_core", "authz_core", "auth_basic",
            "authn_file", "authz_user", "dbd", "socache_shmcb"]
    return "\n".join([f'ServerRoot "{workdir}"', "ServerName 127.0.0.1",
                      f'PidFile "{workdir}/httpd.pid"',
                      f'ErrorLog "{workdir}/error.log"', "Listen 127.0.0.1:1"]
                     + [f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so"
                        for m in mods] + [loads])


def test_readme_has_configuration_blocks():
    assert len(APACHE_BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(APACHE_BLOCKS)))
def test_readme_configuration_block_is_valid(index):
    d = make_workdir("apiauth-readme-")
    make_named_files(d)
    block = local_paths(without_loadmodule(APACHE_BLOCKS[index]), d)
    conf = d / "httpd.conf"
    conf.write_text(base(d) + "\n" + block)
    proc = subprocess.run([HTTPD_BIN, "-t", "-f", str(conf)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"README block {index}:\n{block}\n{proc.stderr}"


def test_readme_admin_commands_exist():
    """Each `apiauth-admin WORD WORD` in README is a command --help lists."""
    help_text = subprocess.run([str(ADMIN), "--help"], capture_output=True,
                               text=True).stdout
    used = set(re.findall(r"apiauth-admin(?: -P \S+)? ((?:app|key|client|grant)"
                          r" [a-z]+|init|purge)\b", README))
    assert used
    for command in used:
        assert command in help_text, command
