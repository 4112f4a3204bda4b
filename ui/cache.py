"""The one cache layer: the only module that calls st.cache_data or st.cache_resource.

Every cached read in ui/ is declared with `@cached(...)`:
- `shared=False` (default): st.cache_data. The answer is pickled and each caller gets its own copy: query
  results, small frames.
- `shared=True`: st.cache_resource. One object shared by every viewer, never copied: clients, big raw
  lists, frames of 100,000 rows, values that hold a SourceError. Callers must treat it as read-only.
- `guard=True` (default): the read goes through the FailureGuard. Streamlit stores no failure (a
  SourceError propagates out of the cached function), and its per-key compute lock makes concurrent viewers
  of a failing source wait one after another: 50 viewers during an outage would wait out 50 timeouts. The
  guard lets one call per key be in flight (the waiting viewers share its answer or its error, SingleFlight)
  and remembers a failure for FAILURE_TTL_SECONDS (a 429: until its Retry-After), so viewers arriving
  meanwhile get its sentence at once. The key is the function and its arguments, leaving out those whose
  names start with "_", which Streamlit does not hash either (clients, raw lists).
- Leading-underscore arguments are not part of the key: pass what identifies the answer (cluster key, URL,
  namespace, query) as plain arguments.

`forget_data()` is the Refresh button: every cached answer and remembered failure goes; clients and other
resources declared with `keep_on_refresh=True` stay.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, Protocol, TypeVar, cast

import streamlit as st

from k8sdata.errors import RateLimited, SourceError
from k8sdata.sources.breaker import retry_delay
from k8sdata.sources.watchcache import SingleFlight

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R", covariant=True)


class CachedFunction(Protocol[P, R]):
    """A `@cached` function: called as before, and `.clear(*args)` forgets one entry (no args: all)."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def clear(self, *args: Any, **kwargs: Any) -> None: ...

#: How long a failed read is answered from memory (its sentence) before the source is asked again.
FAILURE_TTL_SECONDS = 5.0


class FailureGuard:
    """Single flight per key, and failures remembered for a few seconds (see the module's docstring).
    Thread-safe; shared by every viewer (it holds errors about shared sources, no per-user data)."""

    def __init__(self, failure_ttl: float = FAILURE_TTL_SECONDS) -> None:
        self._flight: SingleFlight[Any] = SingleFlight()
        self._lock = threading.Lock()
        self._failures: dict[Hashable, tuple[SourceError, float]] = {}
        self.failure_ttl = failure_ttl

    def call(self, key: Hashable, read: Callable[[], T]) -> T:
        with self._lock:
            failed = self._failures.get(key)
        if failed is not None and failed[1] > time.monotonic():
            raise failed[0]
        try:
            return self._flight.do(key, read)
        except SourceError as error:
            # A 429 is asked again when the server allows (the page promises it), not later.
            ttl = self.failure_ttl
            if isinstance(error, RateLimited):
                ttl = min(ttl, retry_delay(error))
            with self._lock:
                self._failures[key] = (error, time.monotonic() + ttl)
            raise

    def forget(self) -> None:
        """Ask every failed source again at the next read (the Refresh button)."""
        with self._lock:
            self._failures.clear()


@st.cache_resource(show_spinner=False)
def _failure_guard() -> FailureGuard:
    return FailureGuard()


def guarded(key: Hashable, read: Callable[[], T]) -> T:
    """`read()` through the shared FailureGuard, for a read that is not itself a `@cached` function."""
    return _failure_guard().call(key, read)


#: The Refresh button's list: cached functions whose answers are data (cleared), not kept resources.
_FORGETTABLE: list[Any] = []


def cached(*, ttl: float | None = None, max_entries: int | None = None, shared: bool = False,
           guard: bool = True, keep_on_refresh: bool = False,
           on_release: Callable[[Any], None] | None = None
           ) -> Callable[[Callable[P, T]], CachedFunction[P, T]]:
    """Declare a cached read (see the module's docstring). The decorated function keeps Streamlit's
    `.clear(*args)` to forget one entry (or all)."""

    def decorate(function: Callable[P, T]) -> CachedFunction[P, T]:
        if shared:
            options: dict[str, Any] = {"ttl": ttl, "max_entries": max_entries, "show_spinner": False}
            if on_release is not None:
                options["on_release"] = on_release
            store: Any = st.cache_resource(**options)(function)
        else:
            store = st.cache_data(ttl=ttl, max_entries=max_entries, show_spinner=False)(function)
        if not keep_on_refresh:
            _FORGETTABLE.append(store)
        if not guard:
            return cast(CachedFunction[P, T], store)
        signature = inspect.signature(function)
        name = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def read(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            key = (name, *((argument, value) for argument, value in bound.arguments.items()
                           if not argument.startswith("_")))
            return _failure_guard().call(key, lambda: store(*args, **kwargs))

        read.clear = store.clear  # type: ignore[attr-defined]
        return cast(CachedFunction[P, T], read)

    return decorate


def forget_data() -> None:
    """The Refresh button: every cached answer and remembered failure; clients and kept resources stay."""
    for store in _FORGETTABLE:
        store.clear()
    _failure_guard().forget()
