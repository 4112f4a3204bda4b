"""What the sandbox's launchers of child processes share."""

from __future__ import annotations

import selectors
import subprocess
import time
from collections.abc import Callable


def ready_line(process: subprocess.Popen[bytes], deadline: float, name: str,
               log_tail: Callable[[], str]) -> str:
    """The first line `process` prints on stdout (servers that bind port 0 print where they listen),
    waiting until `deadline` (time.monotonic()). Raises RuntimeError, with the log's tail, when it says
    nothing in time or exits first."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"{name} said nothing in time: {log_tail()}")
    line = process.stdout.readline().decode("utf-8", "replace").strip()
    if not line:
        raise RuntimeError(f"{name} exited: {log_tail()}")
    return line


def end_process(process: subprocess.Popen[bytes], grace: float = 5.0,
                kill: Callable[[], None] | None = None) -> None:
    """Stop a child: SIGTERM, `grace` seconds to exit, then `kill` (default SIGKILL to it alone; nginx's
    launcher kills its process group) and 5 more; its stdout pipe, if any, is closed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            (kill or process.kill)()
            process.wait(5)
    if process.stdout is not None:
        process.stdout.close()
