"""WatchedList and SingleFlight against the stand-in API server (make_api_server): the first list, watch
events reflected, relist after a compaction (410), reconnect after a server-side watch timeout, faults,
and 50 concurrent viewers causing one list."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from k8sdata.config import Settings
from k8sdata.errors import Forbidden, SourceError, Timeout
from k8sdata.pods.frames import pods_frame
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.watchcache import SingleFlight, WatchedList, _index, slim_pod
from sandbox import demo_names
from sandbox.apiserver import ApiServer
from tests.plugins.kube_api import fixture_cluster_objects

PODS = "/api/v1/pods"
WAIT = 10.0  # seconds; generous for a loaded CI machine, the events normally land in milliseconds


def _client(server: ApiServer, folder: Path, timeout: float = 2.0) -> KubeClient:
    kubeconfig = server.write_kubeconfig(folder / "reader.kubeconfig", demo_names.READER_TOKEN)
    settings = Settings.from_env({"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": str(timeout)})
    return KubeClient(settings)


def _names(watched: WatchedList) -> set[tuple[str, str]]:
    items, _ = watched.snapshot()
    return {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items}


def _eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {WAIT} s: {what}")


def _list_requests(server: ApiServer) -> list[Any]:
    return [r for r in server.requests_to(r"^/api/v1/pods$") if r.query.get("watch") != "true"]


def _watch_requests(server: ApiServer) -> list[Any]:
    return [r for r in server.requests_to(r"^/api/v1/pods$") if r.query.get("watch") == "true"]


@pytest.fixture
def setup(make_api_server: Callable[..., ApiServer], tmp_path: Path
          ) -> Iterator[Callable[..., tuple[ApiServer, KubeClient, WatchedList]]]:
    made: list[tuple[KubeClient, WatchedList]] = []

    def build(objects: list[dict[str, Any]] | None = None, server_kwargs: dict[str, Any] | None = None,
              **watch_kwargs: Any) -> tuple[ApiServer, KubeClient, WatchedList]:
        server = make_api_server(objects, **(server_kwargs or {}))
        client = _client(server, tmp_path)
        watched = WatchedList(client, PODS, backoff_initial=0.05, backoff_max=0.2, **watch_kwargs)
        made.append((client, watched))
        return server, client, watched

    yield build
    for client, watched in made:
        watched.stop()
        client.close()


def _expected_pods() -> set[tuple[str, str]]:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in fixture_cluster_objects()
            if o.get("kind") == "Pod"}


def _new_pod(template: dict[str, Any], name: str) -> dict[str, Any]:
    pod = copy.deepcopy(template)
    pod["metadata"] = {k: v for k, v in pod["metadata"].items()
                       if k not in ("uid", "resourceVersion", "creationTimestamp")}
    pod["metadata"]["name"] = name
    return pod


def test_first_list_matches_the_server_in_pages(setup: Any) -> None:
    server, _, watched = setup()
    watched.wait_ready(WAIT)
    assert _names(watched) == _expected_pods()
    items, version = watched.snapshot()
    assert version == server.store.resource_version or version > 0
    assert len(_list_requests(server)) == 1
    assert all(r.query.get("limit") == "500" for r in _list_requests(server))
    # Slimmed items still make the pods table.
    assert len(pods_frame(items)) == len(_expected_pods())


def test_added_modified_deleted_are_reflected_without_a_new_list(setup: Any) -> None:
    server, _, watched = setup(slim=slim_pod)
    watched.wait_ready(WAIT)
    _eventually(lambda: server.store.watcher_count >= 1, "the watch is open")
    pods = server.store.objects(("", "pods"))
    first, second = pods[0], pods[1]

    server.store.add(_new_pod(first, "newcomer"))
    namespace = first["metadata"]["namespace"]
    _eventually(lambda: (namespace, "newcomer") in _names(watched), "ADDED")

    changed = copy.deepcopy(second)
    changed["metadata"].setdefault("labels", {})["kams-test"] = "changed"
    key = (second["metadata"]["namespace"], second["metadata"]["name"])

    def cached() -> Any:
        return next(item for item in watched.snapshot()[0]
                    if (item["metadata"]["namespace"], item["metadata"]["name"]) == key)

    listed = cached()
    server.store.update(changed)

    def labelled() -> bool:
        return (cached()["metadata"].get("labels") or {}).get("kams-test") == "changed"

    _eventually(labelled, "MODIFIED")
    # The new version shares what did not change with the listed one (not a whole copy of a pod).
    modified = cached()
    assert modified is not listed and modified.spec.containers is listed.spec.containers
    assert modified.metadata.namespace is listed.metadata.namespace

    server.store.delete("pods", first["metadata"]["namespace"], first["metadata"]["name"])
    gone = (first["metadata"]["namespace"], first["metadata"]["name"])
    _eventually(lambda: gone not in _names(watched), "DELETED")
    _, version = watched.snapshot()
    assert version == server.store.resource_version
    assert len(_list_requests(server)) == 1, "changes must arrive through the watch, not new lists"
    # slim_pod kept what the table needs and dropped container env.
    items, _ = watched.snapshot()
    assert all("env" not in c for i in items for c in i["spec"].get("containers", []))


def test_same_name_in_two_namespaces_are_two_items(setup: Any) -> None:
    server, client, watched = setup(slim=slim_pod)
    watched.wait_ready(WAIT)
    # The first list's items come in the list's own order (the pods table then needs no reordering).
    listed = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in client.list_pods(slim=True)]
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in watched.snapshot()[0]] == listed
    _eventually(lambda: server.store.watcher_count >= 1, "the watch is open")
    template = server.store.objects(("", "pods"))[0]
    namespace, name = template["metadata"]["namespace"], template["metadata"]["name"]
    twin = _new_pod(template, name)
    twin["metadata"]["namespace"] = "twin-space"  # a namespace with no other pod
    server.store.add(twin)
    _eventually(lambda: ("twin-space", name) in _names(watched), "ADDED in a new namespace")
    assert (namespace, name) in _names(watched) and len(watched) == len(_expected_pods()) + 1
    server.store.delete("pods", "twin-space", name)
    _eventually(lambda: ("twin-space", name) not in _names(watched), "DELETED the namespace's last pod")
    assert (namespace, name) in _names(watched) and len(watched) == len(_expected_pods())
    server.store.add(twin)
    _eventually(lambda: ("twin-space", name) in _names(watched), "ADDED again after its namespace emptied")


def test_index_groups_by_namespace_and_keeps_the_last_duplicate() -> None:
    def pod(namespace: str, name: str, version: str) -> dict[str, Any]:
        return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}

    items = [pod("a", "x", "1"), pod("b", "x", "2"), pod("a", "y", "3"), pod("a", "x", "4"),
             pod("", "n", "5")]
    versions = {namespace: {name: item["metadata"]["resourceVersion"] for name, item in names.items()}
                for namespace, names in _index(items).items()}
    assert versions == {"a": {"x": "4", "y": "3"}, "b": {"x": "2"}, "": {"n": "5"}}
    slim = [slim_pod(item) for item in items]
    assert _index(slim)["a"]["x"] is slim[3]


def test_relists_after_compaction_makes_the_watch_expire(setup: Any) -> None:
    server, _, watched = setup()
    watched.wait_ready(WAIT)
    _eventually(lambda: server.store.watcher_count >= 1, "the watch is open")
    pods = server.store.objects(("", "pods"))
    gone = (pods[0]["metadata"]["namespace"], pods[0]["metadata"]["name"])
    # Hold the client's reconnect back while the store changes and forgets its history, so the watch
    # resumes from a resourceVersion older than the compaction horizon: 410, as after an etcd compaction.
    server.set_fault(r"^/api/v1/pods$", "latency", seconds=0.5, times=1)
    server.store.close_watchers()
    server.store.delete("pods", *gone)
    server.store.compact()
    _eventually(lambda: watched.lists >= 2, "a relist after 410")
    assert gone not in _names(watched)
    assert len(_list_requests(server)) == 2
    assert _names(watched) == _expected_pods() - {gone}


def test_reconnects_after_the_server_ends_the_watch(setup: Any) -> None:
    server, _, watched = setup(server_kwargs={"max_watch_seconds": 0.3})
    watched.wait_ready(WAIT)
    _eventually(lambda: len(_watch_requests(server)) >= 3, "several watch connections")
    template = server.store.objects(("", "pods"))[0]
    server.store.add(_new_pod(template, "after-reconnect"))
    namespace = template["metadata"]["namespace"]
    _eventually(lambda: (namespace, "after-reconnect") in _names(watched), "event after reconnecting")
    assert len(_list_requests(server)) == 1, "a timed-out watch resumes from its version, no relist"
    # Every watch asked for bookmarks and carried a timeout.
    assert all(r.query.get("allowWatchBookmarks") == "true" and r.query.get("timeoutSeconds")
               for r in _watch_requests(server))


def test_first_list_failure_is_raised_then_recovers(make_api_server: Any, tmp_path: Path) -> None:
    server = make_api_server()
    server.set_fault(r"^/api/v1/pods$", "forbidden", times=1)
    client = _client(server, tmp_path)
    watched = WatchedList(client, PODS, backoff_initial=0.05)
    try:
        with pytest.raises(Forbidden):
            watched.wait_ready(WAIT)
        # The background thread retries; the fault was for one request only.
        _eventually(lambda: watched.ready, "recovery after the fault")
        assert _names(watched) == _expected_pods()
    finally:
        watched.stop()
        client.close()


def test_hung_first_list_times_out_then_retries(make_api_server: Any, tmp_path: Path) -> None:
    server = make_api_server()
    client = _client(server, tmp_path)
    server.set_fault(r"^/api/v1/pods$", "hang", times=1)
    slow = WatchedList(client, PODS, backoff_initial=0.05)
    try:
        started = time.monotonic()
        with pytest.raises(SourceError) as raised:
            slow.wait_ready(0.5)
        assert isinstance(raised.value, Timeout)
        assert time.monotonic() - started < 3
        # After the client's read timeout (2 s) the hung request fails and a retry succeeds.
        _eventually(lambda: slow.ready, "retry after the hung list")
        assert _names(slow) == _expected_pods()
    finally:
        slow.stop()
        client.close()


def test_ready_within_never_waits_out_a_slow_first_list(make_api_server: Any, tmp_path: Path) -> None:
    """What the website asks before reading a big cluster's watch (ui.data): a first list still coming is
    False after the short wait, not a wait of its own; a failed one raises its error."""
    server = make_api_server()
    client = _client(server, tmp_path)
    server.set_fault(r"^/api/v1/pods$", "latency", seconds=1.5, times=1)
    slow = WatchedList(client, PODS, backoff_initial=0.05)
    try:
        started = time.monotonic()
        assert slow.ready_within(0.2) is False
        assert time.monotonic() - started < 1.0
        _eventually(lambda: slow.ready_within(0.1), "the first list after its latency")
        assert _names(slow) == _expected_pods()
    finally:
        slow.stop()
    server.set_fault(r"^/api/v1/pods$", "forbidden", times=1)
    refused = WatchedList(client, PODS, backoff_initial=5.0)
    try:
        with pytest.raises(Forbidden):
            refused.ready_within(WAIT)
    finally:
        refused.stop()
        client.close()


def test_watch_errors_back_off_and_keep_the_last_snapshot(setup: Any) -> None:
    server, _, watched = setup(server_kwargs={"max_watch_seconds": 0.3})
    watched.wait_ready(WAIT)
    before = _names(watched)
    server.set_fault(r"^/api/v1/pods$", "error", message="etcd is down")
    _eventually(lambda: watched.last_error is not None, "the watch failure is recorded")
    assert _names(watched) == before, "a failing watch keeps serving the last good state"
    server.clear_faults()
    template = server.store.objects(("", "pods"))[0]
    server.store.add(_new_pod(template, "after-outage"))
    namespace = template["metadata"]["namespace"]
    _eventually(lambda: (namespace, "after-outage") in _names(watched), "recovered after the outage")


def test_stop_ends_the_thread_promptly(setup: Any) -> None:
    server, _, watched = setup()
    watched.wait_ready(WAIT)
    _eventually(lambda: server.store.watcher_count >= 1, "the watch is open")
    started = time.monotonic()
    watched.stop()
    assert time.monotonic() - started < 5
    assert not watched._thread.is_alive()
    _eventually(lambda: server.store.watcher_count == 0, "the server saw the watch close")


def test_fifty_viewers_cause_one_list(make_api_server: Any, tmp_path: Path) -> None:
    server = make_api_server()
    client = _client(server, tmp_path)
    flight: SingleFlight[int] = SingleFlight()
    server.set_fault(r"^/api/v1/pods$", "latency", seconds=0.5)  # keep the one list in flight a while
    barrier = threading.Barrier(50)
    results: list[int] = []
    errors: list[BaseException] = []

    def viewer() -> None:
        barrier.wait()
        try:
            results.append(flight.do(("ctx", "pods"), lambda: len(client.list_pods())))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=viewer) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    client.close()
    assert not errors
    assert results == [len(_expected_pods())] * 50
    assert len(_list_requests(server)) == 1


def test_single_flight_shares_exceptions_and_runs_again_afterwards() -> None:
    flight: SingleFlight[str] = SingleFlight()
    gate = threading.Event()
    calls = 0

    def failing() -> str:
        nonlocal calls
        calls += 1
        gate.wait(WAIT)
        raise Forbidden("kubernetes", "no")

    outcomes: list[BaseException] = []

    def caller() -> None:
        try:
            flight.do("k", failing)
        except Forbidden as error:
            outcomes.append(error)

    threads = [threading.Thread(target=caller) for _ in range(5)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(WAIT)
    assert calls == 1 and len(outcomes) == 5
    assert flight.do("k", lambda: "fresh") == "fresh"
    assert flight.do("other", lambda: "x") == "x"
