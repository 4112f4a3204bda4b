"""The Prometheus launcher on its own: a real server, started bare (no targets, no backfill)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.prometheus import server as launcher
from sandbox.prometheus.flavours import Flavour
from sandbox.prometheus.server import PrometheusError, PrometheusServer, ScrapeTarget, render_config


def test_config_has_one_scrape_config_per_job_and_path() -> None:
    targets = [
        ScrapeTarget("web", "127.0.0.1:1", {"namespace": "shop", "pod": "web-1"}),
        ScrapeTarget("kubelet", "127.0.0.1:2", {"instance": "x"}, "/metrics/cadvisor", honor_labels=True),
        ScrapeTarget("kubelet", "127.0.0.1:2", {"instance": "y"}, "/metrics/probes", honor_labels=True),
    ]
    config = render_config(targets, scrape_interval="5s", evaluation_interval="5s",
                           rule_files=[Path("/r.yml")])
    jobs = config["scrape_configs"]
    assert [job["job_name"] for job in jobs] == ["web", "kubelet-metrics-cadvisor", "kubelet-metrics-probes"]
    # a job name made unique for Prometheus still carries the job label users expect
    assert jobs[1]["relabel_configs"] == [{"target_label": "job", "replacement": "kubelet"}]
    assert jobs[0]["static_configs"] == [{"targets": ["127.0.0.1:1"], "labels": {"namespace": "shop",
                                                                                 "pod": "web-1"}}]
    assert jobs[1]["honor_labels"] is True and jobs[0]["honor_labels"] is False
    assert config["rule_files"] == ["/r.yml"]


@pytest.fixture()
def occupied_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_starts_on_another_port_when_the_first_is_taken(occupied_port: int, prometheus_flavour: Flavour,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    offered = iter([occupied_port])
    real_free_port = launcher.free_port
    monkeypatch.setattr(launcher, "free_port", lambda: next(offered, None) or real_free_port())
    server = PrometheusServer([], flavour=prometheus_flavour)
    with server:
        assert server.port != occupied_port
        assert "version" in server.get_json("/api/v1/status/buildinfo")
        groups = server.get_json("/api/v1/rules")["groups"]
        assert {"kams-demo-pods", "kams-demo-apps"} <= {group["name"] for group in groups}
        workdir, process = server._workdir, server.process
        assert workdir is not None and process is not None
    assert process.poll() is not None, "Prometheus still running after stop()"
    assert not workdir.exists()


def test_refuses_a_data_dir_that_is_not_fresh(tmp_path: Path) -> None:
    (tmp_path / "leftover").write_text("old block", encoding="utf-8")
    server = PrometheusServer([], data_dir=tmp_path)
    with pytest.raises(PrometheusError, match="not empty"):
        server.start()
    assert server.process is None and server._workdir is None  # nothing left behind
    assert (tmp_path / "leftover").exists()  # and nothing of the caller's deleted
