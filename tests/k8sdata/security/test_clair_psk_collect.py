"""collect_vulnerabilities signs its Clair requests when CLAIR_PSK is set (k8sdata.security.clair_auth)."""

from __future__ import annotations

import base64
from typing import Any

from k8sdata.errors import Forbidden
from k8sdata.security.clair_auth import ClairKeyError
from sandbox.clair import ClairStandIn
from tests.k8sdata.security.vulns_helpers import collect

KEY = base64.b64encode(b"a pre-shared key of thirty-two b").decode()


def test_collect_vulnerabilities_signs_clair_requests_and_says_why_clair_refused(kube_api: Any) -> None:
    with ClairStandIn(psk=KEY, issuers=["clairctl"]) as clair:
        signed = collect(kube_api.reader_kubeconfig, CLAIR_URL=clair.url, CLAIR_PSK=KEY)
        assert isinstance(signed.clair, list) and any(r.status == "scanned" for r in signed.clair)
        assert clair.refusals == []
        unsigned = collect(kube_api.reader_kubeconfig, CLAIR_URL=clair.url)
        assert isinstance(unsigned.clair, Forbidden)
        assert "Set CLAIR_PSK" in unsigned.sentences()["clair"]
        broken = collect(kube_api.reader_kubeconfig, CLAIR_URL=clair.url, CLAIR_PSK="not base64")
        assert isinstance(broken.clair, ClairKeyError)
        assert "CLAIR_PSK is not base64" in broken.sentences()["clair"]
