"""The PromQL catalogue, as data.

Each query is a named, documented template. Pages never build PromQL: they pick a Query and call
`render(...)`. Every user-supplied value goes through `escape_label_value`, the ONE place values are
escaped, and label names and durations are validated, so a namespace called `a"} or vector(1) #`
can only ever match itself.

Every query aggregates by (namespace, <app_label>) (or (namespace, pod)), so the number of queries a
page view sends is fixed, however large the cluster is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RE2 metacharacters; Prometheus anchors `=~` regexes, so escaping these makes the regex literal.
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
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
    if not _LABEL_NAME.match(name):
        raise ValueError(f"not a Prometheus label name: {name!r}")
    return name


def validate_duration(window: str) -> str:
    if not _DURATION.match(window):
        raise ValueError(f"not a PromQL duration: {window!r} (use e.g. 30s, 5m, 1h)")
    return window


def _matchers(namespace: str, app: str, app_label: str) -> str:
    """Series selector body shared by every query: the namespace (empty = all) and the app (empty = all)."""
    parts = [f'namespace="{escape_label_value(namespace)}"' if namespace else 'namespace!=""']
    if app:
        parts.append(f'{app_label}="{escape_label_value(app)}"')
    return ", ".join(parts)


@dataclass(frozen=True)
class Query:
    """One catalogue entry.

    `template` is a str.format template with the placeholders {sel} (label matchers, without braces),
    {window} (a PromQL duration) and {app_label} (a label name). Literal braces are doubled.
    """

    name: str
    template: str
    description: str
    unit: str
    labels: tuple[str, ...]  # the labels of the result series; "app_label" stands for settings.app_label

    def render(self, **params: str) -> str:
        """Render with params namespace (""=all), app (""=all), window ("5m"), app_label ("app").

        Values (namespace, app) go through escape_label_value; window and app_label are validated
        (they are syntax, not values, so escaping cannot make them safe).
        """
        unknown = set(params) - {"namespace", "app", "window", "app_label"}
        if unknown:
            raise TypeError(f"{self.name}.render() got unknown params {sorted(unknown)}")
        app_label = validate_label_name(params.get("app_label") or "app")
        window = validate_duration(params.get("window") or "5m")
        sel = _matchers(params.get("namespace", ""), params.get("app", ""), app_label)
        return self.template.format(sel=sel, window=window, app_label=app_label)

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

CATALOGUE: dict[str, Query] = {q.name: q for q in (REQUEST_RATE, ERROR_RATIO, LATENCY_P95, RESTARTS_1H)}
