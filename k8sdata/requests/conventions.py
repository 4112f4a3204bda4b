"""Request-metric conventions: which metric and label names carry an application's traffic.

Applications, ingress controllers and service meshes each publish request counters and latency
histograms under their own names. A Convention names them, so k8sdata.requests.red asks the same questions
(rate, errors, latency) of any of them. Built in:

- prometheus_client and most frameworks: http_requests_total + http_request_duration_seconds_bucket,
  labelled by the scrape (namespace, pod, and the app label, KAMS_APP_LABEL);
- ingress-nginx: nginx_ingress_controller_requests + nginx_ingress_controller_request_duration_seconds_bucket.
  The controller labels each request with the Ingress's namespace, ingress and backend service; scraped
  with honor_labels off (the ServiceMonitor default) the namespace arrives as exported_namespace;
- Istio: istio_requests_total + istio_request_duration_milliseconds_bucket (milliseconds), as reported by
  the destination's sidecar (reporter="destination"), per destination_workload;
- Linkerd: response_total + response_latency_ms_bucket (milliseconds), inbound. Linkerd's scrape names
  the pod's workload by its kind (deployment, statefulset, daemonset, cronjob, k8s_job, replicaset,
  replicationcontroller: the pod's linkerd.io/proxy-<kind> label), so the workload is whichever is set.

A custom convention comes from settings (KAMS_REQUESTS_METRIC and friends; docs/requests.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from k8sdata.config import Settings
from k8sdata.errors import NotConfigured
from k8sdata.requests.queries import (
    OWNERS_RULE_METRIC,
    OWNERS_SERIES_METRIC,
    conventions_present,
    validate_label_name,
    validate_metric_name,
)
from k8sdata.sources.prom import PromClient

#: Units a custom latency histogram may use, as seconds per unit.
DURATION_UNITS: dict[str, float] = {"seconds": 1.0, "s": 1.0, "milliseconds": 0.001, "ms": 0.001}


@dataclass(frozen=True)
class Convention:
    name: str  # "prometheus_client" | "ingress-nginx" | "istio" | "linkerd" | "custom"
    requests_metric: str  # a counter, e.g. "http_requests_total"
    duration_bucket: str  # histogram bucket series, e.g. "http_request_duration_seconds_bucket"; "" = none
    seconds_per_unit: float  # 1.0 for seconds, 0.001 for milliseconds (istio, linkerd)
    namespace_label: str  # e.g. "namespace", "exported_namespace", "destination_workload_namespace"
    workload_label: str  # the label naming the application/workload (and, in results, the workload)
    pod_label: str  # "" when the convention has no pod label
    status_label: str  # "code" | "status" | "response_code" | "status_code"
    method_label: str  # "" when none
    path_label: str  # "" when none
    #: Fixed equality matchers every query adds (Istio counts each request twice, once per reporter).
    matchers: tuple[tuple[str, str], ...] = ()
    #: Labels naming the workload on series whose workload_label is empty, in order of preference
    #: (Linkerd: statefulset, daemonset, ...). Queries copy the first one set into workload_label, in
    #: the same single query (k8sdata.requests.queries.request_series).
    workload_fallback_labels: tuple[str, ...] = ()
    #: The workload label is the scrape's application label, KAMS_APP_LABEL (conventions_from_settings
    #: puts the configured name in workload_label).
    workload_from_app_label: bool = False
    #: Series whose workload labels are all empty still name their pod: their workload comes from
    #: kube-state-metrics' ownership, then the Kubernetes API, then the pod's name (k8sdata.requests.red).
    #: Meshes name the workload themselves, so theirs is off.
    workload_from_owners: bool = False
    #: Which kube-state-metrics ownership series Prometheus has (queries.OWNERS_RULE_METRIC, kubernetes-
    #: mixin's recording rule; else queries.OWNERS_SERIES_METRIC; "" for none), as
    # k8sdata.requests.queries.pod_owners
    #: joins them; set by detect_conventions, so every query of a view joins the same way.
    owners: str = ""

    def __post_init__(self) -> None:
        # Checked here, so a bad setting is a sentence at start-up rather than a failing query later.
        validate_metric_name(self.requests_metric)
        if self.duration_bucket:
            validate_metric_name(self.duration_bucket)
        for label in (self.namespace_label, self.workload_label, self.status_label):
            validate_label_name(label)
        for label in (self.pod_label, self.method_label, self.path_label):
            if label:
                validate_label_name(label)
        for label, _value in self.matchers:
            validate_label_name(label)
        for label in self.workload_fallback_labels:
            validate_label_name(label)
        workload_labels = (self.workload_label, *self.workload_fallback_labels)
        if len(set(workload_labels)) != len(workload_labels):
            raise ValueError(f"workload labels repeat: {workload_labels}")
        if not self.seconds_per_unit > 0:
            raise ValueError(f"seconds_per_unit must be positive, not {self.seconds_per_unit!r}")

    def group_labels(self, level: str) -> list[str]:
        """The labels a query groups by: namespace and workload, plus the pod at pod level (if any)."""
        labels = [self.namespace_label, self.workload_label]
        if level == "pod" and self.pod_label:
            labels.append(self.pod_label)
        return labels


#: The label the community Prometheus chart's pod scrape makes of app.kubernetes.io/name (labelmap of
#: __meta_kubernetes_pod_label_*): the second workload source of application conventions.
APP_NAME_LABEL = "app_kubernetes_io_name"


def _application(name: str, requests_metric: str, duration_bucket: str, *, status_label: str,
                 method_label: str, path_label: str) -> Convention:
    """A convention of an instrumentation library inside the application: the scrape adds namespace and
    pod (and, in some setups, the app label); the library adds the rest."""
    return Convention(
        name=name, requests_metric=requests_metric, duration_bucket=duration_bucket, seconds_per_unit=1.0,
        namespace_label="namespace", workload_label="app", pod_label="pod", status_label=status_label,
        method_label=method_label, path_label=path_label, workload_fallback_labels=(APP_NAME_LABEL,),
        workload_from_app_label=True, workload_from_owners=True)


PROMETHEUS_CLIENT = _application(
    "prometheus_client", "http_requests_total", "http_request_duration_seconds_bucket", status_label="code",
    method_label="method", path_label="path")
#: prometheus-fastapi-instrumentator: status grouped as 2xx/4xx/5xx by default; the histogram has no status.
FASTAPI_INSTRUMENTATOR = _application(
    "fastapi-instrumentator", "http_requests_total", "http_request_duration_seconds_bucket",
    status_label="status", method_label="method", path_label="handler")
STARLETTE_EXPORTER = _application(
    "starlette-exporter", "starlette_requests_total", "starlette_request_duration_seconds_bucket",
    status_label="status_code", method_label="method", path_label="path")
#: django-prometheus counts responses by status, view and method; its latency histogram is by view and
#: method.
DJANGO_PROMETHEUS = _application(
    "django-prometheus", "django_http_responses_total_by_status_view_method_total",
    "django_http_requests_latency_seconds_by_view_method_bucket", status_label="status",
    method_label="method", path_label="view")
#: OpenTelemetry's HTTP semantic conventions (stable since 1.23) through the Prometheus exporter: the
#: duration histogram's _count is the request counter.
OPENTELEMETRY = _application(
    "opentelemetry", "http_server_request_duration_seconds_count",
    "http_server_request_duration_seconds_bucket", status_label="http_response_status_code",
    method_label="http_request_method", path_label="http_route")
#: Node's express-prom-bundle (on prom-client): one histogram; its _count is the request counter.
EXPRESS_PROM_BUNDLE = _application(
    "express-prom-bundle", "http_request_duration_seconds_count", "http_request_duration_seconds_bucket",
    status_label="status_code", method_label="method", path_label="path")
#: Spring Boot's Micrometer timer http.server.requests (its histogram when percentiles-histogram is on).
MICROMETER = _application(
    "micrometer", "http_server_requests_seconds_count", "http_server_requests_seconds_bucket",
    status_label="status", method_label="method", path_label="uri")

INGRESS_NGINX = Convention(
    name="ingress-nginx", requests_metric="nginx_ingress_controller_requests",
    duration_bucket="nginx_ingress_controller_request_duration_seconds_bucket", seconds_per_unit=1.0,
    # The backend service names the application; the `ingress` label names the routing object, which
    # often fronts several services. The controller's own pod is no application pod: no pod label.
    namespace_label="exported_namespace", workload_label="ingress", pod_label="", status_label="status",
    method_label="method", path_label="path")

ISTIO = Convention(
    name="istio", requests_metric="istio_requests_total",
    duration_bucket="istio_request_duration_milliseconds_bucket", seconds_per_unit=0.001,
    namespace_label="destination_workload_namespace", workload_label="destination_workload",
    # Istio's Prometheus config adds the scraped sidecar's pod as `pod`; with reporter="destination"
    # that is the pod that served the request.
    pod_label="pod", status_label="response_code", method_label="", path_label="",
    matchers=(("reporter", "destination"),))

#: The Prometheus labels Linkerd's scrape config (linkerd-viz) makes of the pod's linkerd.io/proxy-<kind>
#: label, which the proxy injector sets to the pod's top-level owner (Linkerd's proxy metrics reference,
#: "Linkerd labels added at collection time"). A Job's is k8s_job, since `job` is Prometheus' own label.
#: Order of preference, should a pod carry two: the longest-lived owner first (a CronJob over its Jobs,
#: a Deployment over its ReplicaSets).
LINKERD_WORKLOAD_LABELS: tuple[str, ...] = (
    "deployment", "statefulset", "daemonset", "cronjob", "k8s_job", "replicaset", "replicationcontroller")

LINKERD = Convention(
    name="linkerd", requests_metric="response_total", duration_bucket="response_latency_ms_bucket",
    seconds_per_unit=0.001, namespace_label="namespace", workload_label=LINKERD_WORKLOAD_LABELS[0],
    pod_label="pod", status_label="status_code", method_label="", path_label="",
    matchers=(("direction", "inbound"),), workload_fallback_labels=LINKERD_WORKLOAD_LABELS[1:])

#: In order of preference: where one application shows up in several, the first is the most direct
#: (its own metrics, then its sidecar's, then the ingress, which sees only traffic from outside).
BUILTIN_CONVENTIONS: tuple[Convention, ...] = (
    PROMETHEUS_CLIENT, FASTAPI_INSTRUMENTATOR, STARLETTE_EXPORTER, DJANGO_PROMETHEUS, OPENTELEMETRY,
    EXPRESS_PROM_BUNDLE, MICROMETER, ISTIO, LINKERD, INGRESS_NGINX)


def _custom_convention(settings: Settings) -> Convention | None:
    if not settings.requests_metric:
        return None
    unit = settings.request_duration_unit.strip().lower()
    if unit not in DURATION_UNITS:
        raise NotConfigured("prometheus", f"KAMS_REQUEST_DURATION_UNIT is {settings.request_duration_unit!r}",
                            hint="Use seconds or milliseconds.")
    bucket = settings.request_duration_metric or ""
    if bucket and not bucket.endswith("_bucket"):
        bucket += "_bucket"  # the histogram's name was given; its buckets are the _bucket series
    try:
        return Convention(
            name="custom", requests_metric=settings.requests_metric, duration_bucket=bucket,
            seconds_per_unit=DURATION_UNITS[unit], namespace_label=settings.request_namespace_label,
            workload_label=settings.request_workload_label or settings.app_label,
            pod_label=settings.request_pod_label, status_label=settings.request_status_label,
            method_label=settings.request_method_label, path_label=settings.request_path_label,
            workload_from_owners=True)
    except ValueError as error:
        raise NotConfigured("prometheus", f"custom request metrics: {error}",
                            hint="Fix the KAMS_REQUEST* settings (see docs/requests.md).") from None


def _with_app_label(convention: Convention, app_label: str) -> Convention:
    """The convention reading the workload from `app_label` first (app.kubernetes.io/name's scrape label
    stays the fallback, unless it is the app label itself)."""
    fallbacks = tuple(label for label in convention.workload_fallback_labels if label != app_label)
    return replace(convention, workload_label=validate_label_name(app_label),
                   workload_fallback_labels=fallbacks)


def conventions_from_settings(settings: Settings) -> tuple[Convention, ...]:
    """The built-in conventions (the app label from KAMS_APP_LABEL) and, first, the custom one if set.

    A custom convention on a built-in's metric replaces that built-in: the user's label names win, but
    the built-in's fixed matchers stay (Istio's reporter="destination", Linkerd's direction="inbound"),
    since without them every request would count twice. That is how Istio figures are read under
    other label names (a pod label other than `pod`, for instance; docs/requests.md).
    Raises NotConfigured (with a sentence) when the custom settings are not valid names.
    """
    builtins = [_with_app_label(convention, settings.app_label) if convention.workload_from_app_label
                else convention for convention in BUILTIN_CONVENTIONS]
    custom = _custom_convention(settings)
    if custom is None:
        return tuple(builtins)
    replaced = [c for c in builtins if c.requests_metric == custom.requests_metric]
    if replaced:
        custom = replace(custom, matchers=replaced[0].matchers)
    return (custom, *(c for c in builtins if c.requests_metric != custom.requests_metric))


def detect_conventions(prom: PromClient, candidates: Sequence[Convention] = BUILTIN_CONVENTIONS,
                       *, at: datetime | None = None, namespace: str = "") -> list[Convention]:
    """The candidates that have request series at `at` (default now), in the candidates' order, each
    knowing which kube-state-metrics ownership series Prometheus has (Convention.owners: the recording
    rule when present, as it is cheaper to join, else kube_pod_owner). With `namespace`, only that
    namespace's series count (a person limited to some namespaces asks about nothing else).

    ONE instant query, whatever the number of candidates: a count per candidate, tagged with its
    position, so two candidates on the same metric with different labels are told apart.
    """
    if not candidates:
        return []
    query = conventions_present([(str(index), convention) for index, convention in enumerate(candidates)],
                                namespace)
    frame = prom.instant(query, at)
    if frame.empty or "convention" not in frame.columns:
        return []
    present = {str(tag) for tag, count in zip(frame["convention"], frame["value"], strict=True) if count > 0}
    owners = next((metric for metric in (OWNERS_RULE_METRIC, OWNERS_SERIES_METRIC) if metric in present), "")
    return [replace(convention, owners=owners) if convention.workload_from_owners else convention
            for index, convention in enumerate(candidates) if str(index) in present]


def how_to_expose_metrics() -> str:
    """Plain sentences for an application that has no request metrics."""
    return (
        "KAMS found no request metrics for this application. Its traffic, errors and latency appear here "
        "once Prometheus scrapes a request counter and a latency histogram for it: instrument the app "
        "with a Prometheus client library (http_requests_total with a status code label, and "
        "http_request_duration_seconds), or route it through ingress-nginx, or add it to an Istio or "
        "Linkerd mesh. Metrics with other names work too: set KAMS_REQUESTS_METRIC and its label "
        "settings (see docs/requests.md)."
    )
