"""The request log tests read to count and inspect what a client asked for."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RequestRecord:
    time: datetime
    method: str
    path: str
    query: dict[str, str]
    user: str | None
    status: int
    duration: float


class RequestLog:
    """Appended to by every handler thread, read by tests while requests may still be arriving."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def matching(self, path_regex: str) -> list[RequestRecord]:
        pattern = re.compile(path_regex)
        return [record for record in self.records() if pattern.search(record.path)]
