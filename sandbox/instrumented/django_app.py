"""A Django app instrumented with django-prometheus, as its README sets it up (the Before and After
middlewares around the others, its URLs included for /metrics), served by Django's own threaded WSGI
server on a free loopback port.

It answers `GET /orders/<order_id>` and `POST /orders` with the status the `status` query parameter
asks for, after sleeping `ms` milliseconds. The views are named (`order`, `orders`), so
django-prometheus' `view` label holds those names, as in a project that names its URL patterns.

    python -m sandbox.instrumented.django_app
    -> {"app": "http://127.0.0.1:PORT", "metrics": "http://127.0.0.1:PORT/metrics"}  (one line)
"""

from __future__ import annotations

import json
import sys
import time

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1"],
    SECRET_KEY="kams-sandbox-only",  # a throwaway app on loopback, never deployed
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django_prometheus"],
    # No CSRF middleware: the driver POSTs without a token, as an API client would.
    MIDDLEWARE=["django_prometheus.middleware.PrometheusBeforeMiddleware",
                "django_prometheus.middleware.PrometheusAfterMiddleware"],
    DATABASES={},
    USE_TZ=True,
    # The dev server logs every 4xx and 5xx, which this app answers on purpose by the hundred.
    LOGGING={"version": 1, "disable_existing_loggers": False,
             "loggers": {"django.server": {"level": "CRITICAL"}}},
)
django.setup()

from django.http import HttpRequest, HttpResponse  # noqa: E402 - needs settings first
from django.urls import include, path  # noqa: E402


def _answer(request: HttpRequest) -> HttpResponse:
    ms = float(request.GET.get("ms", 0))
    status = int(request.GET.get("status", 200))
    time.sleep(max(0.0, ms) / 1000)  # a thread per request (ThreadedWSGIServer): sleeping blocks no one
    return HttpResponse(f"status {status} after {ms:g} ms\n", status=status, content_type="text/plain")


def order(request: HttpRequest, order_id: str) -> HttpResponse:
    return _answer(request)


def orders(request: HttpRequest) -> HttpResponse:
    return _answer(request)


urlpatterns = [
    path("orders/<str:order_id>", order, name="order"),
    path("orders", orders, name="orders"),
    path("", include("django_prometheus.urls")),
]


def main() -> int:
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(json.dumps({"app": base, "metrics": f"{base}/metrics"}), flush=True)
    server.serve_forever(poll_interval=0.2)  # until the launcher's SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main())
