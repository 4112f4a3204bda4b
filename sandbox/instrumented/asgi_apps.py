"""The ASGI apps of sandbox.instrumented, each instrumented by its real library and served by uvicorn:

- `fastapi-instrumentator`: FastAPI + prometheus-fastapi-instrumentator (its defaults: status grouped
  as 2xx/4xx/5xx, `handler` = the route template);
- `starlette-exporter`: Starlette + starlette_exporter's PrometheusMiddleware (its defaults);
- `opentelemetry`: FastAPI + opentelemetry-instrumentation-fastapi with the stable HTTP semantic
  conventions (OTEL_SEMCONV_STABILITY_OPT_IN=http), exported by opentelemetry-exporter-prometheus on
  its own port, as the exporter's documentation sets it up (prometheus_client's start_http_server).

Every app answers `GET /orders/{order_id}` and `POST /orders` with the status the `status` query
parameter asks for, after sleeping `ms` milliseconds, and serves /metrics.

    python -m sandbox.instrumented.asgi_apps fastapi-instrumentator
    -> {"app": "http://127.0.0.1:PORT", "metrics": "http://127.0.0.1:PORT/metrics"}  (one line)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from typing import Any

KINDS = ("fastapi-instrumentator", "starlette-exporter", "opentelemetry")
#: Resource attributes of the OpenTelemetry app: the exporter publishes them in `target_info`.
OTEL_RESOURCE = {"service.name": "cart", "service.namespace": "shop", "k8s.namespace.name": "shop",
                 "k8s.pod.name": "cart-6b8f9d7c4-t5r2w", "k8s.deployment.name": "cart"}


async def answer(ms: float, status: int) -> Any:
    from starlette.responses import PlainTextResponse

    # asyncio.sleep, not time.sleep: slow requests must not hold up the others on the event loop.
    await asyncio.sleep(max(0.0, ms) / 1000)
    return PlainTextResponse(f"status {status} after {ms:g} ms\n", status_code=status)


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def get_order(order_id: str, ms: float = 0.0, status: int = 200) -> Any:
        return await answer(ms, status)

    @app.post("/orders")
    async def create_order(ms: float = 0.0, status: int = 200) -> Any:
        return await answer(ms, status)

    return app


def instrumentator_app() -> Any:
    from prometheus_fastapi_instrumentator import Instrumentator

    app = fastapi_app()
    Instrumentator().instrument(app).expose(app, endpoint="/metrics")
    return app


def starlette_exporter_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    async def order(request: Request) -> Any:
        params = request.query_params
        return await answer(float(params.get("ms", 0)), int(params.get("status", 200)))

    app = Starlette(routes=[Route("/orders/{order_id}", order, methods=["GET"]),
                            Route("/orders", order, methods=["POST"])])
    app.add_middleware(PrometheusMiddleware)
    app.add_route("/metrics", handle_metrics)
    return app


def opentelemetry_app() -> tuple[Any, str]:
    """The app, and the URL of the exporter's own /metrics server (a free port of its own)."""
    # Read when the instrumentation is imported: without it the old experimental names are emitted
    # (http.server.duration in milliseconds), which no current SDK default will keep.
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "http"
    from opentelemetry import metrics
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port=0, addr="127.0.0.1")
    metrics.set_meter_provider(MeterProvider(resource=Resource.create(OTEL_RESOURCE),
                                             metric_readers=[PrometheusMetricReader()]))
    app = fastapi_app()
    FastAPIInstrumentor.instrument_app(app)
    return app, f"http://127.0.0.1:{server.server_port}/metrics"


def serve(kind: str) -> None:
    import uvicorn

    if kind == "opentelemetry":
        app, metrics_url = opentelemetry_app()
    else:
        app = instrumentator_app() if kind == "fastapi-instrumentator" else starlette_exporter_app()
        metrics_url = ""
    # Bound here, so the port is ours before anyone is told it; uvicorn serves the socket as given.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    print(json.dumps({"app": base, "metrics": metrics_url or f"{base}/metrics"}), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    serve(parser.parse_args(argv).kind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
