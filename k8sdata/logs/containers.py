"""Container logs: read several pods and containers at once, merge them in time order, follow them
without duplicates or gaps, detect levels, search in linear time, and download.

All I/O goes through `KubeClient.pod_log`, which is bounded (tail or time window, limitBytes, timeout).
Every read asks for `timestamps=true`: the kubelet's RFC3339Nano prefix is what orders lines from
several containers (as stern and kubetail do) and what lets `follow` resume exactly where it stopped.

Following (see `follow`): kube-apiserver passes `sinceTime` on to the kubelet in whole seconds, so a
poll returns again the lines of the last second already shown. The cursor keeps, per target, the last
timestamp seen (in nanoseconds) and how many lines carried exactly that timestamp; the next poll drops
everything older and that many lines at the same timestamp. A poll reads the oldest new lines first (no
tail), so a burst larger than `limit_bytes` is caught up over the next polls instead of being skipped.

Memory stays bounded: each read is at most `limit_bytes`, each line at most `max_line_chars`, a batch
at most `max_lines`, and the cursor holds two numbers per target.
"""

from __future__ import annotations

import contextvars
import heapq
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import orjson
import pandas as pd
import re2

from k8sdata.errors import PodGone, SourceError

if TYPE_CHECKING:
    from k8sdata.sources.kube import KubeClient

Level = Literal["ERROR", "WARN", "INFO", "DEBUG", ""]
LEVELS: tuple[Level, ...] = ("ERROR", "WARN", "INFO", "DEBUG")

#: Appended to a line cut at `LogRequest.max_line_chars`, so nobody mistakes it for the whole line.
TRUNCATION_MARKER = " … [line cut at {limit:,} characters]"

#: The level column of `level_counts` for lines without a detectable level.
NO_LEVEL = "OTHER"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ records

@dataclass(frozen=True)
class LogTarget:
    """One container of one pod."""

    namespace: str
    pod: str
    container: str
    init: bool = False

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.pod}/{self.container}"


@dataclass(frozen=True)
class LogRequest:
    """What to read from each target. Give `tail_lines` or `since_seconds` (a log can be gigabytes)."""

    tail_lines: int | None = 500  # None when since_seconds is used
    since_seconds: int | None = None
    previous: bool = False  # the last terminated run of the container (after a crash)
    limit_bytes: int = 2_000_000  # per container read
    max_line_chars: int = 10_000  # longer lines are cut, `truncated=True`, marker appended
    max_lines: int = 50_000  # the newest this many lines of a batch are kept


@dataclass(frozen=True, slots=True)
class LogLine:
    time: datetime
    namespace: str
    pod: str
    container: str
    text: str
    level: Level
    truncated: bool
    time_ns: int = 0  # the kubelet's nanosecond timestamp (datetime keeps microseconds only)


@dataclass(frozen=True)
class _Position:
    """Where a target's log was read up to: the last timestamp and how many lines carried it."""

    last_ns: int
    seen_at_last: int


@dataclass(frozen=True)
class FollowCursor:
    """Where each target's log was read up to. Immutable: every batch carries a new one, so reusing an
    old cursor (a page rerun) reads the same lines again instead of skipping any."""

    positions: dict[LogTarget, _Position] = field(default_factory=dict)
    #: Targets whose pod was deleted: not asked again, the error repeats in every batch.
    gone: dict[LogTarget, SourceError] = field(default_factory=dict)
    #: For a time-window read: where a target with no line yet starts (so a follow never reaches back).
    window_start: datetime | None = None
    previous: bool = False  # a previous container's log never grows: nothing to follow


@dataclass
class LogBatch:
    lines: list[LogLine]  # merged, ascending time (stable for equal times)
    errors: dict[LogTarget, SourceError]  # per target: 403, gone, not started...; others still read
    cursor: FollowCursor  # pass to follow() for the next lines, no dup, no loss


# ------------------------------------------------------------------------------------------ targets

def log_targets(pods: Sequence[dict[str, Any]], *, containers: Sequence[str] | None = None,
                include_init: bool = True) -> list[LogTarget]:
    """One target per container of each pod (init containers first, as they run first).
    `containers` keeps only those names (a name missing from a pod is simply skipped)."""
    wanted = set(containers) if containers else None
    targets: list[LogTarget] = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        groups = [("initContainers", True)] if include_init else []
        groups.append(("containers", False))
        for key, init in groups:
            for container in spec.get(key) or []:
                container_name = str(container.get("name") or "")
                if container_name and (wanted is None or container_name in wanted):
                    targets.append(LogTarget(namespace, name, container_name, init))
    return targets


