"""Texts the system writes itself read in the reader's language, whoever's language they were saved in (issue 18):
the CRF history's reasons ("Created", "Recomputed after ... changed") and a tumour assessment's time point label,
which are stored in English (the label is SDTM's VISIT)."""

from __future__ import annotations

import datetime

import pytest
from django.template import Context, Template
from django.utils import translation

from assessments.models import TumourAssessment
from assessments.services import _visit_label
from sabr_trial import pipeline, services
from sabr_trial.templatetags.ruletext import change_reason
from treatment.models import SabrFraction

pytestmark = pytest.mark.django_db


def test_system_reasons_are_stored_in_english_and_shown_in_the_readers_language():
    with (
        translation.override("zh-hans"),
        pipeline.caused_by(pipeline.Cause(user=None, title="x", model=SabrFraction, pk=1, version=1)),
    ):
        stored = services._recompute_reason()
    assert stored == "Recomputed after SABR fraction v1 changed"
    with translation.override("zh-hans"):
        shown = change_reason(stored)
        assert shown.endswith("版本 1 修改后重新计算") and "SABR" in shown  # the form title in Chinese too
        assert change_reason("Created") == translation.gettext("Created") != "Created"
        assert change_reason("wrong dose typed") == "wrong dose typed"  # a person's reason, as typed
        tpl = Template("{{ r|change_reason }}")
        assert tpl.render(Context({"r": stored})) == shown
    with translation.override("en"):
        assert change_reason(stored) == stored


def test_the_time_point_label_is_stored_in_english_and_shown_translated():
    day0 = datetime.date(2026, 1, 5)
    with translation.override("zh-hans"):
        label = _visit_label(day0 + datetime.timedelta(days=168), day0)
        assert label == "Week 24"  # SDTM VISIT
        shown = TumourAssessment(visit_label=label).visit_label_text
        assert "24" in shown and "Week" not in shown
    with translation.override("en"):
        assert TumourAssessment(visit_label=label).visit_label_text == "Week 24"
    assert TumourAssessment(visit_label="").visit_label_text == ""


def test_the_study_title_follows_the_readers_language(settings):
    from sabr_trial.context_processors import study_title

    with translation.override("zh-hans"):
        assert study_title() == settings.STUDY_TITLE_ZH_HANS and "肾细胞癌" in study_title()
    with translation.override("en"):
        assert study_title() == settings.STUDY_TITLE
    settings.STUDY_TITLE_ZH_HANS = ""  # a site without a Chinese title shows the registered one
    with translation.override("zh-hans"):
        assert study_title() == settings.STUDY_TITLE
