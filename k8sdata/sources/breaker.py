"""A circuit breaker per source: one timeout, not one per request.

A page reads a source many times (the Security page lists some twenty resources). When the source hangs,
each of those reads would wait out KAMS_REQUEST_TIMEOUT in turn: 23 hanging lists made a page take 94 s.
Once a read times out or finds the server unreachable, the breaker opens: for `backoff` seconds every
further read of that source fails at once with the same error (the same sentence), so the page settles
about one timeout after it started. After the back-off the next read goes to the server again; if it
fails the same way, the breaker opens again.

Only "the server is not there" opens it (Timeout, Unreachable). An answer, even 403, 429 or 500, proves
the server is up and says something about that one request, so it never opens the breaker. A 429 is
remembered, though (`rate_limited`): the sentence promises that KAMS will try again when the server
allows, and the website keeps that promise by rerunning the page then.

One breaker belongs to one client (one cluster context, one Prometheus), which the website shares between
all viewers, so one viewer's timeout spares everyone else the wait. Thread-safe. No streamlit here.
"""

from __future__ import annotations

import copy
import threading
import time

from k8sdata.errors import RateLimited, SourceError, Timeout, Unreachable

#: At least this long, so a whole page render (one timeout plus drawing) falls inside the back-off.
MIN_BACKOFF_SECONDS = 5.0


#: When a 429 names no Retry-After, the sentence says "shortly": this long.
DEFAULT_RETRY_SECONDS = 5.0


def retry_delay(error: RateLimited) -> float:
    """How long after a 429 KAMS asks again: the server's Retry-After, else DEFAULT_RETRY_SECONDS."""
    return error.retry_after if error.retry_after and error.retry_after > 0 else DEFAULT_RETRY_SECONDS


def backoff_for(request_timeout: float) -> float:
    """The back-off for a source whose calls may take `request_timeout`: long enough to cover the rest of
    the render that met the failure (the page bound is the timeout plus 2 s), short enough that a source
    that recovers is asked again within seconds."""
    return max(MIN_BACKOFF_SECONDS, request_timeout + 2.0)


class CircuitBreaker:
    def __init__(self, backoff: float = MIN_BACKOFF_SECONDS) -> None:
        self.backoff = backoff
        self._lock = threading.Lock()
        self._error: SourceError | None = None
        self._until = 0.0
        self._limited_at = 0.0  # when the last 429 came (time.monotonic())
        self._retry_at = 0.0  # when the server said KAMS may ask again

    def check(self) -> None:
        """Raise the error that opened the breaker while it is open; return at once otherwise."""
        with self._lock:
            error, until = self._error, self._until
        if error is not None and time.monotonic() < until:
            # A copy per raise: one exception object raised in several threads at once would share and
            # grow one traceback.
            raise copy.copy(error).with_traceback(None)

    def record(self, error: SourceError) -> None:
        """Open the breaker when `error` says the server is not there; remember a 429's Retry-After."""
        now = time.monotonic()
        if isinstance(error, Timeout | Unreachable):
            with self._lock:
                self._error, self._until = error, now + self.backoff
        elif isinstance(error, RateLimited):
            with self._lock:
                self._limited_at = now
                self._retry_at = max(self._retry_at, now + retry_delay(error))

    def rate_limited(self, since: float) -> float | None:
        """When (time.monotonic()) KAMS may ask again, if the server answered 429 at `since` or later."""
        with self._lock:
            return self._retry_at if self._limited_at >= since else None

    def reset(self) -> None:
        """Close it (the Refresh button: the person asks for the source again, now)."""
        with self._lock:
            self._error, self._until = None, 0.0
            self._limited_at = self._retry_at = 0.0

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._error is not None and time.monotonic() < self._until
