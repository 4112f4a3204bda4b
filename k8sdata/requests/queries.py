"""The PromQL catalogue, as data.

Each query is a named, documented template. Pages never build PromQL: they pick a Query and call
`render(...)`. Every user-supplied value goes through `escape_label_value`, the ONE place values are
escaped, and label names and durations are validated, so a namespace called `a"} or vector(1) #`
can only ever match itself.

Every query aggregates by (namespace, <app_label>), (namespace, pod) or (namespace, pod, container),
so the number of queries a page view sends is fixed, however large the cluster is.

Container queries exclude cAdvisor's pod-level series: real kubelets also publish a cgroup for the whole
pod (container="") and, with dockershim, for the pause container (container="POD"); counting those
would double every pod's usage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# RE2 metacharacters; Prometheus anchors `=~` regexes, so escaping these makes the regex literal.
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_label_value(value: str, *, regex: bool = False) -> str:
    """Escape `value` for use inside a double-quoted PromQL label matcher.

    With regex=True the value is first made a literal for `=~` / `!~` (RE2 metacharacters escaped),
    then escaped as a string. The result never contains an unescaped quote or a raw newline.
    """
    if regex:
        value = _REGEX_META.sub(r"\\\1", value)
    out: list[str] = []
    for char in value:
        if char in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            # Other control characters: the PromQL lexer understands Go's \xNN escapes.
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def validate_label_name(name: str) -> str:
    """Any non-empty UTF-8 text: Prometheus 3 takes such names (OpenTelemetry's `http.route`, a kept
    `app.kubernetes.io/name`); write one into PromQL with label_name()."""
    return _validate_name(name, "label")


def _validate_name(name: str, kind: str) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which no Prometheus name can hold
        raise ValueError(f"not a Prometheus {kind} name: {name!r}") from None
    if not name:
        raise ValueError(f"a Prometheus {kind} name cannot be empty")
    return name


def label_name(name: str) -> str:
    """`name` as PromQL writes a label name: bare when it is a classic name, which every Prometheus
    parses; quoted otherwise, which only Prometheus 3 parses, and only Prometheus 3 stores such a name."""
    validate_label_name(name)
    return name if _LABEL_NAME.fullmatch(name) else f'"{escape_label_value(name)}"'


def url_label_name(name: str) -> str:
    """`name` as a URL path segment of the HTTP API (/api/v1/label/NAME/values): a classic name as is,
    any other in Prometheus 3's `U__` value encoding (`/` could not travel in a path segment otherwise)."""
    validate_label_name(name)
    if _LABEL_NAME.fullmatch(name):
        return name
    return "U__" + "".join(
        "__" if char == "_"
        else char if char.isascii() and (char.isalpha() or char == ":" or (char.isdigit() and index > 0))
        else f"_{ord(char):x}_" for index, char in enumerate(name))


def validate_duration(window: str) -> str:
    if not _DURATION.match(window):
        raise ValueError(f"not a PromQL duration: {window!r} (use e.g. 30s, 5m, 1h)")
    return window


