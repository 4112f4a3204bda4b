"""Fixtures for the Streamlit app: the environment that points KAMS at the sandbox servers, and a real
`streamlit run app.py` process for browser tests.

`app_env` is what AppTest tests use (the app runs in-process, so os.environ and Streamlit's caches are
reset around each test); tests that need fewer sources call `set_app_environment` with the
`streamlit_caches` fixture instead. `run_app_test` builds and runs an AppTest of a page, app.py or a
script function the same way in every test. `app_server` starts the app as a subprocess on a free
loopback port and stops its whole process group at the end of the session; `serving_app` does the same
for any settings (e.g. a real kube-apiserver's kubeconfig).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pandas as pd
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
#: Every env var the app reads; cleared first so the developer's own settings never leak in.
APP_ENV_VARS = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")
#: Every setting KAMS reads starts with one of these (k8sdata.config), so a developer's own environment,
#: including settings added later, cannot leak into the tests.
APP_ENV_PREFIXES = ("KAMS_", "PROMETHEUS_", "ALERTMANAGER_", "CLAIR_", "AWS_")


def app_env_names(environ: Mapping[str, str]) -> list[str]:
    """The variables of `environ` that configure KAMS."""
    return [name for name in environ if name in APP_ENV_VARS or name.startswith(APP_ENV_PREFIXES)]


#: Short, so fault-injection tests (hangs) finish quickly; the sandbox answers in milliseconds.
TEST_REQUEST_TIMEOUT = "3"
STARTUP_TIMEOUT = 60.0
#: AppTest's first run in a process imports the app cold: every AppTest waits this long by default.
APPTEST_TIMEOUT = 60.0


def sandbox_environment(kube_api: Any, prometheus: Any, s3: Any, home: Path) -> dict[str, str]:
    """The variables that point KAMS at the sandbox (what `make run` sets for the demo)."""
    env = {
        "HOME": str(home),  # no ~/.kube/config of the machine's user
        "KUBECONFIG": str(kube_api.reader_kubeconfig),
        "PROMETHEUS_URL": prometheus.url,
        "KAMS_DEMO": "1",
        "KAMS_REQUEST_TIMEOUT": TEST_REQUEST_TIMEOUT,
    }
    env.update(s3.env())
    return env


def clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def _behave_like_streamlit_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make AppTest rerun app.py like `streamlit run` does.

    A `pages/` folder beside app.py makes Streamlit assume the legacy multipage mode until the first
    st.navigation call switches it off for the rest of the process. AppTest resets that flag before every
    run, so on a rerun (after a click) it would execute pages/overview.py alone, without app.py's
    sidebar. app.py always calls st.navigation, so the flag is simply kept off, as on a real server.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original_init = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def set_app_environment(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    """os.environ for an in-process AppTest: every KAMS setting of the developer's own environment
    removed, then `env` set, with the tests' short request timeout unless `env` names another."""
    for name in app_env_names(os.environ):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"KAMS_REQUEST_TIMEOUT": TEST_REQUEST_TIMEOUT, **env}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def streamlit_caches() -> Iterator[None]:
    """Streamlit's caches cleared before and after the test, so no test sees another's data or clients."""
    clear_streamlit_caches()
    yield
    clear_streamlit_caches()


@pytest.fixture
def app_env(kube_api: Any, prometheus: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            streamlit_caches: None) -> dict[str, str]:
    """os.environ set to the sandbox for an in-process AppTest; tests may monkeypatch further."""
    env = sandbox_environment(kube_api, prometheus, s3, tmp_path)
    set_app_environment(monkeypatch, env)
    _behave_like_streamlit_run(monkeypatch)
    return env


def listen_on(address: str | None) -> None:
    """The address the in-process app believes it listens on (Streamlit's server.address option), which
    decides whether it may run without sign-in (ui.auth)."""
    from streamlit import config

    config.set_option("server.address", address)


def app_test(source: str | Path | Callable[[], None], timeout: float = APPTEST_TIMEOUT) -> AppTest:
    """An AppTest (not run yet) of a script file (app.py, a page) or of a script function. The app
    listens on loopback, as under `make run` and the tests' own servers (a test of another address
    calls listen_on after this)."""
    from streamlit.testing.v1 import AppTest

    listen_on("127.0.0.1")

    if callable(source):
        return AppTest.from_function(source, default_timeout=timeout)
    return AppTest.from_file(str(source), default_timeout=timeout)


