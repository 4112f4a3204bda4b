"""`python -m sandbox.realcluster --out DIR`: prints `ready` once both kubeconfigs work, serves until SIGTERM,
then stops etcd and kube-apiserver and deletes their data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.realservers import need_real

ROOT = Path(__file__).resolve().parent.parent.parent


def kubectl(*arguments: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "kubectl"
    return subprocess.run([str(binary), *arguments], capture_output=True, text=True, timeout=60)


def test_the_command_serves_until_sigterm_then_cleans_up(tmp_path: Path) -> None:
    need_real("etcd")
    need_real("kube-apiserver")
    out = tmp_path / "cluster"
    process = subprocess.Popen([sys.executable, "-m", "sandbox.realcluster", "--out", str(out)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        admin, kams = out / "admin.kubeconfig", out / "kams.kubeconfig"
        listed = kubectl("--kubeconfig", str(admin), "get", "serviceaccount/kams", "-n", "kams", "-o", "name")
        assert listed.stdout.strip() == "serviceaccount/kams", listed.stderr
        # The ServiceAccount's token has the deployed permissions: reads yes, Secrets and writes no.
        for verb, resource, expected in (("list", "pods", "yes"), ("watch", "events", "yes"),
                                         ("get", "secrets", "no"), ("create", "pods", "no"),
                                         ("create", "pods/exec", "no")):
            answer = kubectl("--kubeconfig", str(kams), "auth", "can-i", verb, resource, "-A")
            assert answer.stdout.strip() == expected, (verb, resource, answer.stdout, answer.stderr)
        whoami = kubectl("--kubeconfig", str(kams), "auth", "whoami",
                         "-o", "jsonpath={.status.userInfo.username}")
        assert whoami.stdout == "system:serviceaccount:kams:kams", whoami.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    data = re.search(r"data in (\S+)", errors)
    assert data, errors
    assert not Path(data.group(1)).exists()
    assert not (out / "kams.kubeconfig").exists()
    # Nothing it started is left listening: the API server's port refuses connections.
    port = re.search(r"https://127\.0\.0\.1:(\d+)", errors)
    assert port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port.group(1))), timeout=5).close()
