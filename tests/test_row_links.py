"""The casebook's row links (issue 20): a form's row URLs reversed once per patient equal each row's own URL."""

from __future__ import annotations

from django.urls import clear_script_prefix, set_script_prefix

from sabr_trial.crf import registry
from sabr_trial.templatetags.data_management import status_badge


def test_every_forms_row_urls_equal_the_rows_own_urls():
    for spec in registry.all():
        urls = spec.model.detail_urls(7)
        for pk in (1, 42, 987_654_321):
            assert urls(pk) == spec.model(pk=pk, patient_id=7).get_absolute_url(), spec.slug


def test_row_urls_follow_the_script_prefix():
    """Served under a path prefix (a reverse proxy's SCRIPT_NAME), the links carry it as reverse() does."""
    set_script_prefix("/edc/")
    try:
        for spec in registry.all():
            row = spec.model(pk=3, patient_id=11)
            assert spec.model.detail_urls(11)(3) == row.get_absolute_url()
            assert row.get_absolute_url().startswith("/edc/")
    finally:
        clear_script_prefix()


def test_the_status_badge_names_its_status_and_escapes_its_label():
    assert status_badge("signed", "Signed") == (
        '<span class="badge status-badge text-bg-success" data-status="signed">Signed</span>'
    )
    assert "&lt;b&gt;" in status_badge("draft", "<b>")
