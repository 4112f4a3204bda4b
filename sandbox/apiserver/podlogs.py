"""pods/log: choosing the container, the kubelet's errors, the log options (tail, since, timestamps,
limitBytes), and the answer: the whole log, or with follow a chunked stream of new lines. Lines come
from a provider callable, by default the demo's sandbox.demo_logs."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import bad_request, not_found
from .routing import Route, is_true
from .tables import parse_time
from .transport import Exchange

LogLine = tuple[datetime, str]
LogProvider = Callable[[dict[str, Any], str, bool, datetime], list[LogLine] | None]


class LogRequestError(ValueError):
    """A pods/log request the real server answers with 400 BadRequest; str() is the message."""


def generic_log_lines(
    pod: dict[str, Any], container: str, previous: bool, now: datetime
) -> list[LogLine] | None:
    """A plain, deterministic log for pods the demo has no story for (synthetic pods): one line every
    30 s (at most the last hour), so logs grow while a test watches. The previous instance of a restarted
    container logged until its lastState.terminated.finishedAt and ends with its exit."""
    status = container_status(pod, container) or {}
    if previous:
        terminated = (status.get("lastState") or {}).get("terminated")
        if not terminated:
            return None
        end = parse_time(terminated.get("finishedAt")) or now
        lines = _ticks(pod, container, end - timedelta(minutes=10), end)
        reason = terminated.get("reason") or "Error"
        lines.append(
            (end, f"ERROR {container}: exiting ({reason}, exit code {terminated.get('exitCode', 1)})")
        )
        return lines
    running = (status.get("state") or {}).get("running") or {}
    started = parse_time(running.get("startedAt")) or parse_time(
        pod.get("metadata", {}).get("creationTimestamp")
    )
    return _ticks(pod, container, max(started or now - timedelta(hours=1), now - timedelta(hours=1)), now)


def _ticks(pod: dict[str, Any], container: str, start: datetime, end: datetime) -> list[LogLine]:
    step = 30
    seed = zlib.crc32(f"{pod['metadata'].get('name')}/{container}".encode())
    lines: list[LogLine] = []
    for tick in range(int(start.timestamp()) // step * step + step, int(end.timestamp()) + 1, step):
        number = (seed + tick // step) % 1000
        level = "WARN" if number % 17 == 0 else "INFO"
        message = f"{level} {container}: handled request id={number:03d} status=200 ms={number % 90 + 3}"
        lines.append((datetime.fromtimestamp(tick, UTC), message))
    return lines


def default_log_provider() -> LogProvider:
    """The demo's log story when sandbox.demo_logs is available, the generic log for everything else."""
    try:
        from sandbox.demo_logs import demo_log_lines
    except ImportError:
        return generic_log_lines

    def provider(pod: dict[str, Any], container: str, previous: bool, now: datetime) -> list[LogLine] | None:
        lines = demo_log_lines(pod, container, previous, now)
        if lines is None and not previous:
            return generic_log_lines(pod, container, previous, now)
        return lines

    return provider


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def choose_container(pod: dict[str, Any], requested: str | None) -> str:
    """The container a log request is about, with the API server's validation messages."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in spec.get("containers") or []]
    init_containers = [c["name"] for c in spec.get("initContainers") or []]
    ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
    if not requested:
        if len(containers) == 1:
            return containers[0]
        message = f"a container name must be specified for pod {name}, choose one of: {_go_list(containers)}"
        if init_containers:
            message += f" or one of the init containers: {_go_list(init_containers)}"
        if ephemeral:
            message += f" or one of the ephemeral containers: {_go_list(ephemeral)}"
        raise LogRequestError(message)
    if requested not in containers + init_containers + ephemeral:
        raise LogRequestError(f"container {requested} is not valid for pod {name}")
    return requested


def container_status(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(key) or []:
            if entry.get("name") == container:
                return entry
    return None


def check_log_available(pod: dict[str, Any], container: str, previous: bool) -> bool:
    """False when the pod has no node yet (the real server then answers 204 No Content).
    Raises LogRequestError with the kubelet's message when there is no such log."""
    name = pod["metadata"]["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    status = container_status(pod, container) or {}
    last_terminated = (status.get("lastState") or {}).get("terminated")
    if previous:
        if not last_terminated:
            raise LogRequestError(f'previous terminated container "{container}" in pod "{name}" not found')
        return True
    waiting = (status.get("state") or {}).get("waiting")
    if (not status or waiting) and not last_terminated:
        reason = (waiting or {}).get("reason") or "ContainerCreating"
        raise LogRequestError(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    return True


def format_timestamp(moment: datetime) -> str:
    """The kubelet's fixed-width RFC3339Nano (always nine fractional digits)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 1000:09d}Z"


def parse_since_time(value: str) -> datetime:
    """sinceTime as kube-apiserver hands it to the kubelet: any RFC 3339 time (offsets and fractions
    accepted, as Go's time.Parse does), cut to whole seconds (LogLocation formats it with
    time.RFC3339), so a client asking from 12:00:00.7 also gets that second's earlier lines."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise LogRequestError(f"sinceTime: Invalid value: {value!r}") from None
    if moment.tzinfo is None:  # RFC 3339 requires an offset; Go's parser refuses a time without one
        raise LogRequestError(f"sinceTime: Invalid value: {value!r}")
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class LogOptions:
    tail_lines: int | None = None
    since: datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: dict[str, str], now: datetime) -> LogOptions:
        def positive_int(key: str, minimum: int) -> int | None:
            if key not in query:
                return None
            try:
                value = int(query[key])
            except ValueError:
                raise LogRequestError(f"{key}: Invalid value: {query[key]!r}: must be an integer") from None
            if value < minimum:
                raise LogRequestError(f"{key}: Invalid value: {value}: must be greater than {minimum - 1}")
            return value

        tail = positive_int("tailLines", 0)
        limit = positive_int("limitBytes", 1)
        since_seconds = positive_int("sinceSeconds", 1)
        since: datetime | None = None
        if since_seconds is not None and query.get("sinceTime"):
            raise LogRequestError("at most one of `sinceTime` or `sinceSeconds` may be specified")
        if since_seconds is not None:
            since = now - timedelta(seconds=since_seconds)
        elif query.get("sinceTime"):
            since = parse_since_time(query["sinceTime"])
        return cls(tail, since, is_true(query.get("timestamps")), limit)

    def select(self, lines: list[LogLine]) -> list[LogLine]:
        if self.since is not None:
            lines = [line for line in lines if line[0] >= self.since]
        if self.tail_lines is not None:
            lines = lines[-self.tail_lines :] if self.tail_lines else []
        return lines

    def render(self, lines: list[LogLine]) -> bytes:
        if self.timestamps:
            text = "".join(f"{format_timestamp(moment)} {line}\n" for moment, line in lines)
        else:
            text = "".join(f"{line}\n" for _, line in lines)
        return text.encode()


def serve_pod_log(exchange: Exchange, route: Route, query: dict[str, str]) -> None:
    api = exchange.api
    pod = api.store.get(route.rtype.key, route.namespace, route.name)
    if pod is None:
        raise not_found(route.rtype, route.name)
    now = datetime.now(UTC)
    previous = is_true(query.get("previous"))
    follow = is_true(query.get("follow"))
    try:
        container = choose_container(pod, query.get("container"))
        options = LogOptions.from_query(query, now)
        if not check_log_available(pod, container, previous):
            exchange.send_bytes(204, b"", "text/plain")
            return
        lines = api.log_provider(pod, container, previous, now)
        if lines is None:
            if previous:
                raise LogRequestError(
                    f'previous terminated container "{container}" in pod "{route.name}" not found'
                )
            lines = []
    except LogRequestError as error:
        raise bad_request(str(error)) from None
    budget = options.limit_bytes
    body = options.render(options.select(lines))
    if budget is not None:
        body = body[:budget]
    if not follow or previous:
        exchange.send_bytes(200, body, "text/plain")
        return
    exchange.start_chunked("text/plain")
    exchange.chunk(body, flush=True)
    _follow(exchange, pod, container, options, len(body), lines[-1][0] if lines else None)
    exchange.end_chunked()


def _follow(
    exchange: Exchange,
    pod: dict[str, Any],
    container: str,
    options: LogOptions,
    sent: int,
    last_seen: datetime | None,
) -> None:
    """Send lines newer than `last_seen` as they appear, until the client leaves, limitBytes is spent,
    the follow limit passes or the server stops."""
    api = exchange.api
    budget = options.limit_bytes
    deadline = time.monotonic() + api.max_follow_seconds
    while not api.stopping.wait(api.follow_poll_interval):
        if time.monotonic() >= deadline or exchange.client_gone():
            break
        if budget is not None and sent >= budget:
            break
        fresh = api.log_provider(pod, container, False, datetime.now(UTC)) or []
        new_lines = [line for line in fresh if last_seen is None or line[0] > last_seen]
        if not new_lines:
            continue
        last_seen = new_lines[-1][0]
        data = options.render(new_lines)
        if budget is not None:
            data = data[: budget - sent]
        exchange.chunk(data, flush=True)
        sent += len(data)
