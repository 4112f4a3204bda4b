"""Real clients against the stand-in API server: the official `kubernetes` Python client and kubectl, with
kubeconfigs the server wrote; the demo cluster through the session `kube_api` fixture; the command line;
and a 10,000-pod list in pages."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes
import orjson
import pytest
from kubernetes.client.exceptions import ApiException

from sandbox import demo_names
from sandbox.apiserver import GIT_VERSION, ApiServer
from sandbox.apiserver.podlogs import generic_log_lines
from tests.plugins.kube_api import KubeApi, fixture_cluster_objects

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
TIMEOUT = 10


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Path, Path]]:
    """A server with the fixture cluster and its admin / reader kubeconfigs."""
    folder = tmp_path_factory.mktemp("apiserver-clients")
    # The generic log generator, so log assertions do not depend on the demo's log stories.
    server = ApiServer(fixture_cluster_objects(), log_provider=generic_log_lines).start()
    try:
        admin = server.write_kubeconfig(folder / "admin.kubeconfig", demo_names.ADMIN_TOKEN)
        reader = server.write_kubeconfig(folder / "reader.kubeconfig", demo_names.READER_TOKEN)
        yield server, admin, reader
    finally:
        server.stop()


def client_for(kubeconfig: Path) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(config_file=str(kubeconfig))


# A list call per served resource: (api class, method, group/plural in the store).
LISTS: list[tuple[str, str, tuple[str, str]]] = [
    ("CoreV1Api", "list_namespace", ("", "namespaces")),
    ("CoreV1Api", "list_node", ("", "nodes")),
    ("CoreV1Api", "list_pod_for_all_namespaces", ("", "pods")),
    ("CoreV1Api", "list_event_for_all_namespaces", ("", "events")),
    ("CoreV1Api", "list_service_for_all_namespaces", ("", "services")),
    ("CoreV1Api", "list_endpoints_for_all_namespaces", ("", "endpoints")),
    ("CoreV1Api", "list_service_account_for_all_namespaces", ("", "serviceaccounts")),
    ("CoreV1Api", "list_config_map_for_all_namespaces", ("", "configmaps")),
    ("CoreV1Api", "list_secret_for_all_namespaces", ("", "secrets")),
    ("AppsV1Api", "list_deployment_for_all_namespaces", ("apps", "deployments")),
    ("AppsV1Api", "list_replica_set_for_all_namespaces", ("apps", "replicasets")),
    ("AppsV1Api", "list_stateful_set_for_all_namespaces", ("apps", "statefulsets")),
    ("AppsV1Api", "list_daemon_set_for_all_namespaces", ("apps", "daemonsets")),
    ("BatchV1Api", "list_job_for_all_namespaces", ("batch", "jobs")),
    ("BatchV1Api", "list_cron_job_for_all_namespaces", ("batch", "cronjobs")),
    ("NetworkingV1Api", "list_network_policy_for_all_namespaces", ("networking.k8s.io", "networkpolicies")),
    ("NetworkingV1Api", "list_ingress_for_all_namespaces", ("networking.k8s.io", "ingresses")),
    ("RbacAuthorizationV1Api", "list_role_for_all_namespaces", ("rbac.authorization.k8s.io", "roles")),
    (
        "RbacAuthorizationV1Api",
        "list_role_binding_for_all_namespaces",
        ("rbac.authorization.k8s.io", "rolebindings"),
    ),
    ("RbacAuthorizationV1Api", "list_cluster_role", ("rbac.authorization.k8s.io", "clusterroles")),
    (
        "RbacAuthorizationV1Api",
        "list_cluster_role_binding",
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ),
]


def assert_client_reads_everything(server: ApiServer, kubeconfig: Path) -> None:
    """Every served resource lists and deserializes into the client's models, item for item."""
    with client_for(kubeconfig) as api_client:
        for api_name, method, resource in LISTS:
            api = getattr(kubernetes.client, api_name)(api_client)
            listing = getattr(api, method)(_request_timeout=TIMEOUT, limit=500)
            expected = sorted(entry.name for entry in server.store.entries(resource))
            got = sorted(item.metadata.name for item in listing.items)
            assert got == expected, method
            assert int(listing.metadata.resource_version) > 0
        custom = kubernetes.client.CustomObjectsApi(api_client)
        reports = custom.list_cluster_custom_object(
            "aquasecurity.github.io", "v1alpha1", "vulnerabilityreports", _request_timeout=TIMEOUT
        )
        assert len(reports["items"]) == server.store.count(("aquasecurity.github.io", "vulnerabilityreports"))
        pod_metrics = custom.list_cluster_custom_object(
            "metrics.k8s.io", "v1beta1", "pods", _request_timeout=TIMEOUT
        )
        node_metrics = custom.list_cluster_custom_object(
            "metrics.k8s.io", "v1beta1", "nodes", _request_timeout=TIMEOUT
        )
        assert pod_metrics["items"] and len(node_metrics["items"]) == server.store.count(("", "nodes"))


