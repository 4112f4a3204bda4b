"""security_report reads each list once and keeps only what the audits read of pods a scanned controller
owns (k8sdata.security.podlists.AuditedPods), and that changes nothing it reports: against the stand-in
API server's demo cluster, the report equals one made from every object read whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from k8sdata.config import Settings
from k8sdata.security.podlists import controlled_by
from k8sdata.security.report import SecurityReport, security_report
from k8sdata.sources.kube import KubeClient

TODAY = dt.date(2026, 1, 1)


class WholeObjects:
    """A KubeClient that ignores `slim`: every list read whole, as before the reduction."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    def list_pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._kube.list_pods(namespace)

    def list_resource(self, group_version: str, resource: str, namespace: str | None = None,
                      label_selector: str | None = None, *,
                      slim: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
        return self._kube.list_resource(group_version, resource, namespace, label_selector)

    def get_json(self, path: str, query: list[tuple[str, str | int]] | None = None) -> dict[str, Any]:
        return self._kube.get_json(path, query)

    def self_rules(self, namespace: str) -> dict[str, Any]:
        return self._kube.self_rules(namespace)


@pytest.fixture
def reader(kube_api: Any) -> Iterator[KubeClient]:
    client = KubeClient(Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig),
                                           "KAMS_REQUEST_TIMEOUT": "5"}))
    yield client
    client.close()


def _what_it_reports(report: SecurityReport) -> tuple[Any, ...]:
    findings = sorted((f.id, f.kind, f.namespace, f.name, f.container or "", f.severity, f.message)
                      for f in report.merged.findings)
    results = sorted((r.check_id, r.kind, r.namespace, r.name, r.passed) for r in report.merged.results)
    return findings, results, report.scores(), report.skipped


def test_reduced_pods_report_what_whole_pods_report_and_each_list_is_read_once(
        kube_api: Any, reader: KubeClient) -> None:
    settings = Settings.from_env({})
    before = len(kube_api.server.request_log)
    reduced = security_report(reader, settings, TODAY, own_namespace="kams")
    pod_lists = [record for record in kube_api.server.request_log[before:]
                 if record.path == "/api/v1/pods"]
    whole = security_report(WholeObjects(reader), settings, TODAY, own_namespace="kams")

    assert len(pod_lists) == 1  # the workload scan, the network audit and the image list share it
    assert _what_it_reports(reduced) == _what_it_reports(whole)
    assert reduced.merged.findings  # the demo has findings: the comparison compared something
    controllers = {item["metadata"]["uid"] for item in reduced.objects.items if item["kind"] != "Pod"}
    pods = [item for item in reduced.objects.items if item["kind"] == "Pod"]
    owned = [pod for pod in pods if controlled_by(pod, controllers)]
    assert owned and all("securityContext" not in pod["spec"] and "volumes" not in pod["spec"]
                         for pod in owned)
    assert any("volumes" in pod["spec"] for pod in pods if pod not in owned)  # naked pods stay whole
