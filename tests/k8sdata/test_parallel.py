"""k8sdata.sources.parallel: reads side by side, each with the caller's namespace scope, each failing alone;
and the Security page's inputs read that way from the stand-in API server (the slowest list, not the sum)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from k8sdata.access import current_scope, scoped
from k8sdata.config import Settings
from k8sdata.errors import Forbidden, OutOfScope
from k8sdata.security.cluster import collect_security_inputs
from k8sdata.security.sources import cluster_objects
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.parallel import read_side_by_side


def test_reads_run_together_and_fail_alone() -> None:
    def slow(value: int) -> int:
        time.sleep(0.3)
        return value

    def refused() -> int:
        raise Forbidden("kubernetes", "no")

    started = time.monotonic()
    answers = read_side_by_side({"a": lambda: slow(1), "b": lambda: slow(2), "c": refused,
                                 "d": lambda: slow(4)})
    assert time.monotonic() - started < 0.6  # not 0.9
    assert list(answers) == ["a", "b", "c", "d"] and answers["a"] == 1 and answers["d"] == 4
    assert isinstance(answers["c"], Forbidden)


def test_a_bug_is_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError):
        read_side_by_side({"x": lambda: 1 // 0})


def test_the_workers_read_with_the_callers_scope(kube_api: Any) -> None:
    client = KubeClient(Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig)}))
    try:
        with scoped(frozenset({"shop"})):
            answers = read_side_by_side({
                "scope": current_scope,
                "shop": lambda: client.list_resource("v1", "pods", namespace="shop"),
                "everything": lambda: client.list_resource("v1", "pods"),
            })
    finally:
        client.close()
    assert answers["scope"] == frozenset({"shop"})
    assert isinstance(answers["shop"], list) and answers["shop"]
    assert isinstance(answers["everything"], OutOfScope)  # a worker may not read beyond the viewer's scope


@pytest.mark.parametrize("collect", [cluster_objects, collect_security_inputs])
def test_security_inputs_wait_for_the_slowest_list_not_the_sum(kube_faults: Any, kube_api: Any,
                                                               collect: Any) -> None:
    kube_faults.set_fault(r"^/api(s/[^/]+)?/v1/", "latency", seconds=0.4)
    client = KubeClient(Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig)}))
    try:
        kube_faults.clear_request_log()
        started = time.monotonic()
        collect(client)
        took = time.monotonic() - started
    finally:
        client.close()
    sent = len(kube_faults.request_log)
    assert sent >= 6
    assert took < 0.4 * sent / 2, (took, sent)  # side by side: far less than one after another