# ------------------------------------------------------------------------------------------ parsing

class _StampParser:
    """The kubelet's RFC3339Nano prefix -> (nanoseconds since epoch, datetime). Lines of one read
    share their second, so the (slow) date part is parsed once per second."""

    def __init__(self) -> None:
        self._base_text = ""
        self._base_seconds = 0

    def parse(self, stamp: str) -> int | None:
        # Fast path: the kubelet's fixed width 2026-01-01T12:00:00.123456789Z.
        if len(stamp) == 30 and stamp[19] == "." and stamp[29] == "Z" and stamp[20:29].isdigit():
            base, offset, fraction = stamp[:19], "Z", stamp[20:29]
        else:  # any RFC 3339: fraction optional and of any width, Z or an offset
            match = _RFC3339.match(stamp)
            if match is None:
                return None
            base, fraction, offset = match.group(1), match.group(2) or "", match.group(3)
        key = base + offset
        if key != self._base_text:
            try:
                moment = datetime.fromisoformat(base + ("+00:00" if offset in ("Z", "z") else offset))
            except ValueError:
                return None
            self._base_text, self._base_seconds = key, int((moment - _EPOCH).total_seconds())
        return self._base_seconds * 1_000_000_000 + int((fraction + "000000000")[:9])


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$")


def _datetime_from_ns(time_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=time_ns // 1000)


def _cut(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + TRUNCATION_MARKER.format(limit=max_chars), True


def parse_log(raw: bytes, target: LogTarget, *, max_line_chars: int = 10_000,
              limit_bytes: int | None = None) -> list[tuple[int, LogLine]]:
    """A timestamped pods/log body -> (nanoseconds, line) pairs in the kubelet's order.

    When the body stopped at `limit_bytes` in the middle of a line, that partial line is left out (the
    next follow reads it whole), unless it is the only line: then it is kept, cut and marked.
    A line without a timestamp (impossible from a kubelet asked for them) takes its predecessor's.
    """
    text = raw.decode("utf-8", "replace")
    pieces = text.split("\n")
    partial_kept = False
    if pieces[-1] == "":
        pieces.pop()
    elif limit_bytes is not None and len(raw) >= limit_bytes:
        if len(pieces) > 1:
            pieces.pop()  # cut by limitBytes mid-line: the next follow reads it whole
        else:
            partial_kept = True  # one line longer than the whole budget: show what came, marked
    parser = _StampParser()
    parsed: list[tuple[int, LogLine]] = []
    previous_ns = 0
    for index, piece in enumerate(pieces):
        piece = piece.removesuffix("\r")
        stamp, _, body = piece.partition(" ")
        time_ns = parser.parse(stamp)
        if time_ns is None:
            time_ns, body = previous_ns, piece
        previous_ns = time_ns
        body, truncated = _cut(body, max_line_chars)
        if partial_kept and index == len(pieces) - 1 and not truncated:
            body, truncated = body + TRUNCATION_MARKER.format(limit=len(body)), True
        parsed.append((time_ns, LogLine(_datetime_from_ns(time_ns), target.namespace, target.pod,
                                        target.container, body, detect_level(body), truncated, time_ns)))
    return parsed


# ------------------------------------------------------------------------------------------ levels

_LEVEL_WORDS: dict[str, Level] = {}
for _level, _words in (
    ("ERROR", ("error", "err", "eror", "fatal", "fatl", "panic", "critical", "crit", "alert", "emerg",
               "emergency", "severe", "e", "f", "c")),
    ("WARN", ("warn", "warning", "wrn", "w")),
    ("INFO", ("info", "inf", "information", "informational", "notice", "i", "n")),
    ("DEBUG", ("debug", "dbg", "trace", "trc", "verbose", "fine", "finer", "finest", "d", "t")),
):
    for _word in _words:
        _LEVEL_WORDS[_word] = _level  # type: ignore[assignment]  # each _level above is a Level literal

#: JSON keys that name a level, by popularity (zap/logrus/pino "level", GCP "severity", log15 "lvl").
_JSON_LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log_level", "levelname", "log.level",
                    "@l", "@level", "priority")
#: logfmt key=value with a level key (value quoted or not).
_LOGFMT_LEVEL = re.compile(r'(?:^|\s)(?:level|lvl|severity|loglevel)="?([A-Za-z]+)"?(?=\s|$)', re.I)
#: A cheap test before the regex (most lines are not logfmt; the regex costs more than the test).
_LOGFMT_KEYS = ("level=", "lvl=", "severity=", "Level=", "LEVEL=", "LVL=", "Severity=", "SEVERITY=")
#: klog / glog header: I0102 15:04:05.000000 (I info, W warning, E error, F fatal).
_KLOG = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d")
#: Plain text: an upper-case level word (or a bracketed one: [error], [warn], as nginx writes them).
_PLAIN = re.compile(
    r"\b(ERROR|ERR|FATAL|PANIC|CRITICAL|CRIT|SEVERE|EMERG|ALERT|WARNING|WARN|INFO|NOTICE|DEBUG|TRACE)\b"
    r"|\[(error|err|crit|alert|emerg|fatal|warn|warning|info|notice|debug|trace)\]"
    r"|^(Traceback \(most recent call last\)|panic:|Exception in thread)",
)
#: pino / bunyan numeric levels.
_NUMERIC: tuple[tuple[int, Level], ...] = ((50, "ERROR"), (40, "WARN"), (30, "INFO"), (0, "DEBUG"))


def _level_word(value: Any) -> Level:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return next(level for floor, level in _NUMERIC if value >= floor)
    if isinstance(value, str):
        return _LEVEL_WORDS.get(value.strip().lower(), "")
    return ""


def _json_level(text: str) -> Level | None:
    """The level of a JSON log line, "" for JSON without one, None when the line is not JSON."""
    if len(text) > 100_000:
        return None
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    for key in _JSON_LEVEL_KEYS:
        if key in record:
            return _level_word(record[key])
    log = record.get("log")
    if isinstance(log, dict) and "level" in log:  # ECS: {"log": {"level": "error"}}
        return _level_word(log["level"])
    return ""


def detect_level(text: str) -> Level:
    """ERROR, WARN, INFO, DEBUG or "" from JSON ("level", "severity", "lvl", pino numbers), logfmt
    (level=info), klog (E0102 ...), or plain text (the first upper-case level word, "[warn]", a
    Python traceback or Go panic)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        level = _json_level(stripped)
        if level is not None:
            return level
    match = _LOGFMT_LEVEL.search(text) if any(key in text for key in _LOGFMT_KEYS) else None
    if match:
        level = _LEVEL_WORDS.get(match.group(1).lower(), "")
        if level:
            return level
    match = _KLOG.match(text)
    if match:
        return _LEVEL_WORDS[match.group(1).lower()]
    match = _PLAIN.search(text)
    if match:
        if match.group(3):
            return "ERROR"
        return _LEVEL_WORDS.get((match.group(1) or match.group(2)).lower(), "")
    return ""


# ------------------------------------------------------------------------------------------ reading

def _read_one(kube: KubeClient, target: LogTarget, request: LogRequest, *,
              since_time: datetime | None = None) -> list[tuple[int, LogLine]]:
    """One bounded read: the request's tail or window, or (following) everything from `since_time`
    up to limit_bytes, oldest first."""
    raw = kube.pod_log(
        target.namespace, target.pod, container=target.container,
        tail_lines=request.tail_lines if since_time is None else None,
        since_seconds=request.since_seconds if since_time is None else None,
        since_time=since_time, previous=request.previous, timestamps=True,
        limit_bytes=request.limit_bytes,
    )
    return parse_log(raw, target, max_line_chars=request.max_line_chars, limit_bytes=request.limit_bytes)


def _merge(per_target: Iterable[list[tuple[int, LogLine]]], max_lines: int) -> list[LogLine]:
    """Each list is ascending already; heapq.merge keeps equal times in target order (stable)."""
    merged = [line for _, line in heapq.merge(*per_target, key=lambda pair: pair[0])]
    return merged[-max_lines:] if max_lines and len(merged) > max_lines else merged


def _position(read: list[tuple[int, LogLine]], start: _Position | None) -> _Position | None:
    if not read:
        return start
    last_ns = read[-1][0]
    count = sum(1 for time_ns, _ in read if time_ns == last_ns)
    if start is not None and start.last_ns == last_ns:
        count += start.seen_at_last
    return _Position(last_ns, count)


def _run_all(kube: KubeClient, targets: Sequence[LogTarget], work: Any, max_workers: int
             ) -> list[list[tuple[int, LogLine]] | SourceError]:
    """Run work(kube, target) for every target on a bounded pool; a SourceError is that target's."""
    def guarded(target: LogTarget) -> list[tuple[int, LogLine]] | SourceError:
        try:
            return work(kube, target)
        except SourceError as error:
            return error

    if len(targets) <= 1:
        return [guarded(target) for target in targets]
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(targets))),
                            thread_name_prefix="kams-logs") as pool:
        # Each worker runs in a copy of the caller's context, so the caller's access scope
        # (k8sdata.access) holds for its requests too.
        futures = [pool.submit(contextvars.copy_context().run, guarded, target) for target in targets]
        return [future.result() for future in futures]


