"""Certificates for the mutual-TLS tests, made with openssl: a CA, client
certificates it signs, self-signed ones, and their RFC 8705 thumbprint."""
import base64
import hashlib
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_cert(d, name, subj, ca=None):
    """A key and a certificate: signed by `ca` (a (cert, key) pair), or
    self-signed."""
    key, crt = d / f"{name}.key", d / f"{name}.pem"
    if ca is None:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", subj, "-keyout", str(key), "-out", str(crt))
    else:
        csr = d / f"{name}.csr"
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-subj", subj,
                "-keyout", str(key), "-out", str(csr))
        openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]),
                "-CAkey", str(ca[1]), "-CAcreateserial", "-days", "2",
                "-out", str(crt))
    for p in (key, crt):
        p.chmod(0o644)
    return crt, key


def thumbprint(crt):
    der = x509.load_pem_x509_certificate(crt.read_bytes()).public_bytes(
        Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(
        b"=").decode()
