"""One measurement in a fresh process, so its peak memory (ru_maxrss) is its own. Prints one JSON line.

    python -m bench.measure kams     KUBECONFIG           list_pods(slim=True) -> pods_frame
    python -m bench.measure watch    PODS CHANGES DIR     WatchedList, changes, snapshot -> PodsFrameBuilder
    python -m bench.measure cache    KUBECONFIG           WatchedList(slim_pod) first list -> PodsFrameBuilder
    python -m bench.measure kubectl  KUBECONFIG           `kubectl get pods -A` as a child process
    python -m bench.measure security KUBECONFIG           security_report: the Security page's whole scan
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
TIMEOUT = 60.0  # per API request; a 100,000-pod list is 200 pages, each well under a second


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def _client(kubeconfig: str) -> Any:
    from k8sdata.config import Settings
    from k8sdata.sources.kube import KubeClient

    return KubeClient(Settings.from_env({"KUBECONFIG": kubeconfig, "KAMS_REQUEST_TIMEOUT": str(TIMEOUT)}))


def measure_kams(kubeconfig: str) -> dict[str, Any]:
    """A plain list of slim pods (k8sdata.pods.podshape: msgspec decodes only the fields KAMS reads) ->
    the pods table."""
    from k8sdata.pods.frames import pods_frame

    client = _client(kubeconfig)
    baseline = _peak_mb()  # interpreter + pandas + kubernetes imported, before any data
    started = time.perf_counter()
    frame = pods_frame(client.list_pods(slim=True))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(frame), "peak_mb": _peak_mb(), "baseline_mb": baseline}


def measure_cache_first(kubeconfig: str) -> dict[str, Any]:
    """The big-cluster path of the website (ui/data.py): a WatchedList with slim_pod, first list ->
    PodsFrameBuilder (which keeps each row for the next refresh). The pods stay in memory, as on the
    website, so this is the memory figure that matters."""
    from k8sdata.pods.frames import PodsFrameBuilder
    from k8sdata.sources.watchcache import WatchedList, slim_pod

    client = _client(kubeconfig)
    baseline = _peak_mb()
    started = time.perf_counter()
    watched = WatchedList(client, "/api/v1/pods", slim=slim_pod)
    try:
        watched.wait_ready(600)
        frame = PodsFrameBuilder().frame(watched.snapshot()[0])
        seconds = time.perf_counter() - started
    finally:
        watched.stop()
        client.close()
    return {"seconds": seconds, "rows": len(frame), "peak_mb": _peak_mb(), "baseline_mb": baseline}


def measure_watch(pods: int, changes: int, folder: str) -> dict[str, Any]:
    """The second refresh through the watch cache. The stand-in server runs in this process here
    because it has no write verbs over HTTP: pods change through its store, as a kubelet's status
    updates would, and reach KAMS through the real HTTP watch. Its memory makes this process's peak
    meaningless, so only times are reported; the timed part runs after the server has gone quiet."""
    import copy

    from k8sdata.pods.frames import PodsFrameBuilder
    from k8sdata.sources.watchcache import WatchedList, slim_pod
    from sandbox import demo_names
    from sandbox.apiserver import ApiServer

    with ApiServer(synthetic_pods=pods) as server:
        kubeconfig = server.write_kubeconfig(Path(folder) / "watch.kubeconfig", demo_names.ADMIN_TOKEN)
        client = _client(str(kubeconfig))
        watched = WatchedList(client, "/api/v1/pods", slim=slim_pod)
        builder = PodsFrameBuilder()  # one per cluster on the website (ui/data.py), kept across refreshes
        try:
            started = time.perf_counter()
            watched.wait_ready(600)
            first = builder.frame(watched.snapshot()[0])
            first_seconds = time.perf_counter() - started
            _, version_before = watched.snapshot()
            for pod in server.store.objects(("", "pods"))[:changes]:
                changed = copy.deepcopy(pod)
                changed["metadata"].setdefault("labels", {})["kams-bench"] = "changed"
                server.store.update(changed)
            deadline = time.monotonic() + 60
            while watched.snapshot()[1] < version_before + changes and time.monotonic() < deadline:
                time.sleep(0.01)
            seen = watched.snapshot()[1] - version_before
            started = time.perf_counter()
            items, _ = watched.snapshot()
            frame = builder.frame(items)
            refresh_seconds = time.perf_counter() - started
            return {"first_seconds": first_seconds, "refresh_seconds": refresh_seconds,
                    "rows": len(frame), "first_rows": len(first), "changes_seen": seen,
                    "lists": watched.lists}
        finally:
            watched.stop()
            client.close()


def measure_security(kubeconfig: str) -> dict[str, Any]:
    """The Security page's scan (k8sdata.security.report, what ui.security_data caches): every list it
    reads, the workload checks, the audits and the image list, as one viewer's cold view costs."""
    import datetime as dt

    from k8sdata.config import Settings
    from k8sdata.security.report import security_report

    client = _client(kubeconfig)
    baseline = _peak_mb()
    started = time.perf_counter()
    report = security_report(client, Settings.from_env({}), dt.datetime.now(dt.UTC).date())
    seconds = time.perf_counter() - started
    pods = sum(1 for item in report.objects.items if item.get("kind") == "Pod")
    return {"seconds": seconds, "pods": pods, "findings": len(report.merged.findings),
            "peak_mb": _peak_mb(), "baseline_mb": baseline}


def measure_kubectl(kubeconfig: str) -> dict[str, Any]:
    started = time.perf_counter()
    completed = subprocess.run([str(KUBECTL), "--kubeconfig", kubeconfig, "get", "pods", "-A"],
                               capture_output=True, timeout=900, check=True)
    seconds = time.perf_counter() - started
    rows = max(0, completed.stdout.count(b"\n") - 1)  # minus the header line
    return {"seconds": seconds, "rows": rows, "peak_mb": _peak_mb(resource.RUSAGE_CHILDREN)}


def main(argv: list[str]) -> int:
    what, *args = argv
    if what == "kams":
        result = measure_kams(args[0])
    elif what == "cache":
        result = measure_cache_first(args[0])
    elif what == "watch":
        result = measure_watch(int(args[0]), int(args[1]), args[2])
    elif what == "kubectl":
        result = measure_kubectl(args[0])
    elif what == "security":
        result = measure_security(args[0])
    else:
        raise SystemExit(f"unknown measurement {what!r}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
