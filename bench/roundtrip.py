"""Export -> import into an empty database -> export is byte-identical (issue 17), for N generated casebooks.

Usage:

    python bench/roundtrip.py N [--work /tmp/roundtrip] [--src-db URL] [--dst-db URL]

Steps, each in its own process because each uses its own database: the N generated casebooks
(``reports.generated_study``, as ``bench/import.py export N``) are imported into the empty database ``--src-db``
and exported (files A); A is imported into the empty database ``--dst-db`` and exported again (files B). Every
``crf/`` file of A and B must be byte-identical; the script prints the files compared, the rows imported each time,
the seconds and the first differing line of any file that differs, and exits 1 if one does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(args: list[str], database_url: str) -> None:
    env = dict(os.environ, DATABASE_URL=database_url)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    tail = [line for line in done.stdout.splitlines() if line.strip()][-3:]
    print(f"  {' '.join(args[:2])}: {time.perf_counter() - started:.0f} s; " + " | ".join(tail))
    if done.returncode != 0:
        print(done.stderr[-3000:])
        sys.exit(done.returncode)


def _export(out: Path) -> None:
    """In this process (DATABASE_URL set by the caller): write the database's per-CRF export to ``out``."""
    sys.path.insert(0, str(HERE))
    from _django import setup

    setup()
    from reports import exports

    for name, data in exports.crf_files().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"exported {len(list((out / 'crf').glob('*.csv')))} files to {out}")


def _compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in (a / "crf").glob("*.csv")} | {p.name for p in (b / "crf").glob("*.csv")})
    differing = 0
    for name in names:
        left, right = a / "crf" / name, b / "crf" / name
        if not (left.exists() and right.exists()):
            print(f"  {name}: only in {'A' if left.exists() else 'B'}")
            differing += 1
            continue
        if left.read_bytes() != right.read_bytes():
            differing += 1
            la, lb = left.read_text().splitlines(), right.read_text().splitlines()
            line = next(
                (i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb))
            )
            print(
                f"  {name}: differs at line {line + 1}:\n    A {la[line : line + 1]}\n    B {lb[line : line + 1]}"
            )
    rows = sum(
        max(0, len((a / "crf" / n).read_text().splitlines()) - 1) for n in names if (a / "crf" / n).exists()
    )
    print(f"compared {len(names)} files ({rows} rows in A): {differing} differ")
    return differing


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("n", help="number of generated patients")
    parser.add_argument("--work", type=Path, default=Path("/tmp/roundtrip"))
    parser.add_argument("--src-db", default="postgres://postgres@127.0.0.1:5432/sabr_roundtrip_src")
    parser.add_argument("--dst-db", default="postgres://postgres@127.0.0.1:5432/sabr_roundtrip_dst")
    parser.add_argument("--step", choices=["export"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "export":
        _export(args.out)
        return
    generated, a, b = args.work / "generated", args.work / "A", args.work / "B"
    for folder in (generated, a, b):
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    print(f"round trip of {args.n} generated patients in {args.work}")
    _run([str(HERE / "import.py"), "export", args.n, str(generated)], args.src_db)
    for source, out, db in ((generated, a, args.src_db), (a, b, args.dst_db)):
        _run([str(HERE / "import.py"), "import", str(source)], db)  # re-creates the database, imports
        _run([__file__, args.n, "--step", "export", "--out", str(out)], db)
    sys.exit(1 if _compare(a, b) else 0)


if __name__ == "__main__":
    main()
