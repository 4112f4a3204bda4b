"""Fixtures for the Streamlit app: the environment that points KAMS at the sandbox servers, and a real
`streamlit run app.py` process for browser tests.

`app_env` is what AppTest tests use (the app runs in-process, so os.environ and Streamlit's caches are
reset around each test). `app_server` starts the app as a subprocess on a free loopback port and stops
its whole process group at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture
def app_env(kube_api: Any, prometheus: Any, s3: Any, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """os.environ set to the sandbox for an in-process AppTest; tests may monkeypatch further."""
    for name in app_env_names(os.environ):
        monkeypatch.delenv(name, raising=False)
    env = sandbox_environment(kube_api, prometheus, s3, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _behave_like_streamlit_run(monkeypatch)
    clear_streamlit_caches()
    yield env
    clear_streamlit_caches()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def start_app_server(env: dict[str, str], log_path: Path, attempts: int = 3) -> AppServer:
    """`streamlit run app.py` on a free port; retried on another port if that one was taken meanwhile."""
    last_log = ""
    for _ in range(attempts):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                   "--server.port", str(port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none"]
        ours = set(app_env_names(os.environ))
        full_env = {key: value for key, value in os.environ.items() if key not in ours}
        full_env.update(env)
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log,
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


@pytest.fixture(scope="session")
def app_server(kube_api: Any, prometheus: Any, s3: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The real app served by `streamlit run`, wired to the sandbox; stopped at session end."""
    workdir = tmp_path_factory.mktemp("app")
    server = start_app_server(sandbox_environment(kube_api, prometheus, s3, workdir),
                              workdir / "streamlit.log")
    try:
        yield server
    finally:
        _stop(server.process)
