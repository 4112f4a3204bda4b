"""`make load`'s pure parts, so the benchmark does not rot between its (long, browser-driven) runs: the
table and the target verdicts from a made-up run, the frame parser that times script runs, the request
counting and the Logs page's summary. No timing assertions: the figures are the benchmark's business."""

from __future__ import annotations

from typing import Any

from bench.load import (
    BIG,
    FINISHED_EARLY_FOR_RERUN,
    FINISHED_FRAGMENT,
    FINISHED_SUCCESSFULLY,
    QUICK,
    SMALL,
    collection_requests,
    compare_lines,
    evaluate,
    open_watches,
    parse_logs_caption,
    render,
    runs_from_frames,
)

MACHINE = {"cores": 2, "memory_gb": 23.5, "python": "3.11.7", "system": "Linux x86_64",
           "prometheus": "Prometheus built-3.16.0", "chromium": "156.0", "date": "2026-12-08 01:00",
           "load_before": "1.00 1.00 1.00", "load_after": "2.00 2.00 2.00", "total_s": 800.0}


def page(cold: float | None, warm: float, queries: int, rss: float, rerun: int = 9_000,
         lists: dict[str, int] | None = None) -> dict[str, Any]:
    return {"cold": {"seconds": cold, "settled": cold, "bytes": 500_000, "connected": 0.5,
                     "prometheus_queries": queries, "api_requests": {"/api/v1/pods": 1}},
            "warm": {"seconds": warm, "settled": warm, "bytes": 400_000, "connected": 0.4,
                     "prometheus_queries": 0, "api_requests": lists or {}},
            "rerun": {"seconds": 0.2, "bytes": rerun}, "exceptions_cold": 0, "exceptions_warm": 0,
            "peak_rss_mb": rss, "tracebacks": []}


def size(pods: int, *, pods_cold: float | None, p95: float, rss_many: float, pod_lists: int,
         errors: int = 0) -> dict[str, Any]:
    return {
        "size": pods, "kubectl": {"seconds": 50.0, "rows": pods, "peak_mb": 4900.0},
        "pods": page(pods_cold, 1.0, 2, 400.0), "overview": page(4.0, 2.0, 2, 380.0),
        "security": page(12.0, 1.0, 0, 900.0),
        "viewers": {
            "asked": 30, "held": 30, "setup_s": 40.0, "setup_failures": [], "rss_one_mb": 400.0,
            "rss_many_mb": rss_many, "window_s": 60.0,
            "requests": {"/api/v1/pods": {"lists": pod_lists, "watches": 0},
                         "/api/v1/events": {"lists": 2, "watches": 0}},
            "watches": {"/api/v1/pods": 1},
            "pages": {name: {"runs": 30, "seconds": [0.5], "bytes": [100_000], "p50_s": 0.5, "p95_s": p95,
                             "median_bytes": 100_000} for name in ("pods", "overview")},
            "runs": 60, "p50_s": 0.5, "p95_s": p95, "prometheus_queries": 6,
            "prometheus_queries_per_view": 0.1,
            "errors": {"exceptions": errors, "console": 0, "page_errors": 0, "sockets_closed": 0, "setup": 0},
            "error_alerts": {}, "console_samples": [], "tracebacks": [], "failed_responses": {}},
        "logs": {"pods": 20, "cpu_share": 0.2, "bytes_per_s": 50_000.0, "served": 1300,
                 "served_distinct": 1200, "following": {"asked": 25, "appended": 1190},
                 "followed_served": 1200, "followed_checked": 1150, "followed_missing": 0, "shown_twice": 0},
    }


def test_the_table_shows_every_size_and_a_verdict_per_target() -> None:
    results = [size(SMALL, pods_cold=3.0, p95=1.0, rss_many=450.0, pod_lists=0),
               size(BIG, pods_cold=20.0, p95=5.0, rss_many=900.0, pod_lists=4, errors=1)]
    table = render(results, MACHINE, "full run")
    assert "| measure | 5,000 pods | 100,000 pods |" in table
    assert "2 cores" in table and "23.5 GB" in table and "load average" in table
    assert "`kubectl get pods -A` at 100,000 pods took 50.00 s" in table
    verdicts = {v.target: v for v in evaluate(results)}
    assert all(v.ok is not None for v in verdicts.values()), verdicts  # both sizes: everything judged
    cold = next(v for t, v in verdicts.items() if "first rows cold" in t)
    assert cold.ok is False and "0.400x" in cold.measured  # 20 s of kubectl's 50 s
    assert next(v for t, v in verdicts.items() if "first rows warm" in t).ok is True
    assert next(v for t, v in verdicts.items() if "per rerun" in t).ok is True
    assert next(v for t, v in verdicts.items() if "Security at 100,000: server memory" in t).ok is True
    assert next(v for t, v in verdicts.items() if "p95 refresh" in t).ok is True
    assert next(v for t, v in verdicts.items() if "30 viewers at 100,000: no errors" in t).ok is False
    assert next(v for t, v in verdicts.items() if "30 viewers at 5,000: no errors" in t).ok is True
    assert next(v for t, v in verdicts.items() if "equal at 5,000 and 100,000" in t).ok is True
    growth = next(v for t, v in verdicts.items() if "viewers at 100,000: RSS" in t)
    assert growth.ok is False and "2.25x" in growth.measured
    # A watch stream and lists of the same resource in the window: not "one shared read".
    shared = [v for t, v in verdicts.items() if "one API list per resource" in t]
    assert [v.ok for v in shared] == [True, False]
    for verdict in verdicts.values():
        assert f"| {verdict.target} | {verdict.measured} | " in table
    assert table.count("PASS") + table.count("**FAIL**") == len(verdicts)


