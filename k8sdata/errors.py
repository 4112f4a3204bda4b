"""Typed failures. Every error that can reach a user is one of these, with a plain sentence.

k8sdata functions raise SourceError subclasses (never a library's own exception) so that a page can
show `error.sentence` next to the panel that failed while the other panels keep working.
"""

from __future__ import annotations

from typing import ClassVar, Literal

Source = Literal["kubernetes", "prometheus", "s3", "archive", "alertmanager", "clair"]

_SOURCE_NAME: dict[str, str] = {
    "kubernetes": "the Kubernetes API",
    "prometheus": "Prometheus",
    "s3": "S3",
    "archive": "the archive folder",
    "alertmanager": "Alertmanager",
    "clair": "Clair",
}


class SourceError(Exception):
    """A data source failed. `kind` is stable and machine-readable; `sentence` is for people."""

    kind: ClassVar[str] = "error"

    def __init__(self, source: Source, detail: str = "", *, hint: str = "") -> None:
        self.source = source
        self.detail = detail
        self.hint = hint
        super().__init__(self.sentence)

    @property
    def source_name(self) -> str:
        return _SOURCE_NAME.get(self.source, self.source)

    def _what(self) -> str:
        return f"{self.source_name} returned an error"

    def _next(self) -> str:
        return "Try again in a moment; if it persists, check the server's logs."

    @property
    def sentence(self) -> str:
        what = self._what()
        if self.detail:
            what = f"{what} ({self.detail})"
        return f"{what[0].upper()}{what[1:]}. {self.hint or self._next()}"


class Forbidden(SourceError):
    kind = "forbidden"

    def _what(self) -> str:
        return f"KAMS is not allowed to read this from {self.source_name}"

    def _next(self) -> str:
        if self.source == "kubernetes":
            return "Grant the KAMS ServiceAccount read access with the ClusterRole in deploy/k8s/."
        return "Check the credentials KAMS uses for it."


class OutOfScope(SourceError):
    """The signed-in person's access policy does not open this data (k8sdata.access); nothing was sent."""

    kind = "out_of_scope"

    def _what(self) -> str:
        return self.detail or "Your access does not cover this"

    @property
    def sentence(self) -> str:
        return f"{self._what()} {self.hint or self._next()}"

    def _next(self) -> str:
        return "Choose one of your namespaces in the sidebar, or ask for access to more."


class Unreachable(SourceError):
    kind = "unreachable"

    def _what(self) -> str:
        return f"KAMS cannot reach {self.source_name}"

    def _next(self) -> str:
        return "Check that the server is running and that its address in KAMS's settings is right."


class Timeout(SourceError):
    kind = "timeout"

    def _what(self) -> str:
        return f"{self.source_name} did not answer in time"

    def _next(self) -> str:
        return "The server may be overloaded; try again, or raise KAMS_REQUEST_TIMEOUT."


class NotInstalled(SourceError):
    """The API or component is missing (e.g. metrics-server, Trivy Operator CRDs)."""

    kind = "not_installed"

    def _what(self) -> str:
        return f"This feature needs something that is not installed in {self.source_name}"

    def _next(self) -> str:
        return "Install the missing component, or ignore this panel."


class NotConfigured(SourceError):
    kind = "not_configured"

    def _what(self) -> str:
        return f"{self.source_name} is not configured"

    def _next(self) -> str:
        hints = {
            "prometheus": "Set PROMETHEUS_URL to your Prometheus server's address.",
            "s3": "Set KAMS_S3_BUCKET (and AWS credentials) to archive snapshots.",
            "kubernetes": "Set KUBECONFIG, or run KAMS inside the cluster with its ServiceAccount.",
            "alertmanager": "Set ALERTMANAGER_URL to your Alertmanager's address to see silences and "
                            "inhibitions.",
            "clair": "Set CLAIR_URL to your Clair v4 server's address (the one serving /matcher/api/v1/) "
                     "to see its vulnerability reports.",
        }
        return hints.get(self.source, "Check KAMS's settings.")


class RateLimited(SourceError):
    kind = "rate_limited"

    def __init__(self, source: Source, detail: str = "", *, retry_after: float | None = None,
                 hint: str = "") -> None:
        self.retry_after = retry_after
        super().__init__(source, detail, hint=hint)

    def _what(self) -> str:
        return f"{self.source_name} asked KAMS to slow down"

    def _next(self) -> str:
        wait = f" in {self.retry_after:g} seconds" if self.retry_after else " shortly"
        return f"KAMS will try again{wait}."


class PodGone(SourceError):
    """404 on a pod's log: the pod was deleted (or replaced) since it was listed."""

    kind = "gone"

    def _what(self) -> str:
        return f"The pod {self.detail} is gone" if self.detail else "The pod is gone"

    @property
    def sentence(self) -> str:
        return f"{self._what()}. {self.hint or 'It was deleted or replaced; pick a current pod.'}"


class LogNotAvailable(SourceError):
    """400 on a pod's log: the kubelet has no such log (waiting to start, no previous run, ...).
    `detail` is the server's own sentence, e.g. 'container "main" in pod "x" is waiting to start'."""

    kind = "not_available"

    @property
    def sentence(self) -> str:
        detail = self.detail.rstrip(".") or "There is no log for this container"
        return f"{detail[0].upper()}{detail[1:]}. {self.hint or self._next()}"

    def _next(self) -> str:
        if "waiting to start" in self.detail:
            return "Its log appears once it has started."
        if "previous terminated container" in self.detail:
            return "It has not restarted, so there is no previous log."
        return "Pick another container or pod."


class KubeletUnreachable(SourceError):
    """5xx on a pod's log whose message names the kubelet's containerLogs address: kube-apiserver reads a
    log from the kubelet of the pod's node, and could not reach it (the node is down, the network between
    control plane and node is cut, or the cluster has no kubelets). `detail` is where, and the reason."""

    kind = "kubelet_unreachable"

    def _what(self) -> str:
        return "The API server could not reach the kubelet that keeps this log"

    def _next(self) -> str:
        return ("The pod's node may be down or cut off from the control plane; the pod's status and its "
                "events still tell what happened.")
