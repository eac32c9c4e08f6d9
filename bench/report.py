"""Study report benchmark: builds the PDF study report at N = 60 and 1,000 synthetic patients and prints a table.

Usage (a dedicated database; it is filled with synthetic patients):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_report_bench .venv/bin/python bench/report.py \
        [--sizes 60,1000] [--keep DIR] [--profile FILE]

For each N a child process builds the study (bench/generate.py, bulk inserts), computes one endpoint snapshot
(not timed: the report job reuses the latest snapshot at the cut-off; ``--reuse-snapshot`` takes the latest
one instead of computing it) and measures one report build:
  context   the report's own reads and tables (reports.report.report_context), per stage;
  html      rendering the Django template;
  layout    WeasyPrint parsing, styling and laying out every page (HTML.render);
  pdf       WeasyPrint writing the PDF (Document.write_pdf);
  total     the sum (what build_report costs in the Celery job after the snapshot);
  CPU       process CPU seconds of the build (the machine may be shared: compare CPU);
  pages     number of pages; size = PDF bytes; queries = SQL queries of the build.
``--keep DIR`` writes each PDF there (report-<N>.pdf); ``--profile FILE`` writes a cProfile of the build
(``FILE-<N>.prof``; read it with ``python -m pstats``).
Target (issue 8): total under 2 minutes at 1,000 patients on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(n: int, keep: str | None, profile: str | None, reuse: bool = False) -> dict[str, object]:
    from _django import bench_user, setup

    setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from endpoints import services
    from reports import report

    call_command("migrate", verbosity=0, interactive=False)
    today = timezone.localdate()
    snap = services.latest_snapshot(today) if reuse else None
    if snap is None:
        snap = services.run_recompute(trigger="bench (report)", cutoff=today)
    assert snap.status == "ok", snap.error
    user = bench_user("data_manager")
    stages: dict[str, float] = {}
    last = {"stage": "", "t": 0.0}

    def progress(stage: str, pct: int) -> None:
        now = time.perf_counter()
        if last["stage"]:
            stages[str(last["stage"])] = now - float(last["t"])
        last.update(stage=stage, t=now)

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0 = time.process_time()
    with CaptureQueriesContext(connection) as q:
        t0 = time.perf_counter()
        context = report.report_context(snap, user=user, progress=progress)
        progress("", 0)
        t1 = time.perf_counter()
        html = report.render_context(context)
        t2 = time.perf_counter()
    document = report.layout(html)
    t3 = time.perf_counter()
    pdf = report.write_pdf(document)
    t4 = time.perf_counter()
    cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile}-{n}.prof")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"report-{n}.pdf").write_bytes(pdf)
    return {
        "n": n,
        "patients": snap.results.get("n_patients"),
        "context_s": t1 - t0,
        "stages": stages,
        "html_s": t2 - t1,
        "html_kb": len(html) / 1024,
        "layout_s": t3 - t2,
        "pdf_s": t4 - t3,
        "total_s": t4 - t0,
        "cpu_s": cpu,
        "pages": len(document.pages),
        "pdf_kb": len(pdf) / 1024,
        "queries": len(q.captured_queries),
        "vendor": connection.vendor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="60,1000")
    parser.add_argument("--keep", help="write the PDFs to this folder")
    parser.add_argument("--profile", help="write a cProfile of each build to PROFILE-<N>.prof")
    parser.add_argument("--no-generate", action="store_true", help="measure the database as it is")
    parser.add_argument(
        "--reuse-snapshot", action="store_true", help="use the latest snapshot at today's cut-off"
    )
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print("RESULT " + json.dumps(measure(args.measure, args.keep, args.profile, args.reuse_snapshot)))
        return
    results = []
    for i, n in enumerate(int(x) for x in args.sizes.split(",")):
        if not args.no_generate:
            gen = [sys.executable, str(HERE / "generate.py"), str(n)] + ([] if i == 0 else ["--no-migrate"])
            subprocess.run(gen, check=True)
        cmd = [sys.executable, str(HERE / "report.py"), "--measure", str(n)]
        cmd += ["--keep", args.keep] if args.keep else []
        cmd += ["--profile", args.profile] if args.profile else []
        cmd += ["--reuse-snapshot"] if args.reuse_snapshot else []
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=os.environ).stdout
        results.append(json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:]))
        r = results[-1]
        print(f"  N={n}: {r['total_s']:.1f} s, {r['pages']} pages", flush=True)
    print_table(results)


def print_table(results: list[dict[str, object]]) -> None:
    head = (
        "N",
        "context (reads, tables)",
        "html",
        "layout",
        "pdf",
        "total",
        "CPU",
        "pages",
        "PDF size",
        "queries",
    )
    lines = []
    for r in results:
        stages = ", ".join(f"{k.split(' ')[0].lower()} {v:.2f}" for k, v in r["stages"].items())  # type: ignore[union-attr]
        lines.append(
            (
                f"{r['n']:,}",
                f"{r['context_s']:.2f} s ({stages})",
                f"{r['html_s']:.2f} s ({r['html_kb']:.0f} KiB)",
                f"{r['layout_s']:.1f} s",
                f"{r['pdf_s']:.1f} s",
                f"{r['total_s']:.1f} s",
                f"{r['cpu_s']:.1f} s",
                str(r["pages"]),
                f"{r['pdf_kb']:.0f} KiB",
                str(r["queries"]),
            )
        )
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    print(f"\nStudy report benchmark ({results[0]['vendor']})")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for x in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) + " |")
    big = results[-1]
    ok = float(big["total_s"]) < 120  # type: ignore[arg-type]
    print(f"\n  [{'met' if ok else 'MISSED'}] report at {big['n']:,} patients under 2 minutes")


if __name__ == "__main__":
    main()
