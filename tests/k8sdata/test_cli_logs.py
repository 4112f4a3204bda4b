"""`python -m k8sdata logs` against the stand-in API server: the demo cluster (kube_api) for the stories
and kubectl's own output, a server of our own for several containers, escapes and following."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from k8sdata.cli import main as cli_main
from sandbox import demo_names
from sandbox.apiserver import ApiServer

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
WEB = demo_names.WEB
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z ")


def run_cli(args: list[str], kubeconfig: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["logs", *args], out=out, err=err,
                    environ={"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": "5"})
    return code, out.getvalue(), err.getvalue()


def test_tail_timestamps_and_kubectl_agree(kube_api: Any) -> None:
    """kubectl reads the same pods/log; our last lines contain its last lines, in the same order."""
    kubectl = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kube_api.reader_kubeconfig), "logs", "-n", WEB.namespace, WEB.pod,
         "-c", WEB.container, "--tail", "5"], capture_output=True, text=True, timeout=30, check=True)
    code, out, err = run_cli([f"{WEB.namespace}/{WEB.pod}", "--tail", "20"], kube_api.reader_kubeconfig)
    assert code == 0 and not err
    ours = out.splitlines()
    theirs = kubectl.stdout.splitlines()
    assert len(ours) == 20 and len(theirs) == 5
    start = ours.index(theirs[0])
    assert ours[start:start + 5] == theirs
    code, out, _ = run_cli([f"{WEB.namespace}/{WEB.pod}", "--tail", "3", "--timestamps"],
                           kube_api.reader_kubeconfig)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and all(STAMP.match(line) for line in lines)
    assert sorted(lines) == lines


def test_previous_shows_why_the_crash_loop_crashed(kube_api: Any) -> None:
    pod = demo_names.CRASHLOOP_POD
    code, out, _ = run_cli([f"{pod.namespace}/{pod.pod}", "--previous", "--tail", "40"],
                           kube_api.reader_kubeconfig)
    assert code == 0 and out.splitlines()[-1].startswith("invoice_sync.db.DatabaseUnavailable")
    assert "Traceback (most recent call last):" in out
    code, _, err = run_cli([f"{WEB.namespace}/{WEB.pod}", "-p"], kube_api.reader_kubeconfig)
    assert code == 1 and "no previous log" in err and err.count("\n") == 1


def test_grep_plain_regex_and_bad_patterns(kube_api: Any) -> None:
    ref = f"{WEB.namespace}/{WEB.pod}"
    code, out, _ = run_cli([ref, "--tail", "200", "--grep", "get /"], kube_api.reader_kubeconfig)
    assert code == 0 and out and all("get /" in line.lower() for line in out.splitlines())
    code, out, _ = run_cli([ref, "--tail", "200", "--grep", r'" [45]\d\d ', "--regex"],
                           kube_api.reader_kubeconfig)
    assert code == 0 and all(re.search(r'" [45]\d\d ', line) for line in out.splitlines())
    code, _, err = run_cli([ref, "--grep", "(a", "--regex"], kube_api.reader_kubeconfig)
    assert code == 2 and err.startswith("The search is not a valid regular expression")


def test_missing_pod_and_bad_arguments(kube_api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["shop/no-such-pod"], kube_api.reader_kubeconfig)
    assert code == 1 and not out and err == "The pod shop/no-such-pod is gone. No pod by that name.\n"
    for bad in (["shop"], ["shop/.."], ["shop/x?y"], ["shop/x", "--since", "10 minutes"],
                ["shop/x", "--since", "0s"]):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(bad, kube_api.reader_kubeconfig)
        assert exit_info.value.code == 2
    assert "NAMESPACE/POD" in capsys.readouterr().err
    code, _, err = run_cli(["shop/x", "--tail", "-1"], kube_api.reader_kubeconfig)
    assert code == 2 and "--tail" in err


def _provider(started: datetime) -> Callable[..., list[tuple[datetime, str]]]:
    def lines(pod: dict[str, Any], container: str, previous: bool, now: datetime
              ) -> list[tuple[datetime, str]]:
        count = int((now - started).total_seconds() * 10) + 1
        out = [(started + timedelta(seconds=i / 10), f"{container} tick {i}") for i in range(count)]
        if container == "sidecar":
            out.append((started, "\x1b[31mred\x1b[0m \x07bell"))
            out.sort(key=lambda line: line[0])
        return out

    return lines


def test_several_containers_follow_and_escapes(make_api_server: Callable[..., ApiServer], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    server = make_api_server(log_provider=_provider(datetime.now(UTC) - timedelta(seconds=5)))
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", demo_names.READER_TOKEN)
    code, out, _ = run_cli(["shop/duo-1", "--tail", "1000"], kubeconfig)
    lines = out.splitlines()
    assert code == 0 and {line.split("]")[0] for line in lines} == {"[duo-1/app", "[duo-1/sidecar"}
    assert "[duo-1/sidecar] \\x1b[31mred\\x1b[0m \\x07bell" in lines and "\x1b" not in out
    code, out, _ = run_cli(["shop/duo-1", "-c", "app", "--tail", "2", "--follow", "--follow-for", "1.2",
                            "--interval", "0.3"], kubeconfig)
    ticks = [int(line.rsplit(" ", 1)[1]) for line in out.splitlines()]
    assert code == 0 and len(ticks) > 8  # followed about a second at 10 lines a second
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))  # no duplicate, no gap
    # one container of several failing: the others print, the failure goes to stderr, exit 1
    server.set_fault(r"/pods/duo-1/log$", "forbidden", times=1)
    code, out, _ = run_cli(["shop/duo-1", "--tail", "3"], kubeconfig)
    assert code == 1 and len(out.splitlines()) == 3
    assert "is not allowed" in capsys.readouterr().err
