"""Keeps the demo cluster alive: the crash-looping pod goes on restarting while the demo runs.

A real kubelet restarts a container in CrashLoopBackOff every five minutes (its back-off cap) and
reports a BackOff event at every sync in between. Without this, the demo's restart counter would stand
still, and "restarts in the last hour" would fade to zero an hour after `make run`.
"""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

#: The kubelet's maximum back-off between restarts of a crash-looping container.
BACKOFF_CAP = timedelta(minutes=5)
#: How long the crash-looping process runs before it exits again.
RUN_TIME = timedelta(seconds=2)
PODS = ("", "pods")
EVENTS = ("", "events")
RESTART_EVENT_REASONS = ("Pulled", "Created", "Started")


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
        """Restart what is due and report back-offs; returns how many containers restarted."""
        now = now or datetime.now(UTC)
        restarts = 0
        for pod in self.store.objects(PODS):
            statuses = pod.get("status", {}).get("containerStatuses", [])
            if not any(_is_crash_looping(status) for status in statuses):
                continue
            restarted = restart_due_containers(pod, now)
            if restarted is not None:
                self.store.update(restarted)
                restarts += 1
            self._report(pod, now, restarted=restarted is not None)
        return restarts

    def _report(self, pod: dict[str, Any], now: datetime, *, restarted: bool) -> None:
        uid = pod["metadata"].get("uid")
        for event in self.store.objects(EVENTS, pod["metadata"]["namespace"]):
            if event.get("involvedObject", {}).get("uid") != uid:
                continue
            reason = event.get("reason")
            if reason == "BackOff" or (restarted and reason in RESTART_EVENT_REASONS):
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
