"""Endpoint recompute benchmark: prints a table for N = 100, 1,000, 5,000 synthetic patients.

Usage (a dedicated database; it is filled with synthetic patients):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_bench .venv/bin/python bench/run.py [--sizes 100,1000,5000]

For each N a child process builds the study (bench/generate.py, bulk inserts) and another measures, so the peak
RSS is per N:
  plain read      the exact SQL the collector issues for the whole study, re-run on a raw cursor with fetchall;
  after one save  endpoints.services.run_recompute after one patient's tumour assessment changed (what a form
                  save triggers): content hashes of every patient's rows in SQL, that patient derived again, every
                  other one from the per-patient memo (endpoints.incremental), statistics, figures and the snapshot
                  over all patients; median of 5, each after a different patient's change;
  cold            the same with the memo empty (first run after a deployment, or a cut-off not computed before);
  other worker    the same as "after one save" in a process whose own memo is empty (entries from the shared cache);
  queries         every query of one recompute (after one save: the most of the 5 runs; a run whose changed page
                  of the listing is already stored skips its insert);
  peak            tracemalloc peak of one cold recompute (Python allocations) and the process's max RSS;
  dashboard       GET of the dashboard as an investigator (Django test client), median of 5 after a warm-up.
Targets (issue 7): recompute(5,000) <= 3 x plain read(5,000), measured after one form save; peak < 1 GiB; the same
query count at every N; dashboard(5,000) <= 1.5 x dashboard(100).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _touch_one_patient(k: int) -> None:
    """What a coordinator's save does to the endpoint inputs: one tumour assessment of one patient changes."""
    from assessments.models import TumourAssessment

    rows = TumourAssessment.objects.filter(pct_chg_baseline__isnull=False).order_by("pk")
    ta = rows[(k * 7919) % rows.count()]
    TumourAssessment.objects.filter(pk=ta.pk).update(pct_chg_baseline=ta.pct_chg_baseline - 1)