def duration_seconds(window: str) -> float:
    """A PromQL duration ("1h30m", "7d") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_536_000}
    validate_duration(window)
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", window)
    return float(sum(int(amount) * units[unit] for amount, unit in parts))


def seconds_duration(seconds: float) -> str:
    """Whole seconds as a PromQL duration ("300s"); at least one second."""
    return f"{max(1, round(seconds))}s"


def _matchers(namespace: str, app: str, app_label: str, pod: str = "") -> str:
    """Series selector body shared by every query: the namespace (empty = all), the app (empty = all)
    and the pod (empty = all)."""
    parts = [f'namespace="{escape_label_value(namespace)}"' if namespace else 'namespace!=""']
    if app:
        parts.append(f'{app_label}="{escape_label_value(app)}"')
    if pod:
        parts.append(f'pod="{escape_label_value(pod)}"')
    return ", ".join(parts)


@dataclass(frozen=True)
class Query:
    """One catalogue entry.

    `template` is a str.format template with the placeholders {sel} (label matchers, without braces),
    {window} (a PromQL duration), {app_label} (a label name), {rate_window} and {resolution} (durations:
    the rate window inside a subquery and the subquery's step) and {horizon_seconds} (a number).
    Literal braces are doubled.
    """

    name: str
    template: str
    description: str
    unit: str
    labels: tuple[str, ...]  # the labels of the result series; "app_label" stands for settings.app_label

    def render(self, **params: str) -> str:
        """Render with params namespace (""=all), app (""=all), pod (""=all), window ("5m"),
        app_label ("app"), rate_window ("5m"), resolution ("5m") and horizon ("24h").

        Values (namespace, app, pod) go through escape_label_value; durations are validated (they are
        syntax, not values, so escaping cannot make them safe); app_label goes through label_name.
        """
        unknown = set(params) - {"namespace", "app", "pod", "window", "app_label", "rate_window",
                                 "resolution", "horizon"}
        if unknown:
            raise TypeError(f"{self.name}.render() got unknown params {sorted(unknown)}")
        app_label = label_name(params.get("app_label") or "app")
        window = validate_duration(params.get("window") or "5m")
        sel = _matchers(params.get("namespace", ""), params.get("app", ""), app_label, params.get("pod", ""))
        return self.template.format(
            sel=sel, window=window, app_label=app_label,
            rate_window=validate_duration(params.get("rate_window") or "5m"),
            resolution=validate_duration(params.get("resolution") or "5m"),
            horizon_seconds=f"{duration_seconds(params.get('horizon') or '24h'):g}")

    def result_labels(self, app_label: str = "app") -> tuple[str, ...]:
        return tuple(app_label if label == "app_label" else label for label in self.labels)


REQUEST_RATE = Query(
    name="request_rate",
    template="sum by (namespace, {app_label}) (rate(http_requests_total{{{sel}}}[{window}]))",
    description="Requests per second each application served, averaged over the window.",
    unit="req/s",
    labels=("namespace", "app_label"),
)

ERROR_RATIO = Query(
    name="error_ratio",
    # `or ... * 0` gives applications without any 5xx a ratio of 0 instead of no series at all.
    template=(
        "(sum by (namespace, {app_label}) (rate(http_requests_total{{{sel}, code=~\"5..\"}}[{window}]))"
        " or sum by (namespace, {app_label}) (rate(http_requests_total{{{sel}}}[{window}])) * 0)"
        " / sum by (namespace, {app_label}) (rate(http_requests_total{{{sel}}}[{window}]))"
    ),
    description="Share of requests answered with a 5xx status (0..1) over the window.",
    unit="ratio",
    labels=("namespace", "app_label"),
)

LATENCY_P95 = Query(
    name="latency_p95",
    template=(
        "histogram_quantile(0.95, sum by (namespace, {app_label}, le)"
        " (rate(http_request_duration_seconds_bucket{{{sel}}}[{window}])))"
    ),
    description="95th percentile of request duration over the window.",
    unit="s",
    labels=("namespace", "app_label"),
)

RESTARTS_1H = Query(
    name="restarts_1h",
    # The window is fixed at 1h by definition; kube-state-metrics' counter is per container.
    template="sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{{{sel}}}[1h]))",
    description="Container restarts per pod during the last hour.",
    unit="restarts",
    labels=("namespace", "pod"),
)

# -- per container: usage, requests and limits, and their history (pod detail, right-sizing, forecast) --

#: cAdvisor series of real containers only (see the module docstring).
_CONTAINERS = 'container!="", container!="POD"'

CONTAINER_CPU = Query(
    name="container_cpu",
    template=("sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{{{sel}, "
              + _CONTAINERS + "}}[{window}]))"),
    description="CPU each container used, in cores, averaged over the window.",
    unit="cores",
    labels=("namespace", "pod", "container"),
)

CONTAINER_MEMORY = Query(
    name="container_memory",
    # max, not sum: a container scraped by two jobs (or seen twice during a restart) is still one container.
    template=("max by (namespace, pod, container) (container_memory_working_set_bytes{{{sel}, "
              + _CONTAINERS + "}})"),
    description="Memory working set of each container (what the OOM killer and `kubectl top` look at).",
    unit="bytes",
    labels=("namespace", "pod", "container"),
)

CONTAINER_RESOURCES = Query(
    name="container_resources",
    # Requests and limits in one query: label_replace tags each side with kind="request"|"limit".
    template=(
        'label_replace(max by (namespace, pod, container, resource) (kube_pod_container_resource_requests'
        '{{{sel}, resource=~"cpu|memory"}}), "kind", "request", "", "")'
        ' or label_replace(max by (namespace, pod, container, resource) (kube_pod_container_resource_limits'
        '{{{sel}, resource=~"cpu|memory"}}), "kind", "limit", "", "")'
    ),
    description="Requests and limits of each container from kube-state-metrics: cores for resource=cpu, "
                "bytes for resource=memory; kind is request or limit.",
    unit="cores|bytes",
    labels=("namespace", "pod", "container", "resource", "kind"),
)

POD_NETWORK = Query(
    name="pod_network",
    # Network counters belong to the pod's sandbox (container="" or "POD" on real kubelets), so no
    # container filter; max per interface removes duplicates, then interfaces add up.
    template=(
        'label_replace(sum by (namespace, pod) (max by (namespace, pod, interface) (rate('
        'container_network_receive_bytes_total{{{sel}}}[{window}]))), "direction", "receive", "", "")'
        ' or label_replace(sum by (namespace, pod) (max by (namespace, pod, interface) (rate('
        'container_network_transmit_bytes_total{{{sel}}}[{window}]))), "direction", "transmit", "", "")'
    ),
    description="Bytes per second each pod received and transmitted, averaged over the window.",
    unit="bytes/s",
    labels=("namespace", "pod", "direction"),
)

CONTAINER_RESTARTS = Query(
    name="container_restarts",
    template="max by (namespace, pod, container) (kube_pod_container_status_restarts_total{{{sel}}})",
    description="Restart count of each container (kube-state-metrics' counter, as kubectl's RESTARTS).",
    unit="restarts",
    labels=("namespace", "pod", "container"),
)

CONTAINER_RESTARTS_INCREASE = Query(
    name="container_restarts_increase",
    template=("sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{{{sel}}}"
              "[{window}]))"),
    description="Container restarts per pod during the window.",
    unit="restarts",
    labels=("namespace", "pod"),
)

CPU_P95_OVER_WINDOW = Query(
    name="cpu_p95_over_window",
    # KRR's simple strategy: the 95th percentile of the CPU rate sampled every {resolution} over the window.
    template=(
        "quantile_over_time(0.95, sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total"
        "{{{sel}, " + _CONTAINERS + "}}[{rate_window}]))[{window}:{resolution}])"
    ),
    description="95th percentile of each container's CPU rate over the window (KRR's CPU request).",
    unit="cores",
    labels=("namespace", "pod", "container"),
)

MEMORY_PEAK_OVER_WINDOW = Query(
    name="memory_peak_over_window",
    template=("max by (namespace, pod, container) (max_over_time(container_memory_working_set_bytes"
              "{{{sel}, " + _CONTAINERS + "}}[{window}]))"),
    description="Highest working set each container reached during the window (KRR's memory basis).",
    unit="bytes",
    labels=("namespace", "pod", "container"),
)

USAGE_FIRST_SEEN = Query(
    name="usage_first_seen",
    # timestamp() inside the subquery gives the real sample times, so this is when usage data begins.
    template=("min by (namespace, pod, container) (min_over_time(timestamp(container_memory_working_set_bytes"
              "{{{sel}, " + _CONTAINERS + "}})[{window}:{resolution}]))"),
    description="Unix time of each container's first usage sample within the window (its history length).",
    unit="unix seconds",
    labels=("namespace", "pod", "container"),
)

POD_OWNERS = Query(
    name="pod_owners",
    # Over the whole window, so pods that are gone (replaced by a rollout) still map to their workload.
    template=("max by (namespace, pod, owner_kind, owner_name) (max_over_time(kube_pod_owner{{{sel}}}"
              "[{window}]))"),
    description="The controller owning each pod seen during the window (kube-state-metrics).",
    unit="",
    labels=("namespace", "pod", "owner_kind", "owner_name"),
)

RUNNING_CONTAINERS = Query(
    name="running_containers",
    template="max by (namespace, pod, container) (kube_pod_container_info{{{sel}}})",
    description="Every container of every pod that exists now (kube-state-metrics; 1 per container).",
    unit="",
    labels=("namespace", "pod", "container"),
)

MEMORY_PREDICTED = Query(
    name="memory_predicted",
    template=("max by (namespace, pod, container) (predict_linear(container_memory_working_set_bytes"
              "{{{sel}, " + _CONTAINERS + "}}[{window}], {horizon_seconds}))"),
    description="Working set each container will have after the horizon, by a linear fit over the window.",
    unit="bytes",
    labels=("namespace", "pod", "container"),
)

MEMORY_SLOPE = Query(
    name="memory_slope",
    template=("max by (namespace, pod, container) (deriv(container_memory_working_set_bytes"
              "{{{sel}, " + _CONTAINERS + "}}[{window}]))"),
    description="How fast each container's working set grows, by a linear fit over the window.",
    unit="bytes/s",
    labels=("namespace", "pod", "container"),
)

# -- request metrics (RED) in any convention: the metric and label names come from a Convention --------


class _ConventionNames(Protocol):
    """What a RequestQuery needs of k8sdata.requests.conventions.Convention (a Protocol avoids an
    import cycle).
    Read-only properties: Convention is a frozen dataclass, which plain attributes here would not match."""

    @property
    def requests_metric(self) -> str: ...
    @property
    def duration_bucket(self) -> str: ...
    @property
    def seconds_per_unit(self) -> float: ...
    @property
    def namespace_label(self) -> str: ...
    @property
    def workload_label(self) -> str: ...
    @property
    def workload_fallback_labels(self) -> tuple[str, ...]: ...
    @property
    def pod_label(self) -> str: ...
    @property
    def status_label(self) -> str: ...
    @property
    def matchers(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def workload_from_owners(self) -> bool: ...
    @property
    def owners(self) -> str: ...


def validate_metric_name(name: str) -> str:
    """Any non-empty UTF-8 text, as for labels (validate_label_name); written by series_selector()."""
    return _validate_name(name, "metric")


def series_selector(metric: str, matchers: str) -> str:
    """`metric{matchers}`, or `{__name__="metric", matchers}` for a name that is not a classic one: that
    form is Prometheus 2's as well as 3's, and only Prometheus 3 stores such names."""
    validate_metric_name(metric)
    if _METRIC_NAME.fullmatch(metric):
        return f"{metric}{{{matchers}}}"
    name_matcher = f'__name__="{escape_label_value(metric)}"'
    return f"{{{name_matcher}, {matchers}}}" if matchers else f"{{{name_matcher}}}"


#: The label request queries add to say where each series' workload came from (k8sdata.requests.red reads it).
WORKLOAD_SOURCE_LABEL = "kams_workload_source"
#: Its value when kube-state-metrics' ownership named the workload (a label's is "label <name>").
SOURCE_OWNERS = "kube-state-metrics"
#: kube-state-metrics' ownership, as kubernetes-mixin records it and as it is exported.
OWNERS_RULE_METRIC = "namespace_workload_pod:kube_pod_owner:relabel"
OWNERS_SERIES_METRIC = "kube_pod_owner"
#: Owner kinds whose name is the workload's (a ReplicaSet's is its Deployment's, joined apart).
_DIRECT_OWNER_KINDS = "StatefulSet|DaemonSet|Job|ReplicationController"

#: The parts of a convention's request series (request_series): those whose workload PromQL can name
#: (by a label or kube-state-metrics), and those it cannot, kept per pod for k8sdata.requests.red to name.
Part = str
RESOLVED: Part = "resolved"
UNRESOLVED: Part = "unresolved"


def label_source(label: str) -> str:
    """The workload source of series that name it in `label`."""
    return f"label {label}"


def _selector(convention: _ConventionNames, workload_label: str, unset: Sequence[str], *, namespace: str,
              workload: str, pod: str, extra: Sequence[str] = ()) -> str:
    """Label matchers (without braces) for a convention's request series: its fixed matchers (Istio's
    reporter, Linkerd's direction), then the namespace and the workload read from `workload_label` ("" =
    no workload matcher; empty value = any non-empty one, so series without them are not counted as a
    nameless application), the labels in `unset` required to be empty (absent), the pod, and `extra`."""
    parts = [f'{label_name(name)}="{escape_label_value(value)}"' for name, value in convention.matchers]
    selection = [(convention.namespace_label, namespace)]
    if workload_label:
        selection.append((workload_label, workload))
    for label, value in selection:
        label = label_name(label)
        parts.append(f'{label}="{escape_label_value(value)}"' if value else f'{label}!=""')
    parts.extend(f'{label_name(label)}=""' for label in unset)
    if pod and convention.pod_label:
        parts.append(f'{label_name(convention.pod_label)}="{escape_label_value(pod)}"')
    parts.extend(extra)
    return ", ".join(parts)


def _tag(expr: str, label: str, value: str) -> str:
    """`expr` with `label` set to the literal `value` on every series."""
    return f'label_replace({expr}, "{escape_label_value(validate_label_name(label))}", ' \
           f'"{escape_label_value(value.replace("$", "$$"))}", "", "")'


def _copy_label(expr: str, target: str, source: str) -> str:
    """`expr` with label `target` set to label `source`'s value (where that is set)."""
    target, source = (escape_label_value(validate_label_name(name)) for name in (target, source))
    return f'label_replace({expr}, "{target}", "$1", "{source}", "(.+)")'