def _check(request: LogRequest) -> None:
    if request.tail_lines is None and request.since_seconds is None:
        raise ValueError("a log read needs tail_lines or since_seconds")
    if request.limit_bytes < 1 or request.max_line_chars < 1:
        raise ValueError("limit_bytes and max_line_chars must be positive")


def read_logs(kube: KubeClient, targets: Sequence[LogTarget], request: LogRequest = LogRequest(),
              *, max_workers: int = 8) -> LogBatch:
    """Read every target concurrently (at most `max_workers` requests at once) and merge the lines in
    time order. A target that fails (403, pod gone, not started yet) is in `errors`; the rest still read."""
    _check(request)
    window_start = None
    if request.since_seconds is not None:
        window_start = datetime.now(UTC) - timedelta(seconds=request.since_seconds)
    results = _run_all(kube, targets, lambda k, t: _read_one(k, t, request), max_workers)
    return _batch(targets, results, FollowCursor(window_start=window_start, previous=request.previous),
                  request.max_lines)


def _batch(targets: Sequence[LogTarget], results: Sequence[list[tuple[int, LogLine]] | SourceError],
           cursor: FollowCursor, max_lines: int, skipped: dict[LogTarget, SourceError] | None = None
           ) -> LogBatch:
    positions = dict(cursor.positions)
    gone = dict(cursor.gone)
    errors: dict[LogTarget, SourceError] = dict(skipped or {})
    reads: list[list[tuple[int, LogLine]]] = []
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, SourceError):
            errors[target] = result
            if isinstance(result, PodGone):
                gone[target] = result
            continue
        reads.append(result)
        position = _position(result, positions.get(target))
        if position is not None:
            positions[target] = position
    new_cursor = replace(cursor, positions=positions, gone=gone)
    return LogBatch(lines=_merge(reads, max_lines), errors=errors, cursor=new_cursor)


