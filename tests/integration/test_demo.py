"""README's first line ends in `make demo`: the demo starts, answers the curl
commands it prints as it says -- keys, client credentials -- and the
authorization code flow it prints for a browser works in one (Chromium
signs in, allows, lands on the callback page, whose curl exchanges the
code for a token the API takes), and it cleans up after itself."""
import subprocess

from harness import ROOT


def test_demo_selftest():
    proc = subprocess.run(["sh", str(ROOT / "support" / "demo.sh"),
                           "--selftest"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "selftest: 401 200 200 200 403" in proc.stdout
    assert "selftest client_credentials: 200" in proc.stdout
    assert ("selftest browser: callback page ok, code exchanged, API 200"
            in proc.stdout), proc.stdout[-2000:]