def pod_owners(convention: _ConventionNames, *, namespace: str = "", workload: str = "",
               window: str = "5m") -> str:
    """One series per (namespace, pod) naming the pod's workload in the convention's workload label,
    from kube-state-metrics as kubernetes-mixin joins it: its recording rule when the convention's
    `owners` says Prometheus has it, else kube_pod_owner (a ReplicaSet's pod belongs to the ReplicaSet's
    Deployment, by kube_replicaset_owner; StatefulSet, DaemonSet, Job and ReplicationController pods to
    their owner). Over the window, so a pod replaced during it still maps to its workload. The value is
    always 1, and topk keeps one owner per pod, so a join on it can neither scale nor fail.
    Labels are renamed to the convention's namespace, pod and workload labels."""
    ns = f'namespace="{escape_label_value(namespace)}"' if namespace else 'namespace!=""'
    window = validate_duration(window)
    if convention.owners == OWNERS_RULE_METRIC:
        owners = _copy_label(f"max_over_time({OWNERS_RULE_METRIC}{{{ns}, pod!=\"\"}}[{window}])",
                             "kams_owner", "workload")
    elif convention.owners == OWNERS_SERIES_METRIC:
        replica_sets = _copy_label(
            f'max_over_time(kube_pod_owner{{{ns}, owner_kind="ReplicaSet"}}[{window}])', "replicaset",
            "owner_name")
        deployments = ("topk by (namespace, replicaset) (1, max by (namespace, replicaset, owner_name) "
                       f'(max_over_time(kube_replicaset_owner{{{ns}, owner_kind="Deployment"}}[{window}])))')
        direct = f'max_over_time(kube_pod_owner{{{ns}, owner_kind=~"{_DIRECT_OWNER_KINDS}"}}[{window}])'
        of_deployments = f"{replica_sets} * on (namespace, replicaset) group_left(owner_name) {deployments}"
        owners = (f"{_copy_label(of_deployments, 'kams_owner', 'owner_name')}"
                  f" or {_copy_label(direct, 'kams_owner', 'owner_name')}")
    else:
        raise ValueError(f"no kube-state-metrics ownership series named {convention.owners!r}")
    owners = f"topk by (namespace, pod) (1, group by (namespace, pod, kams_owner) ({owners}))"
    if workload:
        # The owner is a computed label: `and` with a one-series vector carrying the wanted value keeps
        # exactly the pods of that workload.
        owners = f"({owners} and on (kams_owner) {_tag('vector(1)', 'kams_owner', workload)})"
    renames = ((convention.workload_label, "kams_owner"), (convention.namespace_label, "namespace"),
               (convention.pod_label, "pod"))
    for target, source in renames:
        if target != source:
            owners = _copy_label(owners, target, source)
    return owners


