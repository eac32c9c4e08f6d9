"""Template helpers of the data-management features (status and query badges, the casebook's row links)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from sabr_trial.crf import CrfStatus

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


#: The badge colour of each lifecycle status (DESIGN.md's lifecycle).
_STATUS_CLASS = {
    "draft": "text-bg-secondary",
    "submitted": "text-bg-primary",
    "verified": "text-bg-info",
    "signed": "text-bg-success",
    "locked": "text-bg-dark",
}


@register.simple_tag
def status_badge(status: str, label: Any) -> SafeString:
    """A CRF row's lifecycle status as a coloured badge (``data-status`` carries the code)."""
    return format_html(
        '<span class="badge status-badge {}" data-status="{}">{}</span>',
        _STATUS_CLASS.get(str(status), ""),
        status,
        label,
    )


@register.simple_tag
def casebook_row_links(patient: Any, spec: Any, rows: list[Any]) -> SafeString:
    """The casebook's links to one form's rows: each row's title, status, missing-data codes and open queries.

    Written in Python, not as a template loop: for the largest casebooks (nearly 200 rows) the loop was the larger
    part of rendering the casebook (issue 20)."""
    if not rows:
        return format_html('<span class="text-muted">{}</span>', _("none"))
    url = spec.model.detail_urls(patient.pk)
    missing_title, queries_title = _("Missing-data codes"), _("open queries")
    # get_status_display() hashed and translated every choice for every row: half of this function's time
    status_labels = {value: str(label) for value, label in CrfStatus.choices}
    links = []
    for row in rows:
        coded = row.missing_in_words()
        queries = open_query_count(row)
        links.append(
            format_html(
                '<a class="me-2 text-decoration-none" href="{}">{}\n{}{}{}</a>',
                url(row.pk),
                row,
                status_badge(row.status, status_labels.get(row.status, row.status)),
                format_html(
                    '<span class="badge text-bg-light border" data-testid="row-missing" title="{}">{}</span>',
                    missing_title,
                    coded,
                )
                if coded
                else "",
                format_html(
                    '<span class="badge text-bg-warning" data-testid="row-queries" title="{}">{} Q</span>',
                    queries_title,
                    queries,
                )
                if queries
                else "",
            )
        )
    return mark_safe("\n".join(links))
