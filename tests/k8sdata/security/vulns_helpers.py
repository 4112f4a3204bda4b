"""What the vulnerability tests share: one collect_vulnerabilities call through a fresh client."""

from __future__ import annotations

from pathlib import Path

from k8sdata.config import Settings
from k8sdata.security import vulns
from k8sdata.sources.kube import KubeClient


def collect(kubeconfig: Path | str, **environment: str) -> vulns.VulnerabilityData:
    """collect_vulnerabilities with these settings (KAMS_REQUEST_TIMEOUT 5 s unless given)."""
    settings = Settings.from_env({"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": "5", **environment})
    kube = KubeClient(settings)
    try:
        return vulns.collect_vulnerabilities(kube, settings)
    finally:
        kube.close()
