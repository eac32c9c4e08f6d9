"""Build a synthetic study of N patients with bulk inserts (bypassing the CRF services; see bench/synthetic.py).

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_bench python bench/generate.py 1000 [--seed 7]
Earlier synthetic patients (study numbers BN00001...) are deleted first; other data are left alone.
"""

from __future__ import annotations

import argparse
import time

from _django import bench_user, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args()
    setup()
    from django.core.management import call_command
    from synthetic import delete_synthetic, generate

    if not args.no_migrate:
        call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    delete_synthetic()
    counts = generate(args.n, user=bench_user("coordinator"), seed=args.seed)
    rows = sum(counts.values())
    print(
        f"generated {args.n} patients, {rows} rows in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )


if __name__ == "__main__":
    main()
