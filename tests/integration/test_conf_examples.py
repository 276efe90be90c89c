"""Every file in conf-examples/ is accepted by `apache2 -t` with the module
loaded, as an operator would include it."""
import subprocess
from pathlib import Path

import pytest

from harness import APIAUTH_SO, HTTPD_BIN, MODULE_DIR, ROOT, make_workdir

EXAMPLES = sorted((ROOT / "conf-examples").glob("*.conf"))


def base_config(workdir, example):
    load = (ROOT / "conf-examples" / "apiauth.load").read_text().replace(
        "/usr/lib/apache2/modules/mod_apiauth.so", str(APIAUTH_SO))
    return f"""
ServerRoot "{workdir}"
ServerName 127.0.0.1
DefaultRuntimeDir "{workdir}"
PidFile "{workdir}/httpd.pid"
ErrorLog "{workdir}/error.log"
Listen 127.0.0.1:1
LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so
LoadModule authn_core_module {MODULE_DIR}/mod_authn_core.so
LoadModule authz_core_module {MODULE_DIR}/mod_authz_core.so
LoadModule auth_basic_module {MODULE_DIR}/mod_auth_basic.so
LoadModule authn_file_module {MODULE_DIR}/mod_authn_file.so
LoadModule authz_user_module {MODULE_DIR}/mod_authz_user.so
LoadModule dbd_module {MODULE_DIR}/mod_dbd.so
LoadModule socache_shmcb_module {MODULE_DIR}/mod_socache_shmcb.so
LoadModule proxy_module {MODULE_DIR}/mod_proxy.so
LoadModule proxy_http_module {MODULE_DIR}/mod_proxy_http.so
{load}
Include "{example}"
"""


def test_there_are_examples():
    assert (ROOT / "conf-examples" / "apiauth.load").exists()
    assert EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_apachectl_accepts_example(example):
    d = make_workdir("apiauth-conf-")
    conf = d / "httpd.conf"
    conf.write_text(base_config(d, example))
    proc = subprocess.run([HTTPD_BIN, "-t", "-f", str(conf)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Syntax OK" in proc.stderr
