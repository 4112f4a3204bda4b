"""Which Prometheus (and Alertmanager) the sandbox runs: Debian's 2.42 with its Alertmanager 0.25, or
3.x and Alertmanager 0.3x built from their Go modules by scripts/real-servers.sh.

A flavour names the programs that belong together: the server, the promtool that backfills its history
and checks its rules (its parser must be the server's), and the Alertmanager it sends to. KAMS must work
with both majors (3.0 changed range selectors, `le` values, UTF-8 names), so the tests run on each
(tests/plugins/prometheus.py) and the demo runs the newest one this machine has (`newest()`).

    from sandbox.prometheus.flavours import BUILT, newest
    PrometheusServer(targets, flavour=BUILT)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox import realservers


@dataclass(frozen=True)
class Flavour:
    name: str  # the tests' id for it, and what the demo prints
    prometheus_release: str  # as /api/v1/status/buildinfo begins it
    alertmanager_release: str  # as /api/v2/status gives it
    prometheus: Path
    promtool: Path
    alertmanager: Path
    #: Takes label and metric names beyond [a-zA-Z_:][a-zA-Z0-9_:]* (quoted in PromQL): Prometheus 3.
    utf8_names: bool
    #: Built by scripts/real-servers.sh (so a test that cannot find it skips, or fails in CI), rather
    #: than installed from Debian's packages.
    built: bool

    def has_prometheus(self) -> bool:
        return all(os.access(path, os.X_OK) for path in (self.prometheus, self.promtool))

    def has_alertmanager(self) -> bool:
        return os.access(self.alertmanager, os.X_OK)


def release(module_version: str) -> str:
    """Prometheus' release of a github.com/prometheus/prometheus module version: v0.316.0 -> 3.16.0.

    Go modules cannot have a major version above 1 without a /vN path, so Prometheus publishes
    3.xx.y as v0.3xx.y."""
    _major, minor, patch = module_version.removeprefix("v").split(".")
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


DEBIAN = Flavour("debian-2.42", prometheus_release="2.42", alertmanager_release="0.25.0",
                 prometheus=Path("/usr/bin/prometheus"), promtool=Path("/usr/bin/promtool"),
                 alertmanager=Path("/usr/bin/prometheus-alertmanager"), utf8_names=False, built=False)
_BUILT_RELEASE = release(realservers.version("prometheus"))
BUILT = Flavour(f"built-{_BUILT_RELEASE}", prometheus_release=_BUILT_RELEASE,
                alertmanager_release=realservers.version("alertmanager").removeprefix("v"),
                prometheus=realservers.path("prometheus"), promtool=realservers.path("promtool"),
                alertmanager=realservers.path("alertmanager"), utf8_names=True, built=True)
FLAVOURS = (DEBIAN, BUILT)


def newest(available: Callable[[Flavour], bool] = Flavour.has_prometheus) -> Flavour | None:
    """The newest flavour this machine has (by default: whose Prometheus and promtool it has), or None."""
    return next((flavour for flavour in (BUILT, DEBIAN) if available(flavour)), None)
