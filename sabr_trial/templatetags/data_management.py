"""Template helpers of the data-management features (query badges on the casebook)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def open_query_count(row: Any) -> int:
    """Open or answered queries on one CRF row (counted with the rows by ``crfs_of_patient`` where it listed them)."""
    counted = getattr(row, "open_query_count", None)
    if counted is not None:
        return int(counted)
    from sabr_trial.models import Query
    from sabr_trial.queries import queries_for_row

    return queries_for_row(row).exclude(query_status=Query.Status.CLOSED).count()
