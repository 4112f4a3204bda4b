"""Helpers for tests of KAMS against the real kube-apiserver with the demo loaded (fixtures `real_demo`,
`real_demo_env` in tests/realcluster/conftest.py): the server's own printer, and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from sandbox.realcluster import RealCluster
from tests.plugins.app import ROOT, app_env_names

#: What kubectl asks for: the server's printer (pkg/printers/internalversion) runs inside kube-apiserver.
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
#: The namespaces the demo puts objects in (default holds a node's OOM event). Tests of other modules
#: share the server and make namespaces of their own, so assertions about the demo look at these only.
DEMO_NAMESPACES = frozenset({"batch", "default", "kams", "kube-system", "legacy", "monitoring", "shop"})
CLI_TIMEOUT = 180


def server_rows(cluster: RealCluster, path: str) -> dict[str, dict[str, Any]]:
    """The server's own printer (what kubectl prints) for a list path, as the kams ServiceAccount reads
    it: cells by column name, keyed by NAMESPACE/NAME (NAME for cluster-scoped objects)."""
    table = cluster.reader.get(path, accept=TABLE)
    headers = [column["name"] for column in table["columnDefinitions"]]
    rows = {}
    for row in table["rows"]:
        metadata = row["object"]["metadata"]
        key = f"{metadata['namespace']}/{metadata['name']}" if metadata.get("namespace") else metadata["name"]
        rows[key] = dict(zip(headers, row["cells"], strict=True))
    return rows


def run_cli(env: Mapping[str, str], *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m k8sdata ARGUMENTS` with KAMS's settings exactly `env` (the developer's own removed)."""
    ours = set(app_env_names(os.environ))
    environment = {key: value for key, value in os.environ.items() if key not in ours} | dict(env)
    done = subprocess.run([sys.executable, "-m", "k8sdata", *arguments], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, env=environment, cwd=ROOT)
    if check:
        assert done.returncode == 0, (arguments, done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done