def _after(read: list[tuple[int, LogLine]], position: _Position | None) -> list[tuple[int, LogLine]]:
    """Drop the seam: lines older than the position, and the lines at its timestamp already seen."""
    if position is None:
        return read
    fresh: list[tuple[int, LogLine]] = []
    to_skip = position.seen_at_last
    for time_ns, line in read:
        if time_ns < position.last_ns:
            continue
        if time_ns == position.last_ns and to_skip > 0:
            to_skip -= 1
            continue
        fresh.append((time_ns, line))
    return fresh


def follow(kube: KubeClient, targets: Sequence[LogTarget], cursor: FollowCursor,
           request: LogRequest = LogRequest(), *, max_workers: int = 8) -> LogBatch:
    """Only the lines written after `cursor`, merged in time order, and the cursor for the next call.

    Per target: with a position, read from its second (`sinceTime`, no tail: oldest first, so nothing
    is skipped) and drop the seam; without one (its log was empty or failed), read from the window
    start, or the request's tail (everything in a log that was empty is new). A pod deleted since is
    an error for that target only and is not asked again.
    """
    _check(request)
    if cursor.previous or request.previous:
        return LogBatch(lines=[], errors=dict(cursor.gone), cursor=cursor)
    live = [target for target in targets if target not in cursor.gone]
    skipped = {target: cursor.gone[target] for target in targets if target in cursor.gone}

    def read_new(client: KubeClient, target: LogTarget) -> list[tuple[int, LogLine]]:
        position = cursor.positions.get(target)
        if position is not None:
            since = _datetime_from_ns(position.last_ns)
        elif cursor.window_start is not None:
            since = cursor.window_start
        else:
            since = None
        return _after(_read_one(client, target, request, since_time=since), position)

    results = _run_all(kube, live, read_new, max_workers)
    return _batch(live, results, cursor, request.max_lines, skipped)


