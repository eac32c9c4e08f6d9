"""SDTM/ADaM conformance check: builds the data export of the study in DATABASE_URL and checks every SDTM and ADaM
file against its metadata table (``reports/exports/metadata.py``; the rules are ``reports/exports/conformance.py``).

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_check .venv/bin/python bench/sdtm_check.py \
        [--demo] [--generated N] [--synthetic N] [--cutoff YYYY-MM-DD] [--show 50]

``--demo`` first loads the hand-made demo study (``manage.py setup_demo --generated 0``); ``--generated N`` first
imports N generated casebooks (``reports/generated_study.py`` through ``import_study``: complete casebooks,
every form rule applied); ``--synthetic N`` first bulk-inserts N synthetic patients (``bench/synthetic.py``,
replacing earlier synthetic ones; consent and baseline forms, no screening form). The endpoint snapshot at the cut-off
(default today) is computed, the export's files are built in memory, and every finding is printed as
``DATASET.VARIABLE row N: [RULE] message``, then a count per rule. Exit status 1 when there is a finding.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import io
import os
import sys
import time

from _django import bench_user, setup


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--generated", type=int, default=0)
    parser.add_argument("--synthetic", type=int, default=0)
    parser.add_argument("--cutoff", type=datetime.date.fromisoformat)
    parser.add_argument("--show", type=int, default=50)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the in-process edit-check tasks of --demo log every run
    setup()
    from django.core.management import call_command
    from django.utils import timezone

    from endpoints.services import run_recompute
    from reports.exports import build_files
    from reports.exports.conformance import check_files

    call_command("migrate", verbosity=0, interactive=False)
    if args.demo:
        call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
    if args.generated:
        import tempfile

        from django.contrib.auth import get_user_model

        from reports.generated_study import generate as generate_study
        from reports.importer import import_study

        call_command("setup_demo", "--no-data", stdout=io.StringIO())
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            generate_study(args.generated, today=timezone.localdate()).write(folder)
            result = import_study(
                folder, user=get_user_model().objects.get(username="coordinator"), recompute=False
            )
        print(
            f"imported {args.generated} generated patients in {time.perf_counter() - started:.0f} s: "
            f"committed={result.committed}, {len(result.problems)} problem(s)"
        )
        for problem in result.problems[:20]:
            print(f"  {problem}")
    if args.synthetic:
        from synthetic import delete_synthetic, generate

        delete_synthetic()
        generate(args.synthetic, user=bench_user("coordinator"))
    cutoff = args.cutoff or timezone.localdate()
    started = time.perf_counter()
    snap = run_recompute(trigger="sdtm_check", cutoff=cutoff)
    files = build_files(snap)
    built = time.perf_counter() - started
    findings = check_files(files)
    csvs = [n for n in files if n.startswith(("sdtm/", "adam/")) and n.endswith(".csv") and "/_" not in n]
    datasets, records = len(csvs), sum(files[n].count(b"\n") - 1 for n in csvs)
    for f in findings[: args.show]:
        print(f)
    if len(findings) > args.show:
        print(f"... and {len(findings) - args.show} more")
    by_rule = collections.Counter(f.rule for f in findings)
    print(
        f"{datasets} data sets, {records} records, export built in {built:.1f} s: "
        f"{len(findings)} findings" + (f" ({dict(by_rule)})" if by_rule else "")
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
