"""Dump every table of a database in a form that two imports of the same files can be compared byte for byte.

Usage:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sabr_bench_dst python bench/dbdump.py OUT.txt
    diff before.txt after.txt

Every table that has rows (Django's own bookkeeping aside: migrations, sessions, content types and permissions) is
written in id order, one line per row. Ids are replaced by their rank in their table, a link (a foreign key, or a
generic ``content_type`` + ``object_id`` pair) by the rank of the row it names, so a change that consumes sequence
values differently (a bulk insert, a refused savepoint) still compares equal when it wrote the same rows in the same
order. Times written by the run (any timestamp at or after the database's first migration) are masked, and so are
passwords, the snapshot's timings and the outbox's claim and send times; dates and the data's own timestamps stay.
The script also checks that each history table's ``history_date`` and the audit events' ``at`` are in id order (the
events' order), and prints a line per table that is not.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from _django import setup

#: Tables of Django's own bookkeeping (the same after any import).
SKIP = {"django_migrations", "django_session", "django_content_type", "auth_permission"}
#: Columns whose value is run-dependent in full (not only a time).
MASK = {
    "auth_user": {"password"},
    "endpoints_endpointsnapshot": {"timings"},
    "endpoints_job": {"timings"},
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    setup()
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT min(applied) FROM django_migrations")
        since = cur.fetchone()[0]
        tables = sorted(connection.introspection.table_names(cur))
        # content type id -> table
        installed = {(m._meta.app_label, m._meta.model_name): m._meta.db_table for m in apps.get_models()}
        cur.execute("SELECT id, app_label, model FROM django_content_type")
        # a content type of a model no longer installed has no table to point to
        ct_table: dict[int, str] = {
            ct_id: installed[(app_label, model)]
            for ct_id, app_label, model in cur.fetchall()
            if (app_label, model) in installed
        }
        # foreign keys: (table, column) -> referenced table
        cur.execute(
            """
            SELECT cl.relname, att.attname, ref.relname
            FROM pg_constraint con
            JOIN pg_class cl ON cl.oid = con.conrelid
            JOIN pg_class ref ON ref.oid = con.confrelid
            JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
            WHERE con.contype = 'f'
            """
        )
        fks: dict[tuple[str, str], str] = {(t, c): r for t, c, r in cur.fetchall()}
        # the links Django knows without a constraint (simple-history's: db_constraint=False), and a history
        # table's ``id``: the row it is a version of
        for model in apps.get_models():
            table = model._meta.db_table
            for f in model._meta.concrete_fields:
                if f.is_relation and f.related_model is not None:
                    fks.setdefault((table, f.column), f.related_model._meta.db_table)
            instance = getattr(model, "instance_type", None)
            if instance is not None:
                fks[(table, "id")] = instance._meta.db_table
        ranks: dict[str, dict[object, int]] = {}
        data: dict[str, tuple[list[str], list[tuple]]] = {}
        for table in tables:
            if table in SKIP:
                continue
            cur.execute(f'SELECT * FROM "{table}" LIMIT 0')
            cols = [d.name for d in cur.description]
            order = '"id"' if "id" in cols else ", ".join(f'"{c}"' for c in cols)
            if "history_id" in cols:
                order = '"history_id"'
            cur.execute(f'SELECT * FROM "{table}" ORDER BY {order}')
            rows = cur.fetchall()
            if not rows:
                continue
            data[table] = (cols, rows)
            key = "history_id" if "history_id" in cols else ("id" if "id" in cols else None)
            if key is not None:
                i = cols.index(key)
                ranks[table] = {row[i]: n for n, row in enumerate(rows, 1)}

    def rank(table: str | None, value: object) -> str:
        if value is None:
            return "None"
        if table in SKIP:
            return repr(value)  # Django's bookkeeping: the same ids in every database
        if table is None or table not in ranks:
            return f"?{value}"
        return f"#{ranks[table].get(value, f'?{value}')}"

    out: list[str] = []
    disorder: list[str] = []
    for table, (cols, rows) in data.items():
        out.append(f"== {table} ({len(rows)} rows): {', '.join(cols)}")
        masked = MASK.get(table, set())
        time_col = (
            "history_date" if "history_date" in cols else ("at" if table.endswith("auditevent") else None)
        )
        last = None
        for row in rows:
            cells = []
            values = dict(zip(cols, row, strict=True))
            if time_col is not None:
                stamp = values[time_col]
                if last is not None and stamp < last:
                    disorder.append(
                        f"{table}: {time_col} out of id order at {rank(table, values.get('history_id', values.get('id')))}"
                    )
                last = stamp
            for col, value in values.items():
                if col in masked:
                    cells.append("<masked>")
                elif (col == "history_id" or (col == "id" and (table, "id") not in fks)) and table in ranks:
                    cells.append(rank(table, value))
                elif (table, col) in fks:
                    cells.append(rank(fks[(table, col)], value))
                elif col == "object_id" and "content_type_id" in values:
                    cells.append(rank(ct_table.get(values["content_type_id"]), value))
                elif isinstance(value, datetime.datetime) and since is not None and value >= since:
                    cells.append("<time>")
                elif isinstance(value, (dict, list)):
                    cells.append(json.dumps(value, sort_keys=True, default=str))
                else:
                    cells.append(repr(value))
            out.append(" | ".join(cells))
    args.out.write_text("\n".join(out) + "\n")
    print(f"dumped {len(data)} tables, {sum(len(r) for _, r in data.values())} rows to {args.out}")
    for line in disorder[:20]:
        print(f"  {line}")
    sys.exit(0)


if __name__ == "__main__":
    main()
