"""Count the operations of the live OpenAPI schema by resource (the README's API table comes from this)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")

#: (resource, test on the path after /api/v1/) in order: the first match names the resource.
RESOURCES: list[tuple[str, Any]] = [
    ("SAE reports", lambda p: "/sae-reports/" in p or p == "saes/"),
    (
        "CRFs (per form: list, create, read, update, lifecycle step)",
        lambda p: p.startswith("patients/{patient_pk}/crfs/"),
    ),
    ("Patients (list/search, screen, read, register, responses)", lambda p: p.startswith("patients/")),
    (
        "CRF catalogue, rows across patients, eligibility criteria",
        lambda p: p.startswith(("crfs/", "eligibility")),
    ),
    ("Queries", lambda p: p.startswith("queries/")),
    ("Report and export jobs", lambda p: p.startswith("jobs/")),
    ("CTCAE terms", lambda p: p.startswith("ctcae-terms/")),
    ("Endpoint results", lambda p: p.startswith("endpoints/")),
    ("Personal tokens", lambda p: p.startswith("tokens/")),
    ("API root", lambda p: p == ""),
]


def operation_counts() -> tuple[Counter[str], int]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    counts: Counter[str] = Counter()
    for path, item in schema["paths"].items():
        short = path.removeprefix("/api/v1/")
        name = next((n for n, test in RESOURCES if test(short)), "Other")
        counts[name] += sum(1 for method in item if method in METHODS)
    return counts, sum(counts.values())


class Command(BaseCommand):
    help = "Print the operations of the OpenAPI schema by resource (a Markdown table) and the total."

    def handle(self, *args: Any, **options: Any) -> None:
        counts, total = operation_counts()
        self.stdout.write("| resource | operations |\n|---|---|")
        for name, _test in [*RESOURCES, ("Other", None)]:
            if counts[name]:
                self.stdout.write(f"| {name} | {counts[name]} |")
        self.stdout.write(f"| **total** | **{total}** |")
