"""Real Prometheus for the sandbox: launcher, backfill from the demo models, alert rules, and the
assembled metrics side (`MetricsSandbox`)."""

from sandbox.prometheus.backfill import (
                                        BackfillResult,
                                        BackfillSource,
                                        ExporterHistory,
                                        SampleAppHistory,
                                        SourceGroup,
)
from sandbox.prometheus.demo import MetricsSandbox
from sandbox.prometheus.server import PrometheusError, PrometheusServer, ScrapeTarget

__all__ = ["BackfillResult", "BackfillSource", "ExporterHistory", "MetricsSandbox", "PrometheusError",
           "PrometheusServer", "SampleAppHistory", "ScrapeTarget", "SourceGroup"]
