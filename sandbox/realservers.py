"""Where the real servers built by scripts/real-servers.sh live, and how a test asks for one.

    from sandbox import realservers
    path = realservers.binary("kube-apiserver")      # Path, or None when it was not built here
    realservers.missing_reason("kube-apiserver")     # the sentence a skipped test shows

The versions come from scripts/real-servers/versions.env, which the build script reads too, so Python and
bash never disagree about which build to use. Binaries are cached per machine, outside the work tree
(default ~/.cache/kams/servers; KAMS_SERVERS_CACHE moves it), so a fresh clone reuses them.

KAMS_REQUIRE_REAL_SERVERS=1 (set by .ci/run) turns "not built, skipping" into a failure: on this project's
machines Go is always there, so a missing server means the build broke, not that the machine lacks it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "scripts" / "real-servers.sh"
VERSIONS_FILE = ROOT / "scripts" / "real-servers" / "versions.env"
REQUIRE_VARIABLE = "KAMS_REQUIRE_REAL_SERVERS"


@dataclass(frozen=True)
class RealServer:
    name: str  # the cache folder's prefix and the build script's argument
    version_key: str  # its line in versions.env
    module: str  # the Go module it is built from, for messages


SERVERS = {
    server.name: server
    for server in (
        RealServer("kube-apiserver", "KUBERNETES_VERSION", "k8s.io/kubernetes"),
        RealServer("etcd", "ETCD_VERSION", "go.etcd.io/etcd/server/v3"),
        RealServer("prometheus", "PROMETHEUS_VERSION", "github.com/prometheus/prometheus"),
        RealServer("alertmanager", "ALERTMANAGER_VERSION", "github.com/prometheus/alertmanager"),
        RealServer("oauth2-proxy", "OAUTH2_PROXY_VERSION", "github.com/oauth2-proxy/oauth2-proxy/v7"),
    )
}
#: Which build folder holds a program (promtool comes with prometheus).
PROGRAMS = {"kube-apiserver": "kube-apiserver", "etcd": "etcd", "prometheus": "prometheus",
            "promtool": "prometheus", "alertmanager": "alertmanager", "oauth2-proxy": "oauth2-proxy"}


def versions() -> dict[str, str]:
    pairs = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def version(name: str) -> str:
    return versions()[SERVERS[name].version_key]


def cache_dir() -> Path:
    if configured := os.environ.get("KAMS_SERVERS_CACHE"):
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kams" / "servers"


def build_dir(name: str) -> Path:
    return cache_dir() / f"{name}-{version(name)}"


def path(program: str) -> Path:
    """Where the build puts `program` (kube-apiserver, etcd, prometheus, promtool, alertmanager), built
    or not."""
    return build_dir(PROGRAMS[program]) / program


def binary(program: str) -> Path | None:
    """The built program, or None when it was not built here."""
    found = path(program)
    return found if found.is_file() and os.access(found, os.X_OK) else None


def missing_reason(program: str) -> str:
    name = PROGRAMS[program]
    return (f"the real {program} ({SERVERS[name].module} {version(name)}) is not built on this machine: "
            f"run `scripts/real-servers.sh {name}` (make test does; it needs Go)")


def required() -> bool:
    """True where a missing real server must fail the run instead of skipping (CI)."""
    return os.environ.get(REQUIRE_VARIABLE, "") not in ("", "0", "false", "no")


def build_seconds(name: str) -> str | None:
    """The build's own line from build.txt ("... built in N s on 2 cores ..."), if it was built here."""
    try:
        return (build_dir(name) / "build.txt").read_text(encoding="utf-8").strip()
    except OSError:
        return None
