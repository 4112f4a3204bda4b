"""ui.frame_guard tells a legacy (pages/ folder) run from a run inside app.py's frame by looking at the
run itself, so a session whose legacy run began before another session switched the mode off still
reruns into the frame."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.runtime.scriptrunner import script_runner

from ui.frame_guard import LEGACY_RUNNER, is_legacy_run


def runner_named_like_streamlits(filename: str) -> Callable[[Callable[[], bool]], bool]:
    """A function with the legacy runner's name, compiled as if it lived in `filename`, that calls its
    argument (the page) the way the runner calls a page."""
    namespace: dict[str, object] = {}
    exec(compile(f"def {LEGACY_RUNNER}(page):\n    return page()\n", filename, "exec"), namespace)
    runner = namespace[LEGACY_RUNNER]
    assert callable(runner)
    return runner  # type: ignore[return-value]


def test_a_page_under_the_legacy_runner_is_told_apart() -> None:
    legacy_runner = runner_named_like_streamlits(script_runner.__file__)
    assert legacy_runner(lambda: is_legacy_run()) is True
    assert is_legacy_run() is False


def test_a_function_of_that_name_elsewhere_is_not_the_runner() -> None:
    lookalike = runner_named_like_streamlits("/somewhere/else/app_code.py")
    assert lookalike(lambda: is_legacy_run()) is False


def test_this_streamlit_still_has_the_legacy_runner() -> None:
    # If an upgrade renames it, the guard would silently stop seeing legacy runs: fail here instead.
    runner = getattr(script_runner, LEGACY_RUNNER)
    assert runner.__code__.co_name == LEGACY_RUNNER and "streamlit" in runner.__code__.co_filename