def run_app_test(source: str | Path | Callable[[], None], namespace: str | None = None, *,
                 time_range: str | None = None, timeout: float = APPTEST_TIMEOUT,
                 **query_params: str) -> AppTest:
    """`source` run once, as a visitor would open it: the sidebar's namespace and time range (session
    state the frame reads) and the address's query parameters set first; asserts the run raised nothing."""
    at = app_test(source, timeout)
    if namespace:
        at.session_state["kams_namespace"] = namespace
    if time_range:
        at.session_state["kams_time_range"] = time_range
    for name, value in query_params.items():
        at.query_params[name] = value
    return rerun(at)


def rerun(at: AppTest) -> AppTest:
    """Run `at` again (after widget changes) and assert the run raised nothing."""
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_script(name: str) -> Path:
    """The file of one page (pages/NAME.py)."""
    return ROOT / "pages" / f"{name}.py"


def unescape(markdown: str) -> str:
    """Undo ui.render.escape_markdown so assertions read like the page does (backslashes, and the
    invisible word joiners that keep URLs and addresses from becoming links)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def widget(elements: Any, label: str) -> Any:
    """The widget of this kind (at.multiselect, at.text_input, ...) with this label."""
    return next(element for element in elements if element.label == label)


def texts(elements: Any) -> list[str]:
    """The unescaped text of each element (at.markdown, at.warning, at.sidebar.markdown, ...)."""
    return [unescape(str(element.value)) for element in elements]


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table of the page that has all these columns."""
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"no table with columns {columns}: {[list(f.value.columns) for f in at.dataframe]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port_url() -> str:
    """The URL of a loopback port that was free a moment ago: nothing listens there (a dead server)."""
    return f"http://127.0.0.1:{_free_port()}"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


#: Extra `streamlit run` options for the port a server is about to get (e.g. a secrets file whose
#: redirect_uri names that port: tests/plugins/auth.py's sign_in_options).
PortOptions = Callable[[int], Sequence[str]]


def start_app_server(env: dict[str, str], log_path: Path, attempts: int = 3, *, script: Path | None = None,
                     cwd: Path = ROOT, port_options: PortOptions | None = None) -> AppServer:
    """`streamlit run app.py` (or `script`) on a free port; retried on another port if that one was taken
    meanwhile. `port_options(port)` is called before each start and its options are added."""
    last_log = ""
    for _ in range(attempts):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "streamlit", "run", str(script or ROOT / "app.py"),
                   "--server.port", str(port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", *(port_options(port) if port_options else ())]
        ours = set(app_env_names(os.environ))
        full_env = {key: value for key, value in os.environ.items() if key not in ours}
        full_env.update(env)
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        server = AppServer(url=url, process=process, log_path=log_path)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _healthy(url):
                return server
            time.sleep(0.3)
        last_log = server.log_tail()
        _stop(process)
    raise RuntimeError(f"streamlit did not start; last log:\n{last_log}")


@contextlib.contextmanager
def serving_app(env: dict[str, str], workdir: Path, *, script: Path | None = None, cwd: Path = ROOT,
                port_options: PortOptions | None = None) -> Iterator[AppServer]:
    """A new `streamlit run app.py` (or `script`) with KAMS's settings `env` (its log in `workdir`),
    stopped on exit; see start_app_server for the options."""
    server = start_app_server(env, workdir / "streamlit.log", script=script, cwd=cwd,
                              port_options=port_options)
    try:
        yield server
    finally:
        _stop(server.process)


@contextlib.contextmanager
def sandbox_app_server(kube_api: Any, prometheus: Any, s3: Any, workdir: Path) -> Iterator[AppServer]:
    """A new `streamlit run app.py` wired to the sandbox (its HOME and log in `workdir`), stopped on exit."""
    with serving_app(sandbox_environment(kube_api, prometheus, s3, workdir), workdir) as server:
        yield server


@pytest.fixture(scope="session")
def app_server(kube_api: Any, prometheus: Any, s3: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The real app served by `streamlit run`, wired to the sandbox; stopped at session end."""
    with sandbox_app_server(kube_api, prometheus, s3, tmp_path_factory.mktemp("app")) as server:
        yield server
