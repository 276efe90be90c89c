"""README's first line ends in `make demo`: the demo starts, answers the curl
commands it prints as it says, and cleans up after itself."""
import subprocess

from harness import ROOT


def test_demo_selftest():
    proc = subprocess.run(["sh", str(ROOT / "support" / "demo.sh"),
                           "--selftest"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "selftest: 401 200 200 200 403" in proc.stdout