def keep_newest(lines: Sequence[LogLine], new_lines: Sequence[LogLine], max_lines: int) -> list[LogLine]:
    """A follow buffer: the old lines then the new ones, only the newest `max_lines` kept (bounded
    memory however chatty the pods are). Both inputs are ascending and `new_lines` come after."""
    combined = [*lines, *new_lines]
    return combined[-max_lines:] if len(combined) > max_lines else combined


# ------------------------------------------------------------------------------------------ search

@dataclass(frozen=True)
class Search:
    """A compiled search: plain text or an RE2 regular expression (linear time, so no pattern can hang
    a page: RE2 has no backtracking, and refuses backreferences and lookaround)."""

    pattern: str
    regex: bool
    case_sensitive: bool
    compiled: Any = field(repr=False, compare=False)

    def matches(self, text: str) -> bool:
        return not self.pattern or self.compiled.search(text) is not None


def compile_search(pattern: str, *, regex: bool = False, case_sensitive: bool = False) -> Search:
    """Plain text (default) or an RE2 regex; case-insensitive by default. An empty pattern matches
    every line. A bad pattern raises ValueError with a sentence a person can act on."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    options.case_sensitive = case_sensitive
    options.literal = not regex
    options.max_mem = 32 << 20  # a giant pattern fails to compile instead of taking memory
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        hint = ""
        if re.search(r"\\[1-9]|\(\?<?[=!]", pattern):
            hint = " (backreferences and lookaround are not supported: they could make a search slow)"
        raise ValueError(f"The search is not a valid regular expression: {reason}{hint}.") from None
    return Search(pattern, regex, case_sensitive, compiled)


def filter_lines(lines: Sequence[LogLine], search: Search | None = None,
                 levels: Collection[Level] | None = None) -> list[LogLine]:
    """The lines matching the search (None: all) whose level is in `levels` (None or empty: all)."""
    wanted = set(levels) if levels else None
    return [line for line in lines
            if (wanted is None or line.level in wanted) and (search is None or search.matches(line.text))]


def match_spans(search: Search, text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each non-empty match, to highlight without any markup."""
    if not search.pattern:
        return []
    return [match.span() for match in search.compiled.finditer(text) if match.end() > match.start()]


# ------------------------------------------------------------------------------------------ downloads

def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lines_frame(lines: Sequence[LogLine]) -> pd.DataFrame:
    """time (UTC), pod, container, level, line: the table and its CSV download (use
    export.frame_to_csv, which neutralises spreadsheet formulas in log text)."""
    return pd.DataFrame({
        "time": pd.to_datetime([line.time for line in lines], utc=True),
        "pod": pd.Series([line.pod for line in lines], dtype=object),
        "container": pd.Series([line.container for line in lines], dtype=object),
        "level": pd.Series([line.level for line in lines], dtype=object),
        "line": pd.Series([line.text for line in lines], dtype=object),
    })


def lines_text(lines: Sequence[LogLine]) -> str:
    """The .txt download: "time pod/container line", one per line (line breaks inside a line escaped)."""
    return "".join(f"{_stamp(line.time)} {line.pod}/{line.container} {_one_line(line.text)}\n"
                   for line in lines)


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def level_counts(lines: Sequence[LogLine], bucket: str = "1min") -> pd.DataFrame:
    """Lines per level per time bucket (time, level, lines) for the chart; lines without a level count
    as "OTHER". Only buckets with lines appear."""
    if not lines:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"),
                             "level": pd.Series(dtype=object), "lines": pd.Series(dtype="int64")})
    counts: Counter[tuple[pd.Timestamp, str]] = Counter()
    times = pd.to_datetime([line.time for line in lines], utc=True).floor(bucket)
    for moment, line in zip(times, lines, strict=True):
        counts[(moment, line.level or NO_LEVEL)] += 1
    order = {level: index for index, level in enumerate((*LEVELS, NO_LEVEL))}
    rows = sorted(counts.items(), key=lambda item: (item[0][0], order[item[0][1]]))
    return pd.DataFrame({
        "time": pd.to_datetime([moment for (moment, _), _ in rows], utc=True),
        "level": pd.Series([level for (_, level), _ in rows], dtype=object),
        "lines": pd.Series([count for _, count in rows], dtype="int64"),
    })