def test_official_client_lists_every_resource(cluster: tuple[ApiServer, Path, Path]) -> None:
    server, admin, _ = cluster
    assert_client_reads_everything(server, admin)
    with client_for(admin) as api_client:
        core = kubernetes.client.CoreV1Api(api_client)
        pod = core.read_namespaced_pod("crash-1", "shop", _request_timeout=TIMEOUT)
        assert pod.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
        assert pod.metadata.creation_timestamp.tzinfo is not None
        page = core.list_namespaced_pod("shop", limit=3, _request_timeout=TIMEOUT)
        assert len(page.items) == 3 and page.metadata._continue and page.metadata.remaining_item_count == 6
        rest = core.list_namespaced_pod(
            "shop", limit=10, _continue=page.metadata._continue, _request_timeout=TIMEOUT
        )
        assert len(rest.items) == 6 and not rest.metadata._continue
        # kubernetes 36.0.3 turns a preloaded log into the repr of bytes ("b'...'"), as it would with a real
        # server; read the raw response instead.
        response = core.read_namespaced_pod_log(
            "web-1", "shop", tail_lines=2, timestamps=True, _preload_content=False, _request_timeout=TIMEOUT
        )
        log = response.data.decode()
        assert len(log.splitlines()) == 2 and log.startswith(str(datetime.now(UTC).year))
        authorization = kubernetes.client.AuthorizationV1Api(api_client)
        rules = authorization.create_self_subject_rules_review(
            kubernetes.client.V1SelfSubjectRulesReview(
                spec=kubernetes.client.V1SelfSubjectRulesReviewSpec(namespace="shop")
            ),
            _request_timeout=TIMEOUT,
        )
        assert rules.status.resource_rules[0].verbs == ["*"]


def test_official_client_sees_403_and_401(cluster: tuple[ApiServer, Path, Path], tmp_path: Path) -> None:
    server, _, reader = cluster
    with client_for(reader) as api_client:
        core = kubernetes.client.CoreV1Api(api_client)
        with pytest.raises(ApiException) as forbidden:
            core.list_namespaced_secret("default", _request_timeout=TIMEOUT)
        assert forbidden.value.status == 403
        assert json.loads(forbidden.value.body)["message"].startswith("secrets is forbidden: User ")
        assert core.list_namespaced_pod("shop", _request_timeout=TIMEOUT).items
    stranger = server.write_kubeconfig(tmp_path / "stranger.kubeconfig", "not-a-token")
    with client_for(stranger) as api_client, pytest.raises(ApiException) as unauthorized:
        kubernetes.client.CoreV1Api(api_client).list_node(_request_timeout=TIMEOUT)
    assert unauthorized.value.status == 401


def test_official_client_watch_sees_store_mutations(
    make_api_server: Callable[..., ApiServer], tmp_path: Path
) -> None:
    server = make_api_server()
    kubeconfig = server.write_kubeconfig(tmp_path / "admin.kubeconfig", demo_names.ADMIN_TOKEN)
    template = server.store.get(("", "pods"), "shop", "web-1")
    assert template is not None
    events: list[tuple[str, str, str]] = []
    ready = threading.Event()

    def mutate() -> None:
        ready.wait(5)
        time.sleep(0.2)
        server.store.add(
            {**template, "metadata": {"name": "web-9", "namespace": "shop", "labels": {"app": "web"}}}
        )
        changed = server.store.get(("", "pods"), "shop", "web-9")
        assert changed is not None
        changed["status"]["phase"] = "Failed"
        server.store.update(changed)
        server.store.delete("pods", "shop", "web-9")

    mutator = threading.Thread(target=mutate)
    mutator.start()
    with client_for(kubeconfig) as api_client:
        core = kubernetes.client.CoreV1Api(api_client)
        start = core.list_namespaced_pod("shop", _request_timeout=TIMEOUT).metadata.resource_version
        watch = kubernetes.watch.Watch()
        ready.set()
        for event in watch.stream(
            core.list_namespaced_pod,
            "shop",
            resource_version=start,
            timeout_seconds=5,
            _request_timeout=TIMEOUT,
        ):
            pod = event["object"]
            assert isinstance(pod, kubernetes.client.V1Pod)
            events.append((event["type"], pod.metadata.name, pod.status.phase))
            if event["type"] == "DELETED":
                watch.stop()
    mutator.join(5)
    assert events == [
        ("ADDED", "web-9", "Running"),
        ("MODIFIED", "web-9", "Failed"),
        ("DELETED", "web-9", "Failed"),
    ]


