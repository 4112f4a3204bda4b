"""Keeps the demo cluster alive: its troubled pods go on failing while the demo runs.

A real kubelet restarts a container in CrashLoopBackOff every five minutes (its back-off cap) and
reports a BackOff event at every sync in between. Without this, the demo's restart counter would stand
still, and "restarts in the last hour" would fade to zero an hour after `make run`.

The OOMKilled container (sandbox.usage's memory sawtooth) is killed when its memory reaches the limit,
at the end of each period (`usage.oom_kill_at`), and restarted at once, as the kernel and the kubelet
would: the restart count, lastState, the Ready condition and the OOMKilling / Pulled / Created /
Started events move on, and since the pod object changed, the usage model starts a new tooth. The
memory, the restart history and the events tell one story for as long as the demo runs.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sandbox import usage

#: The kubelet's maximum back-off between restarts of a crash-looping container.
BACKOFF_CAP = timedelta(minutes=5)
#: How long the crash-looping process runs before it exits again.
RUN_TIME = timedelta(seconds=2)
PODS = ("", "pods")
EVENTS = ("", "events")
RESTART_EVENT_REASONS = ("Pulled", "Created", "Started")
#: What the kernel's OOM killer leaves in the container's status (SIGKILL: 128 + 9).
OOM_EXIT_CODE = 137
#: The kernel's message, reported by node-problem-detector as an OOMKilling event on the node.
OOM_EVENT_REASON = "OOMKilling"


class Store(Protocol):
    def objects(self, resource: tuple[str, str], namespace: str | None = None) -> list[dict[str, Any]]: ...
    def update(self, obj: dict[str, Any]) -> dict[str, Any]: ...


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _is_crash_looping(status: dict[str, Any]) -> bool:
    return status.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"


def restart_due_containers(pod: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The pod after the restarts the kubelet would have made by `now`, or None if nothing changed."""
    changed = copy.deepcopy(pod)
    restarted = False
    for status in changed.get("status", {}).get("containerStatuses", []):
        if not _is_crash_looping(status):
            continue
        terminated = status.get("lastState", {}).get("terminated", {})
        finished = _parse(terminated.get("finishedAt"))
        if finished is None or now - finished < BACKOFF_CAP:
            continue
        status["restartCount"] = int(status.get("restartCount", 0)) + 1
        terminated["startedAt"] = _format(now - RUN_TIME)
        terminated["finishedAt"] = _format(now)
        restarted = True
    return changed if restarted else None


def _new_container_id(old: str, now: datetime) -> str:
    """A containerd id for the restarted container: a new container, so a new (stable) id."""
    runtime, _, previous = old.partition("://")
    digest = hashlib.sha256(f"{previous}/{_format(now)}".encode()).hexdigest()
    return f"{runtime or 'containerd'}://{digest}"


def oom_kill_due_containers(pod: dict[str, Any], now: datetime) -> tuple[dict[str, Any], list[str]] | None:
    """The pod after the kernel killed (and the kubelet restarted) every running container whose memory
    reached its limit by `now`, with their names; None if none did.

    One kill per container per call, however late the call: the new run starts at `now`, so the next
    tooth of the usage model's sawtooth begins there.
    """
    def is_due(status: dict[str, Any]) -> bool:
        due = usage.oom_kill_at(pod, status.get("name", ""))
        return due is not None and "running" in (status.get("state") or {}) and now.timestamp() >= due

    if not any(is_due(status) for status in pod.get("status", {}).get("containerStatuses") or []):
        return None  # the usual case: no copy
    changed = copy.deepcopy(pod)
    killed: list[str] = []
    for status in changed["status"]["containerStatuses"]:
        if not is_due(status):
            continue
        running = status["state"]["running"]
        name = status.get("name", "")
        restarted = now + timedelta(seconds=1)
        status["lastState"] = {"terminated": {
            "containerID": status.get("containerID", ""), "exitCode": OOM_EXIT_CODE,
            "finishedAt": _format(now), "reason": "OOMKilled", "startedAt": running.get("startedAt")}}
        status["containerID"] = _new_container_id(str(status.get("containerID", "")), now)
        status["restartCount"] = int(status.get("restartCount", 0)) + 1
        status["state"] = {"running": {"startedAt": _format(restarted)}}
        killed.append(name)
    for condition in changed["status"].get("conditions") or []:
        if condition.get("type") in ("Ready", "ContainersReady"):  # not ready for the moment it restarted
            condition["lastTransitionTime"] = _format(now + timedelta(seconds=1))
    return changed, killed


def _bump(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    bumped = copy.deepcopy(event)
    bumped["count"] = int(bumped.get("count") or 1) + 1
    bumped["lastTimestamp"] = _format(now)
    return bumped


class ClusterLife:
    """Applies `tick()` to a store every `interval` seconds in a daemon thread."""

    def __init__(self, store: Store, *, interval: float = 15.0) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> int:
        """Restart what is due (crash loops, OOM kills) and report back-offs; returns how many containers
        restarted."""
        now = now or datetime.now(UTC)
        restarts = 0
        for pod in self.store.objects(PODS):
            statuses = pod.get("status", {}).get("containerStatuses", [])
            if any(_is_crash_looping(status) for status in statuses):
                restarted = restart_due_containers(pod, now)
                if restarted is not None:
                    self.store.update(restarted)
                    restarts += 1
                self._report(pod, now, restarted=restarted is not None)
                pod = restarted or pod
            oom_killed = oom_kill_due_containers(pod, now)
            if oom_killed is not None:
                changed, containers = oom_killed
                self.store.update(changed)
                restarts += len(containers)
                self._report_oom_kill(pod, containers, now)
        return restarts

    def _report(self, pod: dict[str, Any], now: datetime, *, restarted: bool) -> None:
        uid = pod["metadata"].get("uid")
        for event in self.store.objects(EVENTS, pod["metadata"]["namespace"]):
            if event.get("involvedObject", {}).get("uid") != uid:
                continue
            reason = event.get("reason")
            if reason == "BackOff" or (restarted and reason in RESTART_EVENT_REASONS):
                self.store.update(_bump(event, now))

    def _report_oom_kill(self, pod: dict[str, Any], containers: list[str], now: datetime) -> None:
        """Bump the node's OOMKilling event for these containers, and the pod's newest Pulled, Created and
        Started events (the kubelet aggregates repeats into one event with a count; the newest Pulled is
        "already present on machine", not the first pull)."""
        metadata = pod["metadata"]
        node = (pod.get("spec") or {}).get("nodeName")
        newest: dict[str, dict[str, Any]] = {}
        for event in self.store.objects(EVENTS, metadata["namespace"]):
            reason = event.get("reason", "")
            if event.get("involvedObject", {}).get("uid") != metadata.get("uid") \
                    or reason not in RESTART_EVENT_REASONS:
                continue
            seen = event.get("lastTimestamp") or ""
            if reason not in newest or seen > (newest[reason].get("lastTimestamp") or ""):
                newest[reason] = event
        for event in newest.values():
            self.store.update(_bump(event, now))
        # node-problem-detector reports the kernel's kill on the node (namespace default), naming the process.
        for event in self.store.objects(EVENTS, "default"):
            involved = event.get("involvedObject", {})
            if (event.get("reason") == OOM_EVENT_REASON and involved.get("kind") == "Node"
                    and involved.get("name") == node
                    and any(f"({container})" in event.get("message", "") for container in containers)):
                self.store.update(_bump(event, now))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def start(self) -> ClusterLife:
        self._thread = threading.Thread(target=self._run, name="cluster-life", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
