"""Real instrumentation libraries, really serving, for proving KAMS' request conventions
(k8sdata/requests/conventions.py) against what they actually publish.

Each library's app runs as its own process on a free loopback port (launcher.py), answering
`GET /orders/{id}` and `POST /orders` with any status after any latency (`?status=&ms=`) and serving
/metrics; driver.py sends them a known mix of requests. Micrometer (Java) is a fixture file of Spring
Boot's documented exposition, served with growing counters (micrometer.py).

    with start_apps(LIBRARIES) as apps:
        targets = [target for app in apps.values() for target in app.scrape_targets()]
        report = drive(apps, seconds=20)
"""

from sandbox.instrumented.driver import DriveReport, drive, plan
from sandbox.instrumented.launcher import LIBRARIES, InstrumentedApp, Library, node_missing_reason, start_apps

__all__ = ["LIBRARIES", "DriveReport", "InstrumentedApp", "Library", "drive", "node_missing_reason", "plan",
           "start_apps"]