def request_series(convention: _ConventionNames, metric: str, *, namespace: str = "", workload: str = "",
                   pod: str = "", window: str = "", part: Part = RESOLVED, with_source: bool = False) -> str:
    """The convention's `metric` series for the selection, as `rate(...[window])` (or the bare series
    when window is ""); "" when the part is empty for this convention.

    The RESOLVED part names each series' workload in the convention's workload_label. Without fallback
    labels or ownership this is one selector. Otherwise it is ONE expression too: a branch per workload
    label, joined with `or`. Branch i takes the series whose label i is set and every earlier label empty,
    so the branches never share a series (nothing is counted twice) and the first label set wins;
    label_replace copies label i into workload_label, so `sum by (namespace, <workload_label>, ...)`
    groups every kind of workload alike. With kube-state-metrics ownership (convention.owners), a last
    branch joins the series that have no workload label but a pod to pod_owners().

    The UNRESOLVED part (conventions with workload_from_owners) is the series with no workload label but
    a pod that kube-state-metrics does not know either; k8sdata.requests.red names their workload per pod.
    With a workload selected, only pods whose names start with `<workload>-` can belong to it (every built-in
    controller names its pods so), and red keeps those it confirms.

    A counter's series must carry the status label: another library's counter of the same name with
    other labels is not this convention's. with_source tags each series with WORKLOAD_SOURCE_LABEL.
    """
    def series(selector: str) -> str:
        return f"rate({series_selector(metric, selector)}[{validate_duration(window)}])" if window else \
            series_selector(metric, selector)

    extra = [f'{label_name(convention.status_label)}!=""'] if metric == convention.requests_metric else []
    labels = [convention.workload_label, *convention.workload_fallback_labels]
    pod_label = label_name(convention.pod_label) if convention.pod_label else ""
    if part == UNRESOLVED:
        if not (convention.workload_from_owners and pod_label):
            return ""
        if workload:
            extra.append(f'{pod_label}=~"{escape_label_value(workload, regex=True)}-.+"')
        unresolved = series(_selector(convention, "", labels, namespace=namespace, workload="", pod=pod,
                                      extra=[*extra, f'{pod_label}!=""']))
        if convention.owners:
            on = f"{label_name(convention.namespace_label)}, {pod_label}"
            owners = pod_owners(convention, namespace=namespace, window=window or "5m")
            unresolved = f"({unresolved} unless on ({on}) {owners})"
        return unresolved  # no source: k8sdata.requests.red names these pods' workloads
    if part != RESOLVED:
        raise ValueError(f"unknown part {part!r}")
    branches = []
    for index, label in enumerate(labels):
        branch = series(_selector(convention, label, labels[:index], namespace=namespace, workload=workload,
                                  pod=pod, extra=extra))
        if index:
            # "(.+)" matches, as the branch's label is non-empty: the workload is its value.
            branch = _copy_label(branch, convention.workload_label, label)
        branches.append(_tag(branch, WORKLOAD_SOURCE_LABEL, label_source(label)) if with_source else branch)
    if convention.workload_from_owners and pod_label and convention.owners:
        on = f"{label_name(convention.namespace_label)}, {pod_label}"
        owned = series(_selector(convention, "", labels, namespace=namespace, workload="", pod=pod,
                                 extra=[*extra, f'{pod_label}!=""']))
        owners = pod_owners(convention, namespace=namespace, workload=workload, window=window or "5m")
        branch = f"({owned} * on ({on}) group_left({label_name(convention.workload_label)}) {owners})"
        branches.append(_tag(branch, WORKLOAD_SOURCE_LABEL, SOURCE_OWNERS) if with_source else branch)
    return " or ".join(branches)


