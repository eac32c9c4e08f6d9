"""Migration 0004 moves every stored listing page's rows into shared content, and back, losing nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("endpoints", "0003_snapshot_summary_and_listing_pages")
AFTER = ("endpoints", "0004_shared_listing_content")


def _migrate(target: tuple[str, str]):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def test_listing_rows_survive_the_move_to_shared_content_and_back():
    try:
        old = _migrate(BEFORE)
        snapshot_model = old.get_model("endpoints", "EndpointSnapshot")
        page_model = old.get_model("endpoints", "EndpointListingPage")
        pages = {
            1: [{"patient_id": 1, "study_number": "SR-001", "bor": "PR"}],
            2: [{"patient_id": 2, "study_number": "SR-002", "bor": None, "reason": "censored: 无 — ü"}],
        }
        for _ in range(2):  # two snapshots with the same page 1: stored once afterwards
            snap = snapshot_model.objects.create(
                data_cutoff=timezone.localdate(), status="ok", data_as_of=timezone.now(), n_patients=2
            )
            for number, rows in pages.items():
                page_model.objects.create(snapshot=snap, number=number, rows=rows)

        new = _migrate(AFTER)
        page_model = new.get_model("endpoints", "EndpointListingPage")
        content_model = new.get_model("endpoints", "EndpointListingContent")
        moved = {
            (p.snapshot_id, p.number): p.content.rows for p in page_model.objects.select_related("content")
        }
        assert len(moved) == 4 and all(rows == pages[number] for (_, number), rows in moved.items())
        assert content_model.objects.count() == 2  # the same rows are one content row

        back = _migrate(BEFORE)
        page_model = back.get_model("endpoints", "EndpointListingPage")
        assert sorted((p.number, p.rows == pages[p.number]) for p in page_model.objects.all()) == [
            (1, True), (1, True), (2, True), (2, True)
        ]  # fmt: skip
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
