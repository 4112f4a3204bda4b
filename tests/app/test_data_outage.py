"""ui.data during an outage: viewers share one failing call instead of waiting out one timeout each, and a
failure is answered from memory for a few seconds (against the stand-in API server's `hang` fault)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from k8sdata.config import Settings
from k8sdata.errors import SourceError, Timeout
from tests.plugins.app import clear_streamlit_caches

pytestmark = pytest.mark.usefixtures("app_env")

VIEWERS = 6


def test_viewers_during_an_outage_share_one_timeout(kube_faults: Any) -> None:
    from ui import data

    clear_streamlit_caches()
    settings = Settings.from_env()
    # The server hangs on the first pods request only: a second request would be answered, so a viewer
    # that got pods instead of the timeout would show that the call was made twice.
    kube_faults.set_fault(r"^/api/v1/pods", "hang", times=1)
    errors: list[BaseException] = []

    def viewer() -> None:
        try:
            data.cached_kube(settings, None).list_pods(None)
        except SourceError as error:
            errors.append(error)

    threads = [threading.Thread(target=viewer, name=f"viewer-{n}") for n in range(VIEWERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.monotonic() - started
    assert len(errors) == VIEWERS and all(isinstance(error, Timeout) for error in errors), errors
    # One request for all viewers; Streamlit's compute lock alone would make them take turns (6 x 3 s).
    assert elapsed < 2 * settings.request_timeout, elapsed

    # A viewer arriving a moment later gets the sentence at once, without asking the server again (which
    # would answer now).
    started = time.monotonic()
    with pytest.raises(Timeout):
        data.cached_kube(settings, None).list_pods(None)
    assert time.monotonic() - started < 0.5

    # The Refresh button (clear_data_caches) asks again at once.
    data.clear_data_caches()
    assert data.cached_kube(settings, None).list_pods(None)
    clear_streamlit_caches()


def test_a_remembered_failure_expires() -> None:
    from ui.cache import FailureGuard

    guard = FailureGuard(failure_ttl=0.3)
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        raise SourceError("kubernetes", "down")

    for _ in range(3):
        with pytest.raises(SourceError):
            guard.call("key", failing)
    assert len(calls) == 1
    time.sleep(0.35)
    assert guard.call("key", lambda: 7) == 7
    assert guard.call("other", lambda: 8) == 8  # keys are independent