@dataclass(frozen=True)
class RequestQuery:
    """A catalogue entry for request metrics, rendered for one metric convention.

    `template` placeholders: {request_rates} and {bucket_rates} (request_series: the per-second rates of
    the convention's counter and histogram buckets over the window, for the selection, the workload in
    the convention's workload_label), {by} (validated label names, comma-separated), {quantile} (0..1)
    and {to_seconds} (" * 0.001" for milliseconds, else ""). Results are always in seconds and requests
    per second, whatever unit the convention uses, except REQUEST_BUCKETS' `le`, which stays in the
    convention's unit.

    render(part=UNRESOLVED) renders the query over the series whose workload PromQL cannot name ("" when
    the convention has none): `by` should then name the pod instead of the workload.
    """

    name: str
    template: str
    description: str
    unit: str

    def render(self, convention: _ConventionNames, *, by: Sequence[str], namespace: str = "",
               workload: str = "", pod: str = "", window: str = "5m", quantile: float = 0.95,
               part: Part = RESOLVED, with_source: bool = False) -> str:
        if "{bucket_rates}" in self.template and not convention.duration_bucket:
            raise ValueError(f"{self.name} needs a duration histogram; this convention has none")
        if not 0 <= quantile <= 1:
            raise ValueError(f"quantile must be within 0..1, not {quantile!r}")
        scale = float(convention.seconds_per_unit)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"seconds_per_unit must be a positive number, not {scale!r}")
        def series(metric: str) -> str:
            return request_series(convention, metric, namespace=namespace, workload=workload, pod=pod,
                                  window=validate_duration(window), part=part, with_source=with_source)

        request_rates = series(convention.requests_metric)
        bucket_rates = series(convention.duration_bucket) if convention.duration_bucket else ""
        if not (bucket_rates if "{bucket_rates}" in self.template else request_rates):
            return ""
        return self.template.format(
            request_rates=request_rates, bucket_rates=bucket_rates,
            by=", ".join(label_name(label) for label in dict.fromkeys(by)),
            quantile=f"{quantile:g}", to_seconds="" if scale == 1 else f" * {scale!r}")


