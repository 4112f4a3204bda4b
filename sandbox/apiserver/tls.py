"""A throw-away TLS identity for the stand-in API server.

kubectl (client-go) never sends bearer tokens over plain http, so kubeconfigs point at https. The server
answers TLS and plain HTTP on the same port (it peeks at the first byte of each connection), so `.url`
stays plain http for scripts. The self-signed certificate is made once per process with the openssl
command line, for 127.0.0.1, ::1 and localhost, and is its own CA (kubeconfigs embed it).
"""

from __future__ import annotations

import functools
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsIdentity:
    cert_path: Path
    key_path: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


@functools.cache
def sandbox_identity() -> TlsIdentity | None:
    """The process-wide identity, or None when openssl is not installed (then: plain http only)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="kams-apiserver-tls-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "3650",
            "-subj",
            "/O=KAMS sandbox/CN=kams-sandbox-apiserver",
            "-addext",
            "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyCertSign",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    key.chmod(0o600)
    return TlsIdentity(cert, key)
