"""Typed failures. Every error that can reach a user is one of these, with a plain sentence.

k8sdata functions raise SourceError subclasses (never a library's own exception) so that a page can
show `error.sentence` next to the panel that failed while the other panels keep working.
"""

from __future__ import annotations

from typing import ClassVar, Literal

Source = Literal["kubernetes", "prometheus", "s3", "archive", "alertmanager", "clair"]

#: Marks that end a sentence. A sentence ends with exactly one of them (a detail's own full stop is
#: dropped before ours is added, so no "later.)." or "..").
_TERMINAL = ".!?"
#: What k8sdata.sources.kube says when it refuses, before any request, to touch Secrets.
NEVER_READS_SECRETS = "KAMS never reads Secrets"

_SOURCE_NAME: dict[str, str] = {
    "kubernetes": "the Kubernetes API",
    "prometheus": "Prometheus",
    "s3": "S3",
    "archive": "the archive folder",
    "alertmanager": "Alertmanager",
    "clair": "Clair",
}


def as_sentence(text: str) -> str:
    """`text` as a sentence people read: one line, first letter capital, ending with exactly one '.',
    '!' or '?' ("" stays ""). Details quote servers, which end their messages however they like."""
    flat = " ".join(text.split())
    if not flat:
        return ""
    # Only a leading letter: behind a quote is a name ('"main" is waiting' keeps its container's name).
    flat = flat[0].upper() + flat[1:]
    if flat[-1] in "!?":
        return flat
    flat = flat.rstrip(". ")
    if flat.endswith(".)"):  # "(see the docs.)": the full stop moves out of the parenthesis
        flat = flat[:-2].rstrip(". ") + ")"
    return flat + "."


def inner_detail(detail: str) -> str:
    """A detail as it sits inside our parentheses: one line, without its own closing full stop(s) (the
    sentence's full stop follows the parenthesis)."""
    return " ".join(detail.split()).rstrip(". ")


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
        detail = inner_detail(self.detail)
        if detail:
            what = f"{what} ({detail})"
        return f"{as_sentence(what)} {as_sentence(self.hint or self._next())}"


class Forbidden(SourceError):
    kind = "forbidden"

    @property
    def by_design(self) -> bool:
        """KAMS refused by itself (NeverReadsSecrets): no permission is missing, nothing to grant."""
        return False

    @property
    def sentence(self) -> str:
        if self.by_design:
            return NeverReadsSecrets.SENTENCE
        return super().sentence

    def _what(self) -> str:
        return f"KAMS is not allowed to read this from {self.source_name}"

    def _next(self) -> str:
        if self.source == "kubernetes":
            return "Grant the KAMS ServiceAccount read access with the ClusterRole in deploy/k8s/."
        return "Check the credentials KAMS uses for it."


class NeverReadsSecrets(Forbidden):
    """KAMS asked for Secrets and refused itself, before any request: it never reads them, by design (a
    monitor has no use for passwords and keys, and read access to Secrets is cluster-admin in all but
    name). Advice to grant access would be wrong, so the sentence says so instead."""

    SENTENCE: ClassVar[str] = ("KAMS never reads Secrets, by design, so it did not ask the Kubernetes API "
                               "for them. Nothing needs to be granted: this is not a missing permission.")

    def __init__(self, source: Source = "kubernetes", detail: str = NEVER_READS_SECRETS, *,
                 hint: str = "") -> None:
        super().__init__(source, detail, hint=hint)

    @property
    def by_design(self) -> bool:
        return True


class OutOfScope(SourceError):
    """The signed-in person's access policy does not open this data (k8sdata.access); nothing was sent."""

    kind = "out_of_scope"

    def _what(self) -> str:
        return self.detail or "Your access does not cover this"

    @property
    def sentence(self) -> str:
        return f"{as_sentence(self._what())} {as_sentence(self.hint or self._next())}"

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
        if not self.retry_after:
            return "KAMS will try again shortly."
        unit = "second" if self.retry_after == 1 else "seconds"
        return f"KAMS will try again in {self.retry_after:g} {unit}."


class PodGone(SourceError):
    """404 on a pod's log: the pod was deleted (or replaced) since it was listed."""

    kind = "gone"

    def _what(self) -> str:
        return f"The pod {self.detail} is gone" if self.detail else "The pod is gone"

    @property
    def sentence(self) -> str:
        return (f"{as_sentence(self._what())} "
                f"{as_sentence(self.hint or 'It was deleted or replaced; pick a current pod.')}")


class LogNotAvailable(SourceError):
    """400 on a pod's log: the kubelet has no such log (waiting to start, no previous run, ...).
    `detail` is the server's own sentence, e.g. 'container "main" in pod "x" is waiting to start'."""

    kind = "not_available"

    @property
    def sentence(self) -> str:
        detail = as_sentence(self.detail) or "There is no log for this container."
        return f"{detail} {as_sentence(self.hint or self._next())}"

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
