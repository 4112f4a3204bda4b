"""Issue 14, item 1: one timeout per source, not one per request (k8sdata.sources.breaker), against the
stand-in
API server's hang and 429/403 faults and a real socket that accepts and never answers (a hung Prometheus).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from k8sdata.config import Settings
from k8sdata.errors import Forbidden, RateLimited, Timeout, Unreachable
from k8sdata.sources.breaker import CircuitBreaker, backoff_for
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.prom import PromClient
from tests.plugins.silent import silent_server

TIMEOUT = 1.0


def reader(kube_api: Any) -> KubeClient:
    settings = Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig),
                                  "KAMS_REQUEST_TIMEOUT": str(TIMEOUT)})
    client = KubeClient(settings)
    client.breaker = CircuitBreaker(backoff=30.0)
    return client


def test_after_one_timeout_every_read_of_that_server_fails_at_once_with_the_same_sentence(
        kube_faults: Any, kube_api: Any) -> None:
    kube_faults.set_fault(r"^/api/v1/", "hang")
    client = reader(kube_api)
    try:
        started = time.monotonic()
        with pytest.raises(Timeout) as first:
            client.list_path("/api/v1/pods")
        assert time.monotonic() - started >= TIMEOUT * 0.9
        kube_faults.clear_request_log()
        started = time.monotonic()
        for path in ("/api/v1/nodes", "/api/v1/events", "/apis/apps/v1/deployments", "/version"):
            with pytest.raises(Timeout) as later:
                client.list_path(path) if path != "/version" else client.version()
            assert later.value.sentence == first.value.sentence
        assert time.monotonic() - started < 0.5  # four reads, no wait
        assert kube_faults.request_log == []  # none of them was sent
        kube_faults.clear_faults()
        client.breaker.reset()  # the Refresh button
        assert client.version()
    finally:
        client.close()


def test_answers_never_open_it(kube_faults: Any, kube_api: Any) -> None:
    client = reader(kube_api)
    try:
        for kind, error in (("forbidden", Forbidden), ("throttle", RateLimited)):
            kube_faults.set_fault(r"^/api/v1/nodes$", kind)
            with pytest.raises(error):
                client.list_path("/api/v1/nodes")
            kube_faults.clear_faults()
            assert client.breaker is not None and not client.breaker.is_open
            assert client.list_path("/api/v1/namespaces")  # the server answered: it is up
    finally:
        client.close()


def test_it_closes_again_after_the_back_off(kube_faults: Any, kube_api: Any) -> None:
    kube_faults.set_fault(r"^/version$", "hang", times=1)
    client = reader(kube_api)
    assert client.breaker is not None
    client.breaker.backoff = 0.3
    try:
        with pytest.raises(Timeout):
            client.version()
        with pytest.raises(Timeout):
            client.version()  # within the back-off: not sent
        time.sleep(0.35)
        assert client.version()  # asked again, and the fault was for one request only
        assert not client.breaker.is_open
    finally:
        client.close()


@pytest.fixture
def silent() -> Iterator[tuple[str, list[socket.socket]]]:
    with silent_server() as server:
        yield server


def test_a_hung_prometheus_costs_one_timeout(silent: tuple[str, list[socket.socket]]) -> None:
    url, accepted = silent
    client = PromClient(url, TIMEOUT)
    client.breaker = CircuitBreaker(backoff=30.0)
    try:
        started = time.monotonic()
        for query in ("up", "vector(1)", "sum(rate(http_requests_total[5m]))"):
            with pytest.raises(Timeout):
                client.instant(query)
        assert time.monotonic() - started < TIMEOUT * 2  # three queries, one timeout
        assert len(accepted) == 1
    finally:
        client.close()


def test_a_refused_connection_opens_it_too() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = PromClient(url, TIMEOUT)
    client.breaker = CircuitBreaker(backoff=30.0)
    try:
        with pytest.raises(Unreachable):
            client.version()
        assert client.breaker.is_open
    finally:
        client.close()


def test_the_back_off_covers_a_render() -> None:
    assert backoff_for(4.0) == 6.0 and backoff_for(1.0) == 5.0