REQUESTS_BY_STATUS = RequestQuery(
    name="requests_by_status",
    # One query gives the request rate, the 5xx and the 4xx rates: {by} always ends with the status
    # label, and KAMS sums the codes by class. Fewer round trips than a query per class, same numbers.
    template="sum by ({by}) ({request_rates})",
    description="Requests per second by status code, averaged over the window.",
    unit="req/s",
)

REQUEST_LATENCY_QUANTILE = RequestQuery(
    name="request_latency_quantile",
    template="histogram_quantile({quantile}, sum by ({by}, le) ({bucket_rates})){to_seconds}",
    description="The quantile of request duration over the window, interpolated within histogram buckets "
                "as Prometheus does, converted to seconds.",
    unit="s",
)

REQUEST_BUCKETS = RequestQuery(
    name="request_buckets",
    # For workloads named outside PromQL (k8sdata.requests.red): their pods' buckets are added up there, and
    # the quantile taken as histogram_quantile takes it (k8sdata.requests.histogram).
    template="sum by ({by}, le) ({bucket_rates})",
    description="Observations per second in each cumulative latency bucket (le in the convention's unit).",
    unit="1/s",
)

REQUEST_CATALOGUE: dict[str, RequestQuery] = {
    q.name: q for q in (REQUESTS_BY_STATUS, REQUEST_LATENCY_QUANTILE, REQUEST_BUCKETS)}


