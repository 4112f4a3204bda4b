"""The stand-in API server over real HTTP: discovery, auth and RBAC, selectors, pagination, watch, Table
output, pods/log, metrics, faults and the request log. Each test talks to a server on port 0."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox import demo_names
from sandbox.apiserver import GIT_VERSION, ApiServer
from tests.plugins.kube_api import fixture_cluster_objects

ADMIN = demo_names.ADMIN_TOKEN
READER = demo_names.READER_TOKEN
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    """One read-only server for the tests that do not mutate it."""
    api = ApiServer(fixture_cluster_objects()).start()
    try:
        yield api
    finally:
        api.stop()


def call(
    api: ApiServer,
    path: str,
    *,
    token: str | None = ADMIN,
    accept: str | None = None,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(api.url + path, method=method, data=body)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if accept:
        request.add_header("Accept", accept)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_json(api: ApiServer, path: str, **kwargs: Any) -> tuple[int, Any]:
    status, _, body = call(api, path, **kwargs)
    return status, json.loads(body)


def names(listing: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


# ------------------------------------------------------------------ discovery
def test_version_health_and_discovery(server: ApiServer) -> None:
    status, version = get_json(server, "/version", token=None)
    assert status == 200 and version["gitVersion"] == GIT_VERSION
    assert call(server, "/healthz", token=None)[2] == b"ok"
    _, core = get_json(server, "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["namespaced"] is True
    assert by_name["nodes"]["namespaced"] is False and by_name["pods/log"]["verbs"] == ["get"]
    _, groups = get_json(server, "/apis")
    group_names = {g["name"] for g in groups["groups"]}
    assert {
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "metrics.k8s.io",
        "aquasecurity.github.io",
        "authorization.k8s.io",
    } <= group_names
    _, apps = get_json(server, "/apis/apps/v1")
    assert {r["name"]: r.get("shortNames") for r in apps["resources"]}["deployments"] == ["deploy"]
    status, missing = get_json(server, "/apis/apps/v1/widgets")
    assert status == 404 and missing["kind"] == "Status" and missing["reason"] == "NotFound"


# -------------------------------------------------------------- auth and RBAC
def test_no_or_unknown_token_is_401_status(server: ApiServer) -> None:
    for token in (None, "not-a-token"):
        status, body = get_json(server, "/api/v1/pods", token=token)
        assert status == 401
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }


def test_reader_gets_real_403_for_secrets(server: ApiServer) -> None:
    status, body = get_json(server, "/api/v1/namespaces/default/secrets", token=READER)
    assert status == 403
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == (
        'secrets is forbidden: User "system:serviceaccount:kams:kams" cannot list resource '
        '"secrets" in API group "" in the namespace "default"'
    )
    assert body["details"] == {"kind": "secrets"}  # the core group's "" is omitted, as Go's omitempty does
    status, body = get_json(server, "/api/v1/secrets", token=READER)
    assert status == 403 and body["message"].endswith('in API group "" at the cluster scope')
    status, body = get_json(server, "/api/v1/namespaces/shop/secrets/web-secret", token=READER)
    assert status == 403 and body["message"].startswith('secrets "web-secret" is forbidden: User')
    assert body["details"]["name"] == "web-secret"
    # The reader may read pods, their logs, and the one secret its RoleBinding names (resourceNames).
    assert get_json(server, "/api/v1/pods", token=READER)[0] == 200
    assert get_json(server, "/api/v1/namespaces/kams/secrets/kams-config", token=READER)[0] == 200
    assert get_json(server, "/api/v1/namespaces/shop/secrets", token=ADMIN)[0] == 200


def test_access_and_rules_reviews(server: ApiServer) -> None:
    def can(token: str, verb: str, resource: str, namespace: str = "default") -> bool:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}},
        }
        status, body = get_json(
            server,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            token=token,
            method="POST",
            body=json.dumps(review).encode(),
        )
        assert status == 201
        return body["status"]["allowed"]

    assert (
        can(READER, "list", "pods") and not can(READER, "list", "secrets") and can(ADMIN, "list", "secrets")
    )
    assert not can(READER, "delete", "pods")
    rules_review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": "kams"},
    }
    status, body = get_json(
        server,
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        token=READER,
        method="POST",
        body=json.dumps(rules_review).encode(),
    )
    assert status == 201 and body["status"]["incomplete"] is False
    secret_rules = [r for r in body["status"]["resourceRules"] if "secrets" in r["resources"]]
    assert secret_rules == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["kams-config"]}
    ]


# ------------------------------------------------------------------ selectors
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("labelSelector=app%3Dweb", ["web-1"]),
        ("labelSelector=tier%20in%20(front,back)", ["api-1", "web-1"]),
        ("labelSelector=tier%20notin%20(front),app%20in%20(web,api)", ["api-1"]),
        ("labelSelector=tier", ["api-1", "web-1"]),
        ("labelSelector=app!%3Dweb,!tier,app%20in%20(crash,oom)", ["crash-1", "oom-1"]),
        ("fieldSelector=spec.nodeName%3Dnode-b,status.phase%3DRunning", ["api-1", "duo-1", "oom-1"]),
        ("fieldSelector=status.phase!%3DRunning", ["done-1", "init-1", "pending-1"]),
        ("fieldSelector=metadata.name%3Dweb-1", ["web-1"]),
    ],
)
def test_pod_selectors(server: ApiServer, query: str, expected: list[str]) -> None:
    status, listing = get_json(server, f"/api/v1/namespaces/shop/pods?{query}")
    assert status == 200 and names(listing) == expected


def test_event_field_selectors_and_bad_selectors(server: ApiServer) -> None:
    _, events = get_json(server, "/api/v1/events?fieldSelector=involvedObject.name%3Dcrash-1,type%3DWarning")
    assert names(events) == ["crash-1.backoff"]
    _, events = get_json(server, "/api/v1/namespaces/shop/events?fieldSelector=type%3DNormal")
    assert names(events) == ["web-1.pulled"]
    status, error = get_json(server, "/api/v1/pods?fieldSelector=spec.bogus%3D1")
    assert (
        status == 400 and error["reason"] == "BadRequest" and "field label not supported" in error["message"]
    )
    status, error = get_json(server, "/api/v1/pods?labelSelector=a%20in%20b%20c")
    assert status == 400 and error["kind"] == "Status"


# ----------------------------------------------------------------- pagination
def test_limit_and_continue_walk_the_whole_list(server: ApiServer) -> None:
    _, everything = get_json(server, "/api/v1/pods")
    collected: list[str] = []
    token = ""
    pages = 0
    while True:
        _, page = get_json(server, f"/api/v1/pods?limit=4&continue={token}")
        pages += 1
        collected += names(page)
        token = page["metadata"].get("continue", "")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == len(everything["items"]) - len(collected)
    assert collected == names(everything) and pages == 3
    assert everything["kind"] == "PodList" and everything["apiVersion"] == "v1"
    assert int(everything["metadata"]["resourceVersion"]) > 0
    assert all(int(item["metadata"]["resourceVersion"]) > 0 for item in everything["items"])


def test_stale_continue_token_is_410_expired(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server()
    _, page = get_json(api, "/api/v1/pods?limit=2")
    api.store.compact()
    status, error = get_json(api, f"/api/v1/pods?limit=2&continue={page['metadata']['continue']}")
    assert status == 410 and error["reason"] == "Expired" and error["code"] == 410
    assert error["message"].startswith("The provided continue parameter is too old")
    status, error = get_json(api, "/api/v1/pods?limit=2&continue=garbage")
    assert status == 400


# ---------------------------------------------------------------------- watch
def _watch_lines(api: ApiServer, path: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=timeout)
    connection.request("GET", path, headers={"Authorization": f"Bearer {ADMIN}"})
    response = connection.getresponse()
    events = []
    try:
        while len(events) < count:
            line = response.readline()
            if not line:
                break
            events.append(json.loads(line))
    finally:
        connection.close()
    return events


def test_watch_streams_changes_after_a_resource_version(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server()
    start = api.store.resource_version
    pod = api.store.get(("", "pods"), "shop", "web-1")
    assert pod is not None
    result: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: result.extend(
            _watch_lines(
                api,
                f"/api/v1/namespaces/shop/pods?watch=true&resourceVersion={start}&labelSelector=app%3Dweb",
                3,
            )
        )
    )
    reader.start()
    time.sleep(0.3)
    api.store.update({**pod, "metadata": {**pod["metadata"], "labels": {"app": "web", "v": "2"}}})
    api.store.update(
        {**pod, "metadata": {**pod["metadata"], "labels": {"app": "moved"}}}
    )  # leaves the selection
    api.store.add({**pod, "metadata": {"name": "web-2", "namespace": "shop", "labels": {"app": "web"}}})
    reader.join(10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in result] == [
        ("MODIFIED", "web-1"),
        ("DELETED", "web-1"),
        ("ADDED", "web-2"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in result]
    assert versions == sorted(versions) and versions[0] > start


def test_watch_initial_state_timeout_and_bookmarks(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server(bookmark_interval=0.2)
    began = time.monotonic()
    events = _watch_lines(api, "/api/v1/nodes?watch=1&timeoutSeconds=1&allowWatchBookmarks=true", 100)
    assert time.monotonic() - began < 5
    assert [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"] == ["node-a", "node-b"]
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks and bookmarks[0]["object"]["kind"] == "Node"


def test_watch_list_sends_initial_events_then_the_end_bookmark(
    make_api_server: Callable[..., ApiServer],
) -> None:
    api = make_api_server()
    path = (
        "/api/v1/nodes?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        "&allowWatchBookmarks=true"
    )
    events = _watch_lines(api, path, 3)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[2]["object"]["metadata"]["resourceVersion"] == str(api.store.resource_version)


def test_watch_from_a_compacted_version_gets_410_error_event(
    make_api_server: Callable[..., ApiServer],
) -> None:
    api = make_api_server()
    old = api.store.resource_version
    api.store.compact()
    events = _watch_lines(api, f"/api/v1/pods?watch=true&resourceVersion={old}", 5)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


# ---------------------------------------------------------------------- Table
def test_pod_table_has_the_real_columns_and_cells(server: ApiServer) -> None:
    status, table = get_json(server, "/api/v1/namespaces/shop/pods?includeObject=Object", accept=TABLE)
    assert status == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    rows = {row["cells"][0]: row["cells"] for row in table["rows"]}
    assert rows["web-1"][1:3] == ["1/1", "Running"] and rows["web-1"][5:7] == ["10.244.1.10", "node-a"]
    assert rows["crash-1"][1:3] == ["0/1", "CrashLoopBackOff"] and rows["crash-1"][3].startswith("3 (5m")
    assert rows["oom-1"][3] == "1 (120m ago)"
    assert rows["init-1"][2] == "Init:0/1" and rows["done-1"][2] == "Completed"
    assert rows["leaving-1"][2] == "Terminating" and rows["pending-1"][2] == "Pending"
    assert rows["pending-1"][5:7] == ["<none>", "<none>"] and rows["duo-1"][1] == "2/2"
    assert table["rows"][0]["object"]["kind"] == "Pod"
    _, meta_only = get_json(server, "/api/v1/namespaces/shop/pods/web-1?includeObject=Metadata", accept=TABLE)
    assert meta_only["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    _, default_table = get_json(server, "/apis/batch/v1/cronjobs", accept=TABLE)
    assert [c["name"] for c in default_table["columnDefinitions"]] == ["Name", "Age"]
    assert default_table["rows"][0]["cells"] == ["nightly", "24h"]


# ----------------------------------------------------------------------- logs
def _lines(count: int) -> Callable[..., list[tuple[datetime, str]] | None]:
    def provider(
        pod: dict, container: str, previous: bool, now: datetime
    ) -> list[tuple[datetime, str]] | None:
        if previous:
            return [(now - timedelta(hours=1), f"{container} previous crash")]
        return [(now - timedelta(seconds=count - i), f"{container} line {i}") for i in range(count)]

    return provider


def test_pod_log_options(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server(log_provider=_lines(10))
    base = "/api/v1/namespaces/shop/pods"
    status, headers, body = call(api, f"{base}/web-1/log")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.decode().splitlines() == [f"main line {i}" for i in range(10)]
    assert call(api, f"{base}/web-1/log?tailLines=2")[2] == b"main line 8\nmain line 9\n"
    assert call(api, f"{base}/web-1/log?sinceSeconds=3")[2].decode().splitlines()[0] == "main line 7"
    assert call(api, f"{base}/web-1/log?limitBytes=7")[2] == b"main li"
    stamped = call(api, f"{base}/web-1/log?tailLines=1&timestamps=true")[2].decode()
    stamp, text = stamped.rstrip("\n").split(" ", 1)
    assert (
        text == "main line 9" and len(stamp) == len("2026-01-01T12:00:00.000000000Z") and stamp.endswith("Z")
    )
    assert call(api, f"{base}/crash-1/log?previous=true")[2] == b"main previous crash\n"


def test_pod_log_errors_are_real_400s(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server(log_provider=_lines(3))
    base = "/api/v1/namespaces/shop/pods"
    status, error = get_json(api, f"{base}/duo-1/log")
    assert status == 400 and error["reason"] == "BadRequest"
    assert (
        error["message"] == "a container name must be specified for pod duo-1, choose one of: [app sidecar]"
    )
    assert call(api, f"{base}/duo-1/log?container=sidecar")[2].startswith(b"sidecar line 0")
    status, error = get_json(api, f"{base}/web-1/log?previous=true")
    assert (
        status == 400 and error["message"] == 'previous terminated container "main" in pod "web-1" not found'
    )
    status, error = get_json(api, f"{base}/web-1/log?container=nope")
    assert status == 400 and error["message"] == "container nope is not valid for pod web-1"
    status, error = get_json(api, f"{base}/init-1/log")
    assert status == 400 and "is waiting to start: PodInitializing" in error["message"]
    status, error = get_json(api, f"{base}/ghost/log")
    assert status == 404 and error["message"] == 'pods "ghost" not found'


def test_pod_log_follow_streams_new_lines(make_api_server: Callable[..., ApiServer]) -> None:
    started = datetime.now(UTC)

    def growing(pod: dict, container: str, previous: bool, now: datetime) -> list[tuple[datetime, str]]:
        ticks = int((now - started).total_seconds() * 10)  # one line per 0.1 s
        return [(started + timedelta(seconds=i / 10), f"tick {i}") for i in range(ticks + 1)]

    api = make_api_server(log_provider=growing, follow_poll_interval=0.1)
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    connection.request(
        "GET",
        "/api/v1/namespaces/shop/pods/web-1/log?follow=true&tailLines=1",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    response = connection.getresponse()
    seen = [response.readline().decode().strip() for _ in range(6)]
    connection.close()
    numbers = [int(line.split()[1]) for line in seen]
    assert numbers == sorted(numbers) and len(set(numbers)) == 6, seen


# -------------------------------------------------------------------- metrics
def test_metrics_are_computed_for_running_pods(server: ApiServer) -> None:
    _, pods = get_json(server, "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods")
    assert pods["kind"] == "PodMetricsList"
    reported = set(names(pods))
    assert {"web-1", "api-1", "duo-1"} <= reported and not {"pending-1", "done-1", "crash-1"} & reported
    duo = next(item for item in pods["items"] if item["metadata"]["name"] == "duo-1")
    assert [c["name"] for c in duo["containers"]] == ["app", "sidecar"]
    assert duo["containers"][0]["usage"]["cpu"].endswith("n") and duo["containers"][0]["usage"][
        "memory"
    ].endswith("Ki")
    status, node = get_json(server, "/apis/metrics.k8s.io/v1beta1/nodes/node-a")
    assert status == 200 and node["kind"] == "NodeMetrics"
    node_cpu = int(node["usage"]["cpu"][:-1])
    _, everything = get_json(server, "/apis/metrics.k8s.io/v1beta1/pods")
    on_node_a = {"web-1", "leaving-1", "kams-1", "coredns-1"}
    pods_cpu = sum(
        int(c["usage"]["cpu"][:-1])
        for item in everything["items"]
        if item["metadata"]["name"] in on_node_a
        for c in item["containers"]
    )
    assert node_cpu > pods_cpu  # the pods on it plus the system overhead
    assert get_json(server, "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/pending-1")[0] == 404


# --------------------------------------------------------------------- faults
def test_faults_each_kind_and_clear(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server()
    api.set_fault(r"/nodes$", "latency", seconds=0.5)
    began = time.monotonic()
    assert call(api, "/api/v1/nodes")[0] == 200 and time.monotonic() - began >= 0.5
    api.clear_faults()
    api.set_fault(r"/pods$", "forbidden")
    status, error = get_json(api, "/api/v1/pods")
    assert status == 403 and error["reason"] == "Forbidden"
    api.set_fault(r"/events$", "throttle", retry_after=7)
    status, headers, body = call(api, "/api/v1/events")
    assert status == 429 and headers["Retry-After"] == "7" and json.loads(body)["reason"] == "TooManyRequests"
    api.set_fault(r"/services$", "error")
    status, error = get_json(api, "/api/v1/services")
    assert status == 500 and error["reason"] == "InternalError"
    api.set_fault(r"/configmaps$", "error", times=1)
    assert call(api, "/api/v1/configmaps")[0] == 500 and call(api, "/api/v1/configmaps")[0] == 200
    api.clear_faults()
    for path in ("/api/v1/pods", "/api/v1/events", "/api/v1/services"):
        assert call(api, path)[0] == 200


def test_hang_fault_holds_until_the_client_gives_up_and_never_blocks_stop(
    make_api_server: Callable[..., ApiServer],
) -> None:
    api = make_api_server()
    api.set_fault(r"^/api/v1/namespaces$", "hang")
    began = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        call(api, "/api/v1/namespaces", timeout=0.5)
    assert 0.5 <= time.monotonic() - began < 3
    assert call(api, "/api/v1/nodes")[0] == 200  # other paths still answer
    outcome: list[BaseException] = []

    def wait_forever() -> None:
        try:
            call(api, "/api/v1/namespaces", timeout=30)
        except (OSError, http.client.HTTPException) as error:
            outcome.append(error)

    hung = threading.Thread(target=wait_forever, daemon=True)
    hung.start()
    time.sleep(0.3)
    began = time.monotonic()
    api.stop()
    assert time.monotonic() - began < 3
    hung.join(5)
    assert not hung.is_alive() and outcome, (
        "the held request should end without a response when the server stops"
    )


# ---------------------------------------------------------------- request log
def test_request_log_records_each_request(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server()
    call(api, "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb&limit=5", token=READER)
    call(api, "/api/v1/namespaces/shop/secrets", token=READER)
    call(api, "/api/v1/pods", token=None)
    log = api.request_log
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/api/v1/namespaces/shop/pods", 200),
        ("GET", "/api/v1/namespaces/shop/secrets", 403),
        ("GET", "/api/v1/pods", 401),
    ]
    assert log[0].query == {"labelSelector": "app=web", "limit": "5"}
    assert log[0].user == demo_names.READER_USER and log[2].user is None
    assert all(r.duration >= 0 and r.time.tzinfo is not None for r in log)
    assert len(api.requests_to(r"/secrets$")) == 1
    api.clear_request_log()
    assert api.request_log == []


def test_tls_and_plain_http_share_one_port(server: ApiServer) -> None:
    import ssl

    assert server.https_url is not None and server.ca_pem is not None
    context = ssl.create_default_context(cadata=server.ca_pem.decode())
    request = urllib.request.Request(
        server.https_url + "/api/v1/nodes", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        assert names(json.loads(response.read())) == ["node-a", "node-b"]


def test_concurrent_clients_while_the_store_changes(make_api_server: Callable[..., ApiServer]) -> None:
    api = make_api_server()
    template = api.store.get(("", "configmaps"), "shop", "web-config")
    assert template is not None
    statuses: list[int] = []

    def client() -> None:
        for _ in range(15):
            statuses.append(call(api, "/api/v1/namespaces/shop/pods?limit=3", token=READER)[0])
            statuses.append(call(api, "/api/v1/configmaps", token=READER)[0])

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for index in range(50):
        api.store.apply({**template, "data": {"A": str(index)}})
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 180
    assert api.store.get(("", "configmaps"), "shop", "web-config")["data"] == {"A": "49"}
