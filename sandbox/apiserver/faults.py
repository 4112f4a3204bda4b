"""Injected misbehaviour (latency, 403, 429, 500, a hung connection) for the paths a test names."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .rbac import UserInfo

if TYPE_CHECKING:
    from .transport import Exchange

FAULT_KINDS = ("latency", "forbidden", "throttle", "error", "hang")


@dataclass
class Fault:
    pattern: re.Pattern[str]
    kind: str
    params: dict[str, Any]
    remaining: int | None = None  # None = every matching request
    hits: int = 0


class FaultList:
    """Set and cleared by a test's thread while handler threads draw from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, path_regex: str, kind: str, times: int | None, params: dict[str, Any]) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose one of {FAULT_KINDS}")
        fault = Fault(re.compile(path_regex), kind, params, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> Fault | None:
        """The first fault with uses left whose pattern the path matches, counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path) and (fault.remaining is None or fault.remaining > 0):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None


def inject(fault: Fault, exchange: Exchange, path: str, user: UserInfo | None) -> None:
    """Misbehave as the fault says: wait and return, or end the request with an error or a dropped
    connection."""
    stopping = exchange.api.stopping
    if fault.kind == "latency":
        stopping.wait(float(fault.params.get("seconds", 1.0)))
    elif fault.kind == "forbidden":
        who = user.name if user else "system:anonymous"
        raise ApiError(
            403,
            "Forbidden",
            fault.params.get("message", f'forbidden: User "{who}" cannot get path "{path}"'),
            {},
        )
    elif fault.kind == "throttle":
        retry_after = int(fault.params.get("retry_after", 1))
        raise ApiError(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
            {
                "causes": [{"reason": "TooManyRequests", "message": "injected by the sandbox"}],
                "retryAfterSeconds": retry_after,
            },
            {"Retry-After": str(retry_after)},
        )
    elif fault.kind == "error":
        raise ApiError(
            500,
            "InternalError",
            "Internal error occurred: " + fault.params.get("message", "injected fault"),
            {"causes": [{"message": fault.params.get("message", "injected fault")}]},
        )
    elif fault.kind == "hang":
        limit = time.monotonic() + float(fault.params.get("seconds", 3600))
        while not stopping.wait(0.1):
            if exchange.client_gone() or time.monotonic() > limit:
                break
        exchange.close_connection = True
        raise ConnectionAbortedError("hang fault: connection dropped without a response")