def conventions_present(candidates: Sequence[tuple[str, _ConventionNames]], namespace: str = "") -> str:
    """ONE query telling which conventions have request series (in `namespace`; "" = any), and which
    kube-state-metrics ownership series exist: a `count` per candidate, tagged with a `convention` label
    (candidate names are values, so they are escaped like any value), and per ownership metric, tagged
    with its name."""
    if not candidates:
        raise ValueError("no conventions to look for")
    parts = []
    for name, convention in candidates:
        series = request_series(convention, convention.requests_metric, namespace=namespace)
        unresolved = request_series(convention, convention.requests_metric, namespace=namespace,
                                    part=UNRESOLVED)
        if unresolved:
            series = f"{series} or {unresolved}"
        parts.append(_tag(f"count({series})", "convention", name))
    ns = f'namespace="{escape_label_value(namespace)}"' if namespace else 'namespace!=""'
    for metric in (OWNERS_RULE_METRIC, OWNERS_SERIES_METRIC):
        parts.append(_tag(f"count({metric}{{{ns}}})", "convention", metric))
    return " or ".join(parts)


def requests_first_seen(convention: _ConventionNames, *, namespace: str = "", window: str = "30d",
                        resolution: str = "1h") -> str:
    """Unix time at which the convention's request counter first has a sample within the last `window`
    (to `resolution`): when its history begins, so a 30-day figure over 26 hours of data can say so.
    ONE series: `count` first, so the subquery walks one series, not every (pod, path, code) series;
    the subquery's steps are then the times, so timestamp() gives the first step that saw data."""
    selector = series_selector(convention.requests_metric, _selector(
        convention, "", (), namespace=namespace, workload="", pod="",
        extra=[f'{label_name(convention.status_label)}!=""']))
    return (f"min_over_time(timestamp(count({selector}))"
            f"[{validate_duration(window)}:{validate_duration(resolution)}])")


