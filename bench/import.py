"""Measure ``import_study``: export a study, import it into an empty PostgreSQL database, print the numbers.

Usage (each step is its own process, because each uses its own database):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_bench_src python bench/import.py export demo /tmp/study
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_bench_src python bench/import.py export 60 /tmp/study
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_bench_dst python bench/import.py import /tmp/study [--dry-run]

``export demo`` re-creates the source database, loads the hand-made demo study of ``setup_demo`` and writes its
per-CRF CSVs; ``export N`` writes the CSVs of N generated casebooks (``reports.generated_study``, seed 2026, dated
up to today: screening to two years of follow-up) without a database. ``import`` re-creates the target database (migrations only:
roles and the CTCAE dictionary), imports the folder as the demo coordinator and prints CRF rows, wall seconds,
rows per second, CPU seconds (user + system of this process; PostgreSQL's own CPU is not included), the SQL
statements the import sent (``connection.execute_wrapper``; those of the in-process edit checks and recompute
included) and peak RSS.
``import --profile FILE`` writes a pyinstrument text profile of the import (not of the set-up) to FILE.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from _django import setup


def _recreate_database() -> None:
    """Drop and create the database of DATABASE_URL (it must be a benchmark database)."""
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    if "bench" not in name and not name.endswith(("_src", "_dst")):
        sys.exit(
            f"refusing to re-create {name!r}: the benchmark uses databases whose name contains 'bench' "
            "or ends in _src or _dst"
        )
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _rows(folder: Path) -> int:
    total = 0
    for path in (folder / "crf").glob("*.csv"):
        if path.name in ("_dictionary.csv",):
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            total += sum(1 for _ in csv.DictReader(fh))
    return total


def export(study: str, out: Path) -> None:
    if study != "demo":
        setup()
        from django.utils import timezone

        from reports.generated_study import generate

        generate(int(study), today=timezone.localdate()).write(out)
        print(f"generated {study} patients: {_rows(out)} CRF rows to {out}")
        return
    _recreate_database()
    setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("setup_demo", "--generated", "0", verbosity=0)
    from reports import exports

    for name, data in exports.crf_files().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"exported {study}: {_rows(out)} CRF rows to {out}")


def run_import(folder: Path, *, dry_run: bool, profile: Path | None = None) -> None:
    _recreate_database()
    setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from reports.importer import import_study

    call_command("migrate", verbosity=0, interactive=False)
    call_command("setup_demo", "--no-data", verbosity=0)
    user = get_user_model().objects.get(username="coordinator")
    rows = _rows(folder)
    kwargs = {"dry_run": True} if dry_run else {}
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with connection.execute_wrapper(count):
        if profile is None:
            result = import_study(folder, user=user, **kwargs)
        else:
            from pyinstrument import Profiler

            with Profiler(interval=0.002) as profiler:
                result = import_study(folder, user=user, **kwargs)
            profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    rss = cpu1.ru_maxrss / 1024
    print(
        f"{'dry-run ' if dry_run else ''}import: {rows} rows, {wall:.1f} s, {rows / wall:.1f} rows/s, "
        f"CPU {cpu:.1f} s ({rows / cpu:.1f} rows/CPU-s), {statements} statements, peak RSS {rss:.0f} MiB, "
        f"committed={result.committed}, refused rows={len(result.problems)}"
    )
    for problem in result.problems[:20]:
        print(f"  {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    exp = sub.add_parser("export")
    exp.add_argument("study", help="'demo' or a number of generated patients")
    exp.add_argument("out", type=Path)
    imp = sub.add_parser("import")
    imp.add_argument("folder", type=Path)
    imp.add_argument("--dry-run", action="store_true")
    imp.add_argument(
        "--profile", type=Path, help="write a pyinstrument text profile of the import to this file"
    )
    args = parser.parse_args()
    if args.step == "export":
        export(args.study, args.out)
    else:
        run_import(args.folder, dry_run=args.dry_run, profile=args.profile)


if __name__ == "__main__":
    main()