# -------------------------------------------------------------------- kubectl
def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [
            str(KUBECTL),
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={kubeconfig.parent / 'kubectl-cache'}",
            "--request-timeout=10s",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def table(output: str) -> list[dict[str, str]]:
    """Parse kubectl's column output by the header's column starts."""
    lines = output.rstrip("\n").splitlines()
    starts = [match.start() for match in re.finditer(r"\S+(?: \S+)*", lines[0])]
    headers = [lines[0][start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
    return [
        {
            header: line[start:end].strip()
            for header, start, end in zip(headers, starts, [*starts[1:], None], strict=True)
        }
        for line in lines[1:]
    ]


def test_kubectl_get_pods_nodes_and_events(cluster: tuple[ApiServer, Path, Path]) -> None:
    _, admin, reader = cluster
    pods = {row["NAME"]: row for row in table(kubectl(reader, "get", "pods", "-A").stdout)}
    assert list(next(iter(pods.values()))) == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert (pods["web-1"]["READY"], pods["web-1"]["STATUS"], pods["web-1"]["RESTARTS"]) == (
        "1/1",
        "Running",
        "0",
    )
    assert (pods["crash-1"]["READY"], pods["crash-1"]["STATUS"]) == ("0/1", "CrashLoopBackOff")
    assert re.fullmatch(r"3 \(5m\d*s? ago\)", pods["crash-1"]["RESTARTS"])
    assert pods["oom-1"]["RESTARTS"] == "1 (120m ago)" and pods["duo-1"]["READY"] == "2/2"
    assert pods["init-1"]["STATUS"] == "Init:0/1" and pods["done-1"]["STATUS"] == "Completed"
    assert pods["leaving-1"]["STATUS"] == "Terminating" and pods["web-1"]["AGE"] == "24h"
    wide = {
        row["NAME"]: row for row in table(kubectl(admin, "get", "pods", "-n", "shop", "-o", "wide").stdout)
    }
    assert wide["api-1"]["NODE"] == "node-b" and wide["api-1"]["IP"] == "10.244.2.11"
    nodes = table(kubectl(reader, "get", "nodes").stdout)
    assert [(n["NAME"], n["STATUS"], n["ROLES"], n["VERSION"]) for n in nodes] == [
        ("node-a", "Ready", "control-plane", "v1.30.2"),
        ("node-b", "Ready,SchedulingDisabled", "<none>", "v1.30.2"),
    ]
    events = table(kubectl(reader, "get", "events", "-A").stdout)
    assert list(events[0]) == ["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    backoff = next(e for e in events if e["REASON"] == "BackOff")
    assert (backoff["TYPE"], backoff["OBJECT"]) == ("Warning", "pod/crash-1")
    assert re.fullmatch(r"2m\d*s?", backoff["LAST SEEN"])
    short = table(kubectl(reader, "get", "po", "-n", "shop", "-l", "app=web").stdout)
    assert [row["NAME"] for row in short] == ["web-1"]


def test_kubectl_logs(cluster: tuple[ApiServer, Path, Path]) -> None:
    _, _, reader = cluster
    tail = kubectl(reader, "logs", "-n", "shop", "web-1", "--tail=3").stdout.splitlines()
    assert len(tail) == 3 and all("main" in line for line in tail)
    previous = kubectl(reader, "logs", "-n", "shop", "crash-1", "--previous").stdout
    assert previous.strip().splitlines()[-1].startswith("ERROR main: exiting (Error, exit code 1)")
    missing = kubectl(reader, "logs", "-n", "shop", "web-1", "--previous", check=False)
    assert missing.returncode != 0
    assert 'previous terminated container "main" in pod "web-1" not found' in missing.stderr


def test_kubectl_auth_can_i_and_forbidden(cluster: tuple[ApiServer, Path, Path]) -> None:
    _, admin, reader = cluster
    denied = kubectl(reader, "auth", "can-i", "list", "secrets", check=False)
    assert denied.returncode == 1 and denied.stdout.strip() == "no"
    assert (
        kubectl(reader, "auth", "can-i", "get", "pods", "--subresource=log", "-n", "shop").stdout.strip()
        == "yes"
    )
    assert kubectl(admin, "auth", "can-i", "list", "secrets").stdout.strip() == "yes"
    refused = kubectl(reader, "get", "secrets", "-n", "shop", check=False)
    assert refused.returncode == 1
    assert (
        'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:kams:kams" cannot '
        'list resource "secrets" in API group "" in the namespace "shop"'
    ) in refused.stderr


# -------------------------------------------------------- demo cluster fixture
def test_demo_cluster_reads_with_both_clients(kube_api: KubeApi) -> None:
    assert kube_api.url == kube_api.server.url
    assert_client_reads_everything(kube_api.server, kube_api.admin_kubeconfig)
    pods = table(kubectl(kube_api.reader_kubeconfig, "get", "pods", "-A").stdout)
    assert len(pods) == kube_api.server.store.count(("", "pods"))
    assert all(re.fullmatch(r"\d+/\d+", row["READY"]) and row["STATUS"] for row in pods)
    if any(app.pod in {row["NAME"] for row in pods} for app in demo_names.SAMPLE_APPS):
        web = next(row for row in pods if row["NAME"] == demo_names.WEB.pod)
        assert web["STATUS"] == "Running"


def test_kube_faults_fixture_undoes_mutations(kube_faults: ApiServer) -> None:
    """Mutations and faults made through kube_faults are undone by the fixture (checked by the next test)."""
    kube_faults.store.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-faults-probe", "namespace": "default"},
        }
    )
    kube_faults.set_fault(r"/api/v1/nodes$", "error")


def test_kube_faults_fixture_left_nothing_behind(kube_api: KubeApi) -> None:
    assert kube_api.server.store.get(("", "configmaps"), "default", "kube-faults-probe") is None
    request = urllib.request.Request(
        kube_api.url + "/api/v1/nodes", headers={"Authorization": f"Bearer {demo_names.ADMIN_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.status == 200


# ----------------------------------------------------------- the command line
def test_command_line_prints_url_first_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "admin.kubeconfig"  # synthetic pods come without RBAC objects
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.apiserver",
            "--port",
            "0",
            "--synthetic-pods",
            "50",
            "--admin-kubeconfig-out",
            str(kubeconfig),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        with urllib.request.urlopen(url + "/version", timeout=TIMEOUT) as response:
            assert json.loads(response.read())["gitVersion"] == GIT_VERSION
        deadline = time.monotonic() + 10
        while not kubeconfig.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pods = table(kubectl(kubeconfig, "get", "pods", "-A").stdout)
        assert len(pods) >= 50
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)


# ----------------------------------------------------------------------- scale
def test_ten_thousand_pods_list_in_pages_quickly(make_api_server: Callable[..., ApiServer]) -> None:
    server = make_api_server([], synthetic_pods=10_000)
    headers = {"Authorization": f"Bearer {demo_names.ADMIN_TOKEN}"}
    began = time.monotonic()
    token, count, pages = "", 0, 0
    while True:
        request = urllib.request.Request(
            f"{server.url}/api/v1/pods?limit=500&continue={token}", headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            page: dict[str, Any] = orjson.loads(response.read())  # stdlib json takes ~8x longer here
        count += len(page["items"])
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
    elapsed = time.monotonic() - began
    assert count == server.store.count(("", "pods")) >= 10_000 and pages == 20
    assert elapsed < 10, f"listing 10,000 pods took {elapsed:.1f}s"


# -------------------------------------------------------------------- schemas
def served_items(api: ApiServer) -> Iterator[dict[str, Any]]:
    """Every stored object as the server lists it over HTTP (CRDs left out: no upstream schema)."""
    headers = {"Authorization": f"Bearer {demo_names.ADMIN_TOKEN}"}
    for rtype in api.store.registry.stored():
        if rtype.group == "aquasecurity.github.io" or not api.store.count(rtype.key):
            continue
        prefix = f"/apis/{rtype.group_version}" if rtype.group else "/api/v1"
        request = urllib.request.Request(f"{api.url}{prefix}/{rtype.plural}", headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            yield from orjson.loads(response.read())["items"]


def test_every_served_object_validates_against_the_openapi_schemas(
    kube_api: KubeApi, make_api_server: Callable[..., ApiServer]
) -> None:
    """What the server adds (resourceVersion, uid, creationTimestamp) keeps demo and synthetic objects
    valid."""
    import kubernetes_validate

    synthetic = make_api_server([], synthetic_pods=40)
    checked = 0
    for api in (kube_api.server, synthetic):
        for item in served_items(api):
            kubernetes_validate.validate(item, "1.30.0", strict=True)
            checked += 1
    assert checked >= kube_api.server.store.count(("", "pods")) + 40