def test_a_quick_run_claims_nothing_about_sizes_it_did_not_measure() -> None:
    results = [size(pods, pods_cold=3.0, p95=1.0, rss_many=450.0, pod_lists=1) for pods in QUICK.sizes]
    verdicts = evaluate(results)
    assert any(v.ok is None for v in verdicts)
    assert all("not measured" in v.measured for v in verdicts if v.ok is None)
    assert "not measured" in render(results, MACHINE, "quick mode")


def test_runs_are_timed_from_new_session_to_a_successful_finish() -> None:
    frames = [
        (0.0, 300, "new_session", -1), (0.1, 5_000, "delta", -1),
        (0.2, 40, "script_finished", FINISHED_EARLY_FOR_RERUN),  # st.rerun: the same run goes on
        (0.3, 300, "new_session", -1), (0.9, 40, "script_finished", FINISHED_SUCCESSFULLY),
        (5.0, 300, "new_session", -1), (5.2, 40, "script_finished", FINISHED_FRAGMENT),  # a timer
        (9.0, 10, "delta", -1),  # outside any run
        (30.0, 300, "new_session", -1), (30.1, 40, "script_finished", FINISHED_EARLY_FOR_RERUN),
        (30.2, 300, "new_session", -1), (31.0, 1_000, "delta", -1),
        (31.5, 40, "script_finished", FINISHED_SUCCESSFULLY),
    ]
    runs = runs_from_frames(frames)
    assert [(run.start, run.end) for run in runs] == [(0.0, 0.9), (30.0, 31.5)]
    assert runs[0].bytes == 300 + 5_000 + 40 + 300 + 40
    assert runs[1].bytes == 300 + 40 + 300 + 1_000 + 40


def test_requests_are_counted_per_collection_with_pages_and_watches_apart() -> None:
    records = [
        {"time": 10.0, "method": "GET", "path": "/api/v1/pods", "query": "limit=500"},
        {"time": 10.5, "method": "GET", "path": "/api/v1/pods", "query": "limit=500&continue=abc"},
        {"time": 11.0, "method": "GET", "path": "/api/v1/pods", "query": "watch=1&resourceVersion=7"},
        {"time": 12.0, "method": "GET", "path": "/api/v1/namespaces/shop/pods/web-1/log", "query": ""},
        {"time": 12.0, "method": "GET", "path": "/api/v1/namespaces/shop/pods/web-1", "query": ""},
        {"time": 13.0, "method": "GET", "path": "/apis/metrics.k8s.io/v1beta1/pods", "query": ""},
        {"time": 14.0, "method": "GET", "path": "/api/v1/namespaces/shop/events", "query": ""},
        {"time": 99.0, "method": "GET", "path": "/api/v1/pods", "query": ""},  # outside the span
    ]
    assert collection_requests(records, 0.0, 50.0) == {
        "/api/v1/pods": {"lists": 1, "watches": 1},
        "/apis/metrics.k8s.io/v1beta1/pods": {"lists": 1, "watches": 0},
        "/api/v1/namespaces/shop/events": {"lists": 1, "watches": 0},
    }


def test_the_logs_summary_and_the_text_view_are_read() -> None:
    caption = ("2,595 of 12,595 lines from 25 of 25 containers; the oldest 1,000 were let go to keep memory "
               "bounded; read at 01:02:03 UTC; following every 3 s, 95 new since the read (last check "
               "01:02:30 UTC)")
    assert parse_logs_caption(caption) == {"visible": 2595, "kept": 12595, "read": 25, "asked": 25,
                                           "dropped": 1000, "appended": 95}
    assert parse_logs_caption("nothing here") == {}
    served = [f"INFO shop/web-1/app seq={second} handled" for second in range(100, 110)]
    text = "\n".join(f"2026-12-08T01:00:00Z web-1 app INFO shop/web-1/app seq={second} handled"
                     for second in [*range(103, 109), 108])
    assert compare_lines(served, text) == {"followed_served": 10, "followed_checked": 6,
                                           "followed_missing": 1, "shown_twice": 1}


def test_a_renewed_watch_is_one_stream_at_a_time() -> None:
    watch = {"method": "GET", "path": "/api/v1/pods", "query": "watch=true&timeoutSeconds=300"}
    records = [{**watch, "time": 0.0, "end": 300.0}, {**watch, "time": 300.0, "end": None},
               {"method": "GET", "path": "/api/v1/events", "query": "watch=1", "time": 10.0, "end": 20.0},
               {"method": "GET", "path": "/api/v1/events", "query": "watch=1", "time": 15.0, "end": 25.0}]
    assert open_watches(records, 0.0, 400.0) == {"/api/v1/pods": 1, "/api/v1/events": 2}
