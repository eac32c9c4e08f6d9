"""PDF benchmark: the casebook PDF of the largest demo patient, and the study report at N synthetic patients.

Usage (a dedicated database; the demo study is loaded when it has no patient, ``--report-sizes`` adds synthetic
patients BN00001... to it):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_pdf_bench .venv/bin/python bench/pdf.py \
        [--runs 3] [--report-sizes 60] [--keep DIR] [--profile FILE]

Casebook: the demo patient with the most CRF rows and history rows (synthetic patients excluded), built by
``reports.casebook_pdf`` as the casebook job does, ``--runs`` times in one process (the first run loads fonts and
templates; the table shows the median and the first):
  context   the reads (CRFs, children, history, signatures, audit events, locks) and their formatting;
  html      rendering the Django template;
  layout    WeasyPrint parsing, styling and laying out every page;
  pdf       WeasyPrint writing the PDF;
  total     the sum; pages, PDF size, queries = SQL queries of one build; CPU = process CPU seconds of one build.
Report: ``bench/report.py`` (synthetic study of N patients, one snapshot, one report build) for each size.
Targets (issue 20): casebook PDF of the largest demo patient <= 2 s; study report at 60 patients <= 3 s.
``--profile FILE`` writes a pyinstrument HTML profile of one casebook build to FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def largest_demo_patient():  # type: ignore[no-untyped-def]
    """The non-synthetic patient with the most CRF rows plus history rows."""
    from enrollment.models import Patient
    from sabr_trial.crf import registry

    size: dict[int, int] = {}
    for spec in registry.all():
        for pid in spec.model.objects.exclude(patient__study_number__startswith="BN").values_list(
            "patient_id", flat=True
        ):
            size[pid] = size.get(pid, 0) + 1
        for pid in spec.model.history.exclude(patient__study_number__startswith="BN").values_list(
            "patient_id", flat=True
        ):
            size[pid] = size.get(pid, 0) + 1
    pid = max(size, key=lambda k: (size[k], -k))
    return Patient.objects.get(pk=pid), size[pid]


def measure_casebook(runs: int, keep: str | None, profile: str | None) -> dict[str, object]:
    from _django import bench_user, setup

    setup()
    from django.core.management import call_command
    from django.db import connection
    from django.template.loader import render_to_string
    from django.test.utils import CaptureQueriesContext

    from enrollment.models import Patient
    from reports import casebook_pdf, report

    call_command("migrate", verbosity=0, interactive=False)
    if not Patient.objects.exclude(study_number__startswith="BN").exists():
        call_command("setup_demo", verbosity=0)
    patient, rows = largest_demo_patient()
    user = bench_user("data_manager")
    results = []
    for i in range(runs):
        profiler = None
        if profile and i == runs - 1:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        cpu0 = time.process_time()
        with CaptureQueriesContext(connection) as q:
            t0 = time.perf_counter()
            context = casebook_pdf.casebook_context(patient, user=user)
            t1 = time.perf_counter()
            html = render_to_string(casebook_pdf.TEMPLATE, context)
            t2 = time.perf_counter()
        document = report.layout(html)
        t3 = time.perf_counter()
        pdf = report.write_pdf(document)
        t4 = time.perf_counter()
        cpu = time.process_time() - cpu0
        if profiler is not None:
            profiler.stop()
            Path(profile).write_text(profiler.output_html())  # type: ignore[arg-type]
        results.append(
            {
                "context_s": t1 - t0,
                "html_s": t2 - t1,
                "layout_s": t3 - t2,
                "pdf_s": t4 - t3,
                "total_s": t4 - t0,
                "cpu_s": cpu,
                "pages": len(document.pages),
                "pdf_kb": len(pdf) / 1024,
                "html_kb": len(html) / 1024,
                "queries": len(q.captured_queries),
            }
        )
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / f"casebook-{patient.label}.pdf").write_bytes(pdf)
    median = {k: statistics.median(float(r[k]) for r in results) for k in results[0]}  # type: ignore[arg-type]
    return {
        "patient": patient.label,
        "rows": rows,
        "runs": runs,
        "first": results[0],
        "median": median,
        "vendor": connection.vendor,
    }


def measure_report(n: int, keep: str | None) -> dict[str, object]:
    subprocess.run([sys.executable, str(HERE / "generate.py"), str(n), "--no-migrate"], check=True)
    cmd = [sys.executable, str(HERE / "report.py"), "--measure", str(n)] + (["--keep", keep] if keep else [])
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=os.environ).stdout
    return json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--report-sizes", default="", help="comma-separated study sizes for the report, e.g. 60"
    )
    parser.add_argument("--keep", help="write the PDFs to this folder")
    parser.add_argument("--profile", help="write a pyinstrument HTML profile of the last casebook build")
    parser.add_argument("--casebook", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.casebook:
        print("RESULT " + json.dumps(measure_casebook(args.runs, args.keep, args.profile)))
        return
    cmd = [sys.executable, str(HERE / "pdf.py"), "--casebook", "--runs", str(args.runs)]
    cmd += ["--keep", args.keep] if args.keep else []
    cmd += ["--profile", args.profile] if args.profile else []
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=os.environ).stdout
    casebook = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
    reports = [measure_report(int(n), args.keep) for n in args.report_sizes.split(",") if n.strip()]
    print_table(casebook, reports)


def print_table(casebook: dict, reports: list[dict]) -> None:  # type: ignore[type-arg]
    head = ("PDF", "context", "html", "layout", "pdf", "total", "CPU", "pages", "PDF size", "queries")
    lines = []
    for label, r in ((f"median of {casebook['runs']}", casebook["median"]), ("first run", casebook["first"])):
        lines.append(
            (
                f"casebook {casebook['patient']} ({casebook['rows']} rows), {label}",
                f"{r['context_s']:.2f} s",
                f"{r['html_s']:.2f} s ({r['html_kb']:.0f} KiB)",
                f"{r['layout_s']:.2f} s",
                f"{r['pdf_s']:.2f} s",
                f"{r['total_s']:.2f} s",
                f"{r['cpu_s']:.2f} s",
                f"{r['pages']:.0f}",
                f"{r['pdf_kb']:.0f} KiB",
                f"{r['queries']:.0f}",
            )
        )
    for r in reports:
        lines.append(
            (
                f"study report, {r['n']} patients",
                f"{r['context_s']:.2f} s",
                f"{r['html_s']:.2f} s ({r['html_kb']:.0f} KiB)",
                f"{r['layout_s']:.2f} s",
                f"{r['pdf_s']:.2f} s",
                f"{r['total_s']:.2f} s",
                f"{r['cpu_s']:.2f} s",
                str(r["pages"]),
                f"{r['pdf_kb']:.0f} KiB",
                str(r["queries"]),
            )
        )
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    print(f"\nPDF benchmark ({casebook['vendor']})")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for x in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) + " |")
    ok = float(casebook["median"]["total_s"]) <= 2
    print(f"\n  [{'met' if ok else 'MISSED'}] casebook PDF of the largest demo patient <= 2 s")
    for r in reports:
        if r["n"] == 60:
            print(f"  [{'met' if float(r['total_s']) <= 3 else 'MISSED'}] study report at 60 patients <= 3 s")


if __name__ == "__main__":
    main()