#: What FIRING_ALERTS groups by: the app under either name prometheus.PromClient.alerts reads, and the
#: pod (an alert about a pod names its application only through the pod).
FIRING_ALERT_BY = ("namespace", "alertname", "severity", "app", "app_kubernetes_io_name", "pod")

FIRING_ALERTS = Query(
    name="firing_alerts",
    # ALERTS holds 1 per evaluation while an alert is pending or firing and ends with a staleness marker
    # when it resolves, so a range query of it draws each incident's start and end. `max by` keeps only
    # the labels shown (an alert's other labels, e.g. instance, would split one incident in several).
    template=("max by (" + ", ".join(FIRING_ALERT_BY) + ") "
              '(ALERTS{{alertstate="firing", {sel}}})'),
    description="1 while each alert fires, per alert name, severity, namespace, app and pod.",
    unit="",
    labels=("namespace", "alertname"),  # the others only when the alert has them
)


CATALOGUE: dict[str, Query] = {q.name: q for q in (
    REQUEST_RATE, ERROR_RATIO, LATENCY_P95, RESTARTS_1H,
    CONTAINER_CPU, CONTAINER_MEMORY, CONTAINER_RESOURCES, POD_NETWORK, CONTAINER_RESTARTS,
    CONTAINER_RESTARTS_INCREASE, CPU_P95_OVER_WINDOW, MEMORY_PEAK_OVER_WINDOW, USAGE_FIRST_SEEN, POD_OWNERS,
    RUNNING_CONTAINERS,    MEMORY_PREDICTED, MEMORY_SLOPE, FIRING_ALERTS,
)}
