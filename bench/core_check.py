"""Run CDISC CORE (``cdisc-rules-engine``) over the SDTM XPT files and define.xml of the data export, offline.

Nothing of CORE is in this repository (engine, rules, terminology; all MIT-licensed, but not needed here). It runs
from a copy of https://github.com/cdisc-org/cdisc-rules-engine (``core.py``, ``scripts/``, ``cdisc_rules_engine/``
and ``resources/cache``, whose ``rules.pkl`` holds the published CORE rules) in its own Python 3.12 environment:

    python3.12 -m venv /tmp/corevenv && /tmp/corevenv/bin/pip install cdisc-rules-engine
    git clone https://github.com/cdisc-org/cdisc-rules-engine /tmp/core-src

Offline mode (``--offline``, the default): the SDTMIG 3.4 standard metadata (``standards_details.pkl``,
``standards_models.pkl``, ``variables_metadata.pkl``) and the controlled terminology come from the CDISC Library
(``core.py update-cache`` needs an API key); without them ``core.py validate -s sdtmig -v 3-4`` refuses to start.
This script then builds a cache folder (``--cache``) of links to the repository's cache plus a *custom standard*
``sdtmig-offline/3-4`` listing exactly the cached SDTMIG 3.4 rule ids, and validates against it with ``-cs``: every
SDTMIG 3.4 rule is attempted; the rules that need the library metadata report EXECUTION ERROR, and the rules
scoped by observation class skip the data sets whose class only the library knows (DM, SE, SV, trial design).
With the library metadata in the repository's cache, ``--no-offline`` runs the standard ``-s sdtmig -v 3-4``.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_check .venv/bin/python bench/core_check.py \
        --core-python /tmp/corevenv/bin/python --core-src /tmp/core-src [--demo] [--out /tmp/core-out]

``--demo`` first loads the demo study (``setup_demo --generated 0``). The export of the database in DATABASE_URL is
built, its ``sdtm/*.xpt`` and ``sdtm/define.xml`` written to ``--out``, and CORE's JSON report written to
``--out/core-report.json``. Printed: rules per status, issues per rule (with the first message), execution errors.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _django import setup

OFFLINE_STANDARD = "sdtmig-offline"


def export_xpt(out: Path, demo: bool) -> list[str]:
    """Write the SDTM XPT files and define.xml of the export to ``out``; return the data set names."""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    setup()
    from django.core.management import call_command
    from django.utils import timezone

    from endpoints.services import run_recompute
    from reports.exports import build_files

    call_command("migrate", verbosity=0, interactive=False)
    if demo:
        call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
    files = build_files(run_recompute(trigger="core_check", cutoff=timezone.localdate()))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.xpt"):
        old.unlink()
    names = []
    for name, data in files.items():
        if name.startswith("sdtm/") and (name.endswith(".xpt") or name == "sdtm/define.xml"):
            (out / name.removeprefix("sdtm/")).write_bytes(data)
            if name.endswith(".xpt"):
                names.append(name.removeprefix("sdtm/").removesuffix(".xpt").upper())
    return sorted(names)


def offline_cache(source: Path, cache: Path) -> int:
    """Links to the repository's cache files, empty library metadata where it is absent, and the custom standard
    listing the cached SDTMIG 3.4 rules; returns how many rules it lists."""
    cache.mkdir(parents=True, exist_ok=True)
    for f in source.glob("*.pkl"):
        link = cache / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
    for name in ("standards_details", "standards_models", "variables_metadata"):
        if not (cache / f"{name}.pkl").exists():
            (cache / f"{name}.pkl").write_bytes(pickle.dumps({}))
    with (source / "rules_dictionary.pkl").open("rb") as f:
        rule_ids = pickle.load(f)["sdtmig/3-4"]  # CDISC's own cache file
    (cache / "custom_rules.pkl").write_bytes(pickle.dumps({}))
    (cache / "custom_rules_dictionary.pkl").write_bytes(pickle.dumps({f"{OFFLINE_STANDARD}/3-4": rule_ids}))
    return len(rule_ids)


def summarise(report: dict[str, Any]) -> str:
    lines = []
    rules = report.get("Rules_Report", [])
    statuses = collections.Counter(r.get("status", "?") for r in rules)
    lines.append(
        f"rules: {sum(statuses.values())} ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})"
    )
    issues: collections.Counter[str] = collections.Counter()
    errors: dict[str, str] = {}
    messages: dict[str, str] = {}
    for row in report.get("Issue_Details", []):
        rule = row.get("core_id", "?")
        if str(row.get("message", "")).startswith("rule evaluation error"):
            errors.setdefault(rule, str(row.get("values", ""))[-120:])
            continue
        issues[rule] += 1
        messages.setdefault(rule, f"{row.get('dataset', '')}: {row.get('message', '')}")
    lines.append(f"issues: {sum(issues.values())} in {len(issues)} rules")
    for rule, n in issues.most_common():
        lines.append(f"  {rule}: {n}  ({messages[rule][:150]})")
    lines.append(f"rules with an execution error: {len(errors)}")
    for rule, error in sorted(errors.items()):
        lines.append(f"  {rule}: {error}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--core-python", type=Path, required=True)
    parser.add_argument("--core-src", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("/tmp/core-out"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/core-cache"))
    parser.add_argument("--offline", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--skip-export", action="store_true", help="reuse the files already in --out")
    args = parser.parse_args()
    out = args.out.resolve()
    if not args.skip_export:
        names = export_xpt(out, args.demo)
        print(f"wrote {len(names)} XPT files and define.xml to {out}: {' '.join(names)}")
    command = [
        str(args.core_python),
        "core.py",
        "validate",
        "-v",
        "3-4",
        "-d",
        str(out),
        "-ft",
        "xpt",
        "-dxp",
        str(out / "define.xml"),
        "-of",
        "JSON",
        "-o",
        str(out / "core-report"),
        "-p",
        "disabled",
        "-l",
        "error",
    ]
    if args.offline:
        n = offline_cache(args.core_src / "resources" / "cache", args.cache.resolve())
        print(
            f"offline cache {args.cache}: custom standard {OFFLINE_STANDARD}/3-4 with the {n} SDTMIG 3.4 rules"
        )
        command += ["-s", OFFLINE_STANDARD, "-cs", "-ca", str(args.cache.resolve())]
    else:
        command += ["-s", "sdtmig"]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=args.core_src, capture_output=True, text=True)
    print(f"core.py validate: exit {run.returncode} in {time.perf_counter() - started:.0f} s")
    report_path = out / "core-report.json"
    if run.returncode or not report_path.exists():
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
    if not report_path.exists():
        return 2
    print(summarise(json.loads(report_path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
