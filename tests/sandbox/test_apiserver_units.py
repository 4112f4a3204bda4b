"""Pure parts of the stand-in API server: printers, selectors, RBAC rules, protobuf reviews, the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.apiserver.protobuf import MAGIC, decode_review
from sandbox.apiserver.rbac import Attributes, rule_allows
from sandbox.apiserver.selectors import SelectorError, field_predicate, label_predicate
from sandbox.apiserver.store import ExpiredError, Store
from sandbox.apiserver.tables import human_duration, pod_status_cells, print_event, print_node
from tests.k8sdata.test_upstream_printpod import CASES as UPSTREAM_PRINTPOD_CASES
from tests.k8sdata.test_upstream_printpod import resolved_pod

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (7 * 3600 + 30 * 60, "7h30m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400 + 5 * 3600, "3d5h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (730 * 86400, "2y"),
        (800 * 86400, "2y70d"),
        (8 * 365 * 86400, "8y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(
    statuses: list[dict],
    *,
    phase: str = "Running",
    init: list[dict] | None = None,
    init_statuses: list[dict] | None = None,
    conditions: list[dict] | None = None,
    containers: int = 1,
    metadata: dict | None = None,
    reason: str = "",
) -> dict:
    pod = {
        "metadata": {"name": "p", "creationTimestamp": _ago(hours=1), **(metadata or {})},
        "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)], "initContainers": init or []},
        "status": {
            "phase": phase,
            "containerStatuses": statuses,
            "initContainerStatuses": init_statuses or [],
            "conditions": conditions or [],
        },
    }
    if reason:
        pod["status"]["reason"] = reason
    return pod


RUNNING = {"name": "c0", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": _ago(hours=1)}}}


def test_pod_cells_running_and_restarts_with_last_restart_age() -> None:
    restarted = {
        **RUNNING,
        "restartCount": 3,
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": _ago(minutes=5)}},
    }
    assert pod_status_cells(_pod([RUNNING]), NOW) == ("1/1", "Running", "0")
    assert pod_status_cells(_pod([restarted]), NOW) == ("1/1", "Running", "3 (5m ago)")


def test_pod_cells_waiting_and_terminated_reasons() -> None:
    crash = {
        "name": "c0",
        "ready": False,
        "restartCount": 7,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": _ago(seconds=90)}},
    }
    oom = {
        "name": "c0",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    }
    no_reason = {"name": "c0", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}
    signal = {
        "name": "c0",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "signal": 9}},
    }
    assert pod_status_cells(_pod([crash]), NOW) == ("0/1", "CrashLoopBackOff", "7 (90s ago)")
    assert pod_status_cells(_pod([oom]), NOW)[1] == "OOMKilled"
    assert pod_status_cells(_pod([no_reason]), NOW)[1] == "ExitCode:2"
    assert pod_status_cells(_pod([signal]), NOW)[1] == "Signal:9"


def test_pod_cells_completed_but_one_container_still_running() -> None:
    done = {
        "name": "c1",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    ready = [{"type": "Ready", "status": "True"}]
    # A pod whose finished container says "Completed" while another still runs is not Completed.
    assert pod_status_cells(_pod([done, RUNNING], containers=2, conditions=ready), NOW)[1] == "Running"
    assert pod_status_cells(_pod([done, RUNNING], containers=2), NOW)[1] == "NotReady"
    assert pod_status_cells(_pod([RUNNING, done], containers=2), NOW)[1] == "NotReady"
    assert pod_status_cells(_pod([done, {**done, "name": "c0"}], containers=2), NOW)[1] == "Completed"


def test_pod_cells_init_containers() -> None:
    init = [{"name": "i0"}, {"name": "i1"}]
    waiting_main = [
        {"name": "c0", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
    ]
    first_done = {"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}
    second_running = {"name": "i1", "restartCount": 0, "state": {"running": {}}}
    second_failed = {"name": "i1", "restartCount": 2, "state": {"terminated": {"exitCode": 3}}}
    second_backoff = {"name": "i1", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    second_oom = {
        "name": "i1",
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    }
    cases = {
        "Init:1/2": [first_done, second_running],
        "Init:ExitCode:3": [first_done, second_failed],
        "Init:CrashLoopBackOff": [first_done, second_backoff],
        "Init:OOMKilled": [first_done, second_oom],
    }
    for expected, statuses in cases.items():
        cells = pod_status_cells(_pod(waiting_main, phase="Pending", init=init, init_statuses=statuses), NOW)
        assert cells[1] == expected, statuses
    # Init restarts count while initializing.
    assert (
        pod_status_cells(
            _pod(waiting_main, phase="Pending", init=init, init_statuses=[first_done, second_failed]), NOW
        )[2]
        == "2"
    )


def test_pod_cells_restartable_init_container_counts_as_a_container() -> None:
    init = [{"name": "proxy", "restartPolicy": "Always"}]
    sidecar = {
        "name": "proxy",
        "ready": True,
        "started": True,
        "restartCount": 1,
        "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": _ago(minutes=30)}},
    }
    cells = pod_status_cells(
        _pod(
            [RUNNING],
            init=init,
            init_statuses=[sidecar],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        NOW,
    )
    assert cells == ("2/2", "Running", "1 (30m ago)")


def test_pod_cells_terminating_nodelost_and_scheduling_gated() -> None:
    deleting = {"deletionTimestamp": _ago(seconds=1)}
    assert pod_status_cells(_pod([RUNNING], metadata=deleting), NOW)[1] == "Terminating"
    assert pod_status_cells(_pod([RUNNING], metadata=deleting, reason="NodeLost"), NOW)[1] == "Unknown"
    assert pod_status_cells(_pod([RUNNING], reason="NodeLost"), NOW)[1] == "NodeLost"
    # A finished pod being deleted keeps its final status.
    done = {
        "name": "c0",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    assert pod_status_cells(_pod([done], phase="Succeeded", metadata=deleting), NOW)[1] == "Completed"
    gated = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    assert pod_status_cells(_pod([], phase="Pending", conditions=gated), NOW)[1] == "SchedulingGated"


def test_node_and_event_rows() -> None:
    node = {
        "metadata": {
            "name": "n1",
            "creationTimestamp": _ago(days=3),
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "infra"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "nodeInfo": {"kubeletVersion": "v1.30.2"},
        },
    }
    assert print_node(node, NOW)[:5] == [
        "n1",
        "NotReady,SchedulingDisabled",
        "control-plane,infra",
        "3d",
        "v1.30.2",
    ]
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "web"},
        "type": "Warning",
        "reason": "BackOff",
        "message": " restarting \n",
        "count": 4,
        "firstTimestamp": _ago(minutes=30),
        "lastTimestamp": _ago(minutes=2),
    }
    row = print_event(event, NOW)
    assert row[:4] == ["2m", "Warning", "BackOff", "pod/web"]
    assert row[6:9] == ["restarting", "30m", 4]
    series = {**event, "series": {"count": 9, "lastObservedTime": _ago(seconds=10)}, "count": 0}
    assert print_event(series, NOW)[0] == "10s" and print_event(series, NOW)[8] == 9


def test_label_selector_operators() -> None:
    labels = {"app": "web", "tier": "front"}
    cases = {
        "app=web": True,
        "app==web": True,
        "app!=web": False,
        "app in (web,api)": True,
        "app notin (web,api)": False,
        "tier": True,
        "!tier": False,
        "missing!=x": True,
        "!missing": True,
        "app=web,tier in (back)": False,
        "env notin (prod)": True,
    }
    for selector, expected in cases.items():
        predicate = label_predicate(selector)
        assert predicate is not None and predicate(labels) is expected, selector
    with pytest.raises(SelectorError):
        label_predicate("app=we b")


def test_field_selector_rejects_unknown_fields() -> None:
    predicate = field_predicate("spec.nodeName=a,status.phase!=Failed", {"spec.nodeName", "status.phase"})
    assert predicate is not None
    assert predicate({"spec.nodeName": "a", "status.phase": "Running"})
    assert not predicate({"spec.nodeName": "b", "status.phase": "Running"})
    with pytest.raises(SelectorError, match=r"field label not supported: spec\.bogus"):
        field_predicate("spec.bogus=1", {"spec.nodeName"})


def test_rbac_rule_matching() -> None:
    get_log = Attributes(
        verb="get", resource_request=True, resource="pods", subresource="log", namespace="x", name="p"
    )
    assert rule_allows({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}, get_log)
    assert rule_allows({"apiGroups": ["*"], "resources": ["*/log"], "verbs": ["*"]}, get_log)
    assert not rule_allows({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, get_log)
    assert not rule_allows(
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"], "resourceNames": ["other"]}, get_log
    )
    path = Attributes(verb="get", resource_request=False, path="/healthz/etcd")
    assert rule_allows({"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}, path)
    assert not rule_allows({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, path)


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_access_review_is_decoded() -> None:
    attributes = _field(1, b"default") + _field(2, b"list") + _field(5, b"secrets")
    review = _field(2, _field(1, attributes))  # SelfSubjectAccessReview.spec.resourceAttributes
    unknown = _field(1, _field(1, b"authorization.k8s.io/v1")) + _field(2, review)
    decoded = decode_review(MAGIC + unknown, "SelfSubjectAccessReview")
    assert decoded["spec"]["resourceAttributes"] == {
        "namespace": "default",
        "verb": "list",
        "resource": "secrets",
    }


def _pod_object(name: str, namespace: str = "ns", labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {},
        "status": {},
    }


def test_store_versions_pages_watches_and_compaction() -> None:
    store = Store()
    store.load([_pod_object(f"p{i}") for i in range(5)])
    start = store.resource_version
    page = store.list_page(("", "pods"), limit=2)
    assert [e.name for e in page.items] == ["p0", "p1"] and page.remaining == 3 and page.continue_token
    watcher = store.watch(("", "pods"), namespace="ns", predicate=None, since=start)
    added = store.add(_pod_object("p9"))
    assert int(added["metadata"]["resourceVersion"]) == start + 1
    store.update({**_pod_object("p9"), "spec": {"nodeName": "a"}})
    store.delete("pods", "ns", "p9")
    kinds = [watcher.events.get(timeout=1)[0] for _ in range(3)]
    assert kinds == ["ADDED", "MODIFIED", "DELETED"]
    second = store.list_page(("", "pods"), limit=2, continue_token=page.continue_token)
    assert [e.name for e in second.items] == ["p2", "p3"]
    store.compact()
    with pytest.raises(ExpiredError):
        store.list_page(("", "pods"), limit=2, continue_token=page.continue_token)
    with pytest.raises(ExpiredError):
        store.watch(("", "pods"), namespace=None, predicate=None, since=start)


def test_store_restore_undoes_mutations() -> None:
    store = Store()
    store.load([_pod_object("a"), _pod_object("b")])
    snapshot = store.snapshot()
    store.delete("pods", "ns", "a")
    store.add(_pod_object("c"))
    store.update(_pod_object("b", labels={"changed": "yes"}))
    store.restore(snapshot)
    assert sorted(e.name for e in store.entries(("", "pods"))) == ["a", "b"]
    assert store.get(("", "pods"), "ns", "b")["metadata"]["labels"] == {}


@pytest.mark.parametrize("case", UPSTREAM_PRINTPOD_CASES,
                         ids=[case["id"] for case in UPSTREAM_PRINTPOD_CASES])
def test_pod_status_cells_print_what_upstream_expects(case: dict[str, Any]) -> None:
    """The stand-in's printer twin against every pod case of upstream's printer unit tests."""
    now = datetime.now(UTC).replace(microsecond=0)
    expect = case["expect"]
    assert pod_status_cells(resolved_pod(case, now), now) == (
        expect["ready"], expect["status"], expect["restarts"]), case["comment"]


def test_pod_status_cells_completed_yields_to_a_failed_container() -> None:
    done = {"name": "a", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                                                                                     "reason": "Completed"}}}
    failed = {"name": "b", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}
    assert pod_status_cells(_pod([done, failed], containers=2), NOW)[1] == "ExitCode:2"
    assert pod_status_cells(_pod([done, failed, RUNNING], containers=3), NOW)[1] == "ExitCode:2"
