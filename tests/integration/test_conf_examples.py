"""Every file in conf-examples/ is accepted by `apache2 -t` with the modules
loaded as an operator would load them (apiauth.load, apiauth_oauth.load).
The files an example names under /etc/apiauth and /var/lib/apiauth are made
in a temporary directory first (a signing key, a users file, a pepper)."""
import subprocess

import pytest

from examples import local_paths, make_named_files
from harness import HTTPD_BIN, MODULE_DIR, ROOT, make_workdir

EXAMPLES = sorted((ROOT / "conf-examples").glob("*.conf"))


def base_config(workdir, example):
    loads = "\n".join(local_paths((ROOT / "conf-examples" / name).read_text(),
                                  workdir)
                      for name in ("apiauth.load", "apiauth_oauth.load"))
    body = local_paths(example.read_text(), workdir)
    (workdir / "example.conf").write_text(body)
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
LoadModule alias_module {MODULE_DIR}/mod_alias.so
LoadModule headers_module {MODULE_DIR}/mod_headers.so
LoadModule request_module {MODULE_DIR}/mod_request.so
LoadModule session_module {MODULE_DIR}/mod_session.so
LoadModule session_cookie_module {MODULE_DIR}/mod_session_cookie.so
LoadModule session_crypto_module {MODULE_DIR}/mod_session_crypto.so
LoadModule auth_form_module {MODULE_DIR}/mod_auth_form.so
{loads}
Include "{workdir}/example.conf"
"""


def test_there_are_examples():
    assert (ROOT / "conf-examples" / "apiauth.load").exists()
    assert (ROOT / "conf-examples" / "apiauth_oauth.load").exists()
    names = {p.name for p in EXAMPLES}
    assert {"apiauth.conf", "taptouch.conf", "generic-api.conf"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_apachectl_accepts_example(example):
    d = make_workdir("apiauth-conf-")
    make_named_files(d)
    conf = d / "httpd.conf"
    conf.write_text(base_config(d, example))
    proc = subprocess.run([HTTPD_BIN, "-t", "-f", str(conf)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Syntax OK" in proc.stderr