def measure(n: int) -> dict[str, object]:
    from _django import bench_user, setup

    setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from endpoints import incremental, services
    from endpoints.collect import collect_study
    from endpoints.models import EndpointListingContent, EndpointListingPage, EndpointSnapshot, EndpointState

    # Earlier runs' snapshots go with plain SQL deletes: Django's collector would load every one of them (tens of MB
    # of JSON each) into this process and inflate the max RSS measured below.
    for model in (EndpointListingPage, EndpointListingContent, EndpointSnapshot, EndpointState):
        model.objects.all()._raw_delete(connection.alias)
    _forget_shared_memo()
    today = timezone.localdate()
    with CaptureQueriesContext(connection) as ctx:
        collect_study(today)  # also warms the connection and the caches
    sqls = [q["sql"] for q in ctx.captured_queries]
    plain = []
    rows = 0
    for _ in range(3):
        t0 = time.perf_counter()
        rows = 0
        with connection.cursor() as cursor:
            for sql in sqls:
                cursor.execute(sql)
                rows += len(cursor.fetchall())
        plain.append(time.perf_counter() - t0)

    def run(trigger: str) -> tuple[float, dict[str, float], int]:
        with CaptureQueriesContext(connection) as q:
            t0 = time.perf_counter()
            snap = services.run_recompute(trigger=trigger, cutoff=today)
            elapsed = time.perf_counter() - t0
        assert snap.status == "ok", snap.error
        return elapsed, dict(snap.timings), len(q.captured_queries)

    # Memory first, in a process that has done nothing heavier: the RSS is then that of one cold recompute (the
    # worst case: every patient derived, the listing written from scratch).
    incremental.clear()
    tracemalloc.start()
    run("bench (memory, cold)")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Cold: the memo empty (the first run after a deployment, or at a cut-off not computed before).
    cold = []
    for _ in range(2):
        incremental.clear()
        cold.append(run("bench (cold)"))
    # After one form save: one patient's tumour assessment changed before each run (what a save triggers).
    saved = []
    for k in range(5):
        _touch_one_patient(k)
        saved.append(run("bench (one save)"))
    assert all(t["patients_derived"] == 1 for _, t, _ in saved), [t["patients_derived"] for _, t, _ in saved]
    # Another worker process: this process's memo forgotten, the shared cache (Redis) kept.
    other = []
    for k in range(2):
        _touch_one_patient(100 + k)
        with incremental._memo_lock:
            incremental._memo.clear()
        other.append(run("bench (other worker)"))
    median = sorted(saved, key=lambda r: r[0])[len(saved) // 2]
    client = Client()
    client.force_login(bench_user("investigator"))
    url = reverse("endpoints:dashboard")
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    times, others = [], []
    # Time spent on the same page by other apps' site-wide parts (the visits worklist badge in the navigation).
    spent = _timed_other_apps()
    for _ in range(5):
        spent.clear()
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        others.append(sum(spent))
    with CaptureQueriesContext(connection) as dq:
        client.get(url)
    _forget_shared_memo()
    best_cold = min(cold, key=lambda r: r[0])
    return {
        "n": n,
        "rows": rows,
        "plain_s": min(plain),
        "cold_s": best_cold[0],
        "cold_stages": best_cold[1],
        "cold_queries": best_cold[2],
        "saved_s": median[0],
        "saved_stages": median[1],
        "queries": max(r[2] for r in saved),
        "other_s": min(r[0] for r in other),
        "collector_queries": len(sqls),
        "peak_mb": peak / 2**20,
        "maxrss_mb": maxrss,
        "dashboard_s": statistics.median(times),
        "dashboard_own_s": statistics.median(t - o for t, o in zip(times, others, strict=True)),
        "dashboard_kb": len(response.content) / 1024,
        "dashboard_queries": len(dq.captured_queries),
        "vendor": connection.vendor,
        "shared_cache": type(__import__("django.core.cache").core.cache.cache).__name__,
    }


def _forget_shared_memo() -> None:
    """Delete the per-patient memo entries earlier runs left in the shared cache (only those keys)."""
    from django.core.cache import cache

    client = getattr(cache, "_cache", None)
    if client is None or not hasattr(client, "get_client"):
        return  # the in-process cache: nothing outlives this process
    redis = client.get_client(write=True)
    keys = list(redis.scan_iter(match="*endpoints:memo:*", count=1000))
    for start in range(0, len(keys), 1000):
        redis.delete(*keys[start : start + 1000])


def _timed_other_apps() -> list[float]:
    """Wrap the visits app's study-wide schedule (computed for the navigation badge on every page) with a timer."""
    from visits import selectors

    spent: list[float] = []
    original = selectors.collect

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    selectors.collect = timed
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print("RESULT " + json.dumps(measure(args.measure)))
        return
    results = []
    for i, n in enumerate(int(x) for x in args.sizes.split(",")):
        gen = [sys.executable, str(HERE / "generate.py"), str(n)] + ([] if i == 0 else ["--no-migrate"])
        subprocess.run(gen, check=True)
        out = subprocess.run(
            [sys.executable, str(HERE / "run.py"), "--measure", str(n)],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        ).stdout
        line = next(x for x in out.splitlines() if x.startswith("RESULT "))
        results.append(json.loads(line[7:]))
        r = results[-1]
        print(
            f"  N={n}: after one save {r['saved_s']:.2f} s, cold {r['cold_s']:.2f} s, "
            f"dashboard {r['dashboard_s'] * 1000:.0f} ms",
            flush=True,
        )
    print_table(results)


def _stages(s: dict[str, float]) -> str:
    keys = ("read_hash_s", "read_derive_s", "safety_s", "statistics_s", "plots_s", "store_s")
    return "/".join(f"{s.get(k, 0):.2f}" for k in keys) + " s"


def print_table(results: list[dict[str, object]]) -> None:
    head = (
        "N",
        "rows read",
        "plain SQL read",
        "after one save (median of 5)",
        "cold (best of 2)",
        "other worker",
        "one save: hash/derive/safety/stats/figures/store",
        "queries (one save / cold)",
        "peak (tracemalloc)",
        "max RSS",
        "dashboard",
        "dashboard w/o visits badge",
        "page size",
    )
    lines = []
    for r in results:
        plain = r["plain_s"]
        lines.append(
            (
                f"{r['n']:,}",
                f"{r['rows']:,}",
                f"{plain:.3f} s",
                f"{r['saved_s']:.2f} s ({r['saved_s'] / plain:.1f}x)",
                f"{r['cold_s']:.2f} s ({r['cold_s'] / plain:.1f}x)",
                f"{r['other_s']:.2f} s ({r['other_s'] / plain:.1f}x)",
                _stages(r["saved_stages"]),
                f"{r['queries']} / {r['cold_queries']}",
                f"{r['peak_mb']:.0f} MiB",
                f"{r['maxrss_mb']:.0f} MiB",
                f"{r['dashboard_s'] * 1000:.0f} ms ({r['dashboard_queries']} q)",
                f"{r['dashboard_own_s'] * 1000:.0f} ms",
                f"{r['dashboard_kb']:.0f} KiB",
            )
        )
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    print(
        f"\nEndpoint recompute benchmark ({results[0]['vendor']}, shared cache {results[0]['shared_cache']})"
    )
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for x in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) + " |")
    big, small = results[-1], results[0]
    checks = [
        (
            f"recompute after one form save at {big['n']:,} within 3x the plain read",
            big["saved_s"] <= 3 * big["plain_s"],
        ),
        (
            f"cold recompute at {big['n']:,} within 3x the plain read (not a target; for the record)",
            big["cold_s"] <= 3 * big["plain_s"],
        ),
        (f"peak memory at {big['n']:,} under 1 GiB", max(big["peak_mb"], big["maxrss_mb"]) < 1024),
        (
            "same number of queries at every N (after one save and cold)",
            len({r["queries"] for r in results}) == 1 and len({r["cold_queries"] for r in results}) == 1,
        ),
        (
            f"dashboard at {big['n']:,} within 1.5x of {small['n']:,}",
            big["dashboard_s"] <= 1.5 * small["dashboard_s"],
        ),
        (
            f"dashboard at {big['n']:,} within 1.5x of {small['n']:,} without the visits navigation badge",
            big["dashboard_own_s"] <= 1.5 * small["dashboard_own_s"],
        ),
    ]
    print()
    for label, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
