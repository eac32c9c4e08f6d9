"""A stale save of the tumour assessment grid is merged, never overwritten (issue 15 item 5, WRITE-PIPELINE.md stage 5).

Two people open the same time point at version v. The second to save gets the other person's cells (header fields,
lesion results by lesion, new lesions by code) where only they changed them, keeps their own where only they changed
them, and must choose where both changed one cell differently; nothing is saved until then. The derived results are
recomputed from the merged grid, and every change keeps its history row with its user and reason.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from assessments.models import Lesion, LesionResult, NewLesion, TumourAssessment
from sabr_trial.models import AuditEvent
from tests.factories import RegisteredPatientFactory, UserFactory
from tests.factories_api import Api, crf_path, token_for
from tests.factories_assessments import assessment_post, baseline_lesions, create_url, update_url
from tests.test_write_path import _walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def other():
    return UserFactory(username="coord2", role="coordinator")


@pytest.fixture
def opened(as_coordinator):
    """A submitted week-8 time point, L1 35 and L2 25 mm (baseline SOD 100 mm): version 1, as both tabs open it."""
    patient = baseline_lesions(RegisteredPatientFactory())
    response = as_coordinator.post(
        create_url(patient), assessment_post(patient, {"L1": 35, "L2": 25}, day=56)
    )
    assert response.status_code == 302
    return TumourAssessment.objects.get()


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _edit(a, values, *, version, reason, new=None, **changes):
    return assessment_post(
        a.patient,
        values,
        day=56,
        new=new,
        expected_version=version,
        change_reason=reason,
        action="save",
        **changes,
    )


def _pk(code):
    return Lesion.objects.get(lesion_code=code).pk


def _mm(code):
    return LesionResult.objects.get(lesion__lesion_code=code).value_mm


def test_other_lesion_and_header_changed_meanwhile_are_kept(opened, as_coordinator, other, coordinator):
    """Tab B changes L2 and the investigator's response; tab A, opened before, changes L1: all three survive."""
    a = opened
    response = _as(other).post(
        update_url(a),
        _edit(a, {"L1": 35, "L2": 20}, version=1, reason="B: report", investigator_response="PR"),
    )
    assert response.status_code == 302
    response = as_coordinator.post(
        update_url(a), _edit(a, {"L1": 30, "L2": 25}, version=1, reason="A: re-read")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    a.refresh_from_db()
    assert (_mm("L1"), _mm("L2"), a.investigator_response) == (Decimal(30), Decimal(20), "PR")
    # The derived results are those of the merged grid: 30 + 20 = 50 mm, -50 % from 100 mm: PR.
    assert (a.sum_mm, a.pct_chg_baseline, a.overall_resp) == (Decimal("50.0"), Decimal("-50.00"), "PR")
    assert a.version == 3
    # Each change kept its history row with its user and reason; the stale attempt is audited.
    entered = LesionResult.history.exclude(history_change_reason__startswith="Recomputed").order_by(
        "history_date"
    )
    assert [(h.lesion.lesion_code, h.value_mm, h.history_user, h.history_change_reason) for h in entered][
        -2:
    ] == [("L2", Decimal(20), other, "B: report"), ("L1", Decimal(30), coordinator, "A: re-read")]
    assert [(h.version, h.history_change_reason) for h in a.history.order_by("version")][1:] == [
        (2, "B: report"),
        (3, "A: re-read"),
    ]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.STALE_REFUSED, object_id=a.pk).count() == 1
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("kept their value of" in m and "L2" in m and "Investigator" in m for m in messages)
    # The history tables hold every version of the time point and the newest state of every row.
    assert _walk(TumourAssessment) + _walk(LesionResult) + _walk(NewLesion) == []


def test_same_cell_changed_by_both_needs_a_choice(opened, as_coordinator, other):
    a = opened
    _as(other).post(
        update_url(a), _edit(a, {"L1": 20, "L2": 25}, version=1, reason="B", investigator_response="PR")
    )
    stale = _edit(a, {"L1": 30, "L2": 22}, version=1, reason="A")
    response = as_coordinator.post(update_url(a), stale)
    assert response.status_code == 409
    page = response.content.decode()
    cell = f"l{_pk('L1')}-value_mm"
    assert 'data-testid="merge-conflicts"' in page and f'name="resolve__{cell}"' in page
    assert 'data-conflict="value_mm"' in page  # the cell is marked in the grid
    assert "This field is required" not in page  # the empty new-lesion row stays empty, not refused
    conflict = response.context["merge"]["conflicts"][0]
    assert (conflict.name, conflict.base, conflict.theirs, conflict.mine) == (cell, "35.0", "20.0", "30")
    # Nothing saved; the grid now shows the new version and keeps the merge base.
    assert (_mm("L1"), _mm("L2")) == (Decimal(20), Decimal(25))
    assert 'name="merge_base" value="1"' in page
    # A cell only the other person changed shows their value (a select too); this user's own cells stay.
    assert response.context["form"]["investigator_response"].value() == "PR"
    assert response.context["grid"][1][0]["value_mm"].value() == "22"
    answer = {**stale, "expected_version": 2, "merge_base": 1}
    assert as_coordinator.post(update_url(a), answer).status_code == 409  # no choice yet: still nothing saved
    assert (_mm("L1"), _mm("L2")) == (Decimal(20), Decimal(25))
    response = as_coordinator.post(update_url(a), {**answer, f"resolve__{cell}": "theirs"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert (_mm("L1"), _mm("L2"), a.sum_mm, a.version) == (Decimal(20), Decimal(22), Decimal("42.0"), 3)
    assert a.investigator_response == "PR"


def test_choosing_mine_saves_mine(opened, as_coordinator, other):
    a = opened
    _as(other).post(update_url(a), _edit(a, {"L1": 20, "L2": 25}, version=1, reason="B"))
    cell = f"l{_pk('L1')}-value_mm"
    answer = _edit(
        a, {"L1": 30, "L2": 25}, version=2, reason="A", merge_base=1, **{f"resolve__{cell}": "mine"}
    )
    assert as_coordinator.post(update_url(a), answer).status_code == 302
    a.refresh_from_db()
    assert (_mm("L1"), a.sum_mm, a.overall_resp) == (Decimal(30), Decimal("55.0"), "PR")


def test_new_lesion_added_meanwhile_is_kept(opened, as_coordinator, other):
    """B records a new lesion; A, from the version before, corrects L1: the new lesion stays and decides PD."""
    a = opened
    new = [{"organ": "LUNG", "location_text": "left upper lobe"}]
    _as(other).post(update_url(a), _edit(a, {"L1": 35, "L2": 25}, version=1, reason="B", new=new))
    assert NewLesion.objects.count() == 1
    assert (
        as_coordinator.post(update_url(a), _edit(a, {"L1": 34, "L2": 25}, version=1, reason="A")).status_code
        == 302
    )
    a.refresh_from_db()
    assert list(NewLesion.objects.values_list("code", "location_text")) == [("N1", "left upper lobe")]
    assert (_mm("L1"), a.new_lesion_ind, a.overall_resp) == (Decimal(34), "Y", "PD")


def test_new_lesion_cell_changed_by_both_needs_a_choice(opened, as_coordinator, other):
    a = opened
    first = [{"code": "N1", "organ": "LUNG", "location_text": "left upper lobe"}]
    as_coordinator.post(update_url(a), _edit(a, {"L1": 35, "L2": 25}, version=1, reason="new", new=first))
    _as(other).post(
        update_url(a),
        _edit(a, {"L1": 35, "L2": 25}, version=2, reason="B", new=[{**first[0], "location_text": "lingula"}]),
    )
    stale = _edit(a, {"L1": 35, "L2": 25}, version=2, reason="A", new=[{**first[0], "location_text": "apex"}])
    response = as_coordinator.post(update_url(a), stale)
    assert response.status_code == 409
    names = [c.name for c in response.context["merge"]["conflicts"]]
    assert names == ["new:N1:location_text"]
    assert NewLesion.objects.get().location_text == "lingula"
    answer = {**stale, "expected_version": 3, "merge_base": 2, "resolve__new:N1:location_text": "mine"}
    assert as_coordinator.post(update_url(a), answer).status_code == 302
    assert NewLesion.objects.get().location_text == "apex"


def test_untouched_new_lesion_row_is_kept_on_a_correction(opened, as_coordinator):
    """The page posts a saved new lesion back with its row id: an untouched row is kept, not removed."""
    a = opened
    first = [{"code": "N1", "organ": "LUNG", "location_text": "left upper lobe"}]
    as_coordinator.post(update_url(a), _edit(a, {"L1": 35, "L2": 25}, version=1, reason="new", new=first))
    page = as_coordinator.get(update_url(a))
    formset = page.context["formset"]
    post = _edit(a, {"L1": 33, "L2": 25}, version=2, reason="L1 re-read")
    for key in [k for k in post if k.startswith("new-")]:
        del post[key]
    post.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            post[form.add_prefix(name)] = "" if value is None or name == "DELETE" else str(value)
    assert as_coordinator.post(update_url(a), post).status_code == 302
    assert _mm("L1") == Decimal(33)
    assert list(NewLesion.objects.values_list("code", flat=True)) == ["N1"]


def test_new_lesion_removed_by_one_and_changed_by_the_other_is_a_conflict_of_the_row(
    opened, as_coordinator, other
):
    a = opened
    first = [{"code": "N1", "organ": "LUNG", "location_text": "left upper lobe", "unequivocal": "N"}]
    as_coordinator.post(update_url(a), _edit(a, {"L1": 35, "L2": 25}, version=1, reason="new", new=first))
    _as(other).post(
        update_url(a), _edit(a, {"L1": 35, "L2": 25}, version=2, reason="B: not a lesion", new=[])
    )
    assert not NewLesion.objects.exists()
    stale = _edit(
        a, {"L1": 35, "L2": 25}, version=2, reason="A", new=[{**first[0], "location_text": "lingula"}]
    )
    response = as_coordinator.post(update_url(a), stale)
    assert response.status_code == 409
    conflict = response.context["merge"]["conflicts"][0]
    assert (conflict.name, conflict.theirs) == ("new:N1", "(removed)")
    assert "lingula" in conflict.mine and "left upper lobe" in conflict.base
    assert not NewLesion.objects.exists()
    answer = {**stale, "expected_version": 3, "merge_base": 2, "resolve__new:N1": "theirs"}
    response = as_coordinator.post(update_url(a), answer)
    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages] == ["No value changed: nothing was saved."]
    a.refresh_from_db()
    assert not NewLesion.objects.exists() and a.version == 3  # their removal kept: nothing new to save
    answer["resolve__new:N1"] = "mine"
    assert as_coordinator.post(update_url(a), {**answer, "expected_version": 3}).status_code == 302
    assert list(NewLesion.objects.values_list("code", "location_text")) == [("N1", "lingula")]
    assert _walk(TumourAssessment) + _walk(LesionResult) + _walk(NewLesion) == []


def test_conflict_page_in_chinese_has_no_english_left(opened, coordinator, as_coordinator, other):
    """The merge note, the conflict table and the marked cell read in the user's language (issue 18)."""
    from sabr_trial.models import UserPreference
    from tests.test_i18n_coverage import _data_words, _Text, english_runs

    a = opened
    _as(other).post(
        update_url(a), _edit(a, {"L1": 20, "L2": 25}, version=1, reason="B", investigator_response="PR")
    )
    UserPreference.objects.update_or_create(user=coordinator, defaults={"language": "zh-hans"})
    response = _as(coordinator).post(update_url(a), _edit(a, {"L1": 30, "L2": 25}, version=1, reason="A"))
    assert response.status_code == 409
    parser = _Text()
    parser.feed(response.content.decode())
    words = _data_words()
    assert [run for chunk in parser.chunks for run in english_runs(chunk, words)] == []
    assert "请选择要保留的值" in response.content.decode()


# --- the API: the 412 names the grid's cells changed since the client's version, with both values --------------
def test_api_412_names_lesion_cells_with_both_values(opened, coordinator, other):
    a = opened
    _as(other).post(update_url(a), _edit(a, {"L1": 35, "L2": 20}, version=1, reason="B"))
    api = Api(token_for(coordinator))
    body = {"results": [{"lesion": _pk("L1"), "result_status": "MEASURED", "value_mm": "35"},
                        {"lesion": _pk("L2"), "result_status": "MEASURED", "value_mm": "23"},
                        {"lesion": _pk("L3"), "nontarget_state": "PRESENT"}],
            "change_reason": "re-read"}  # fmt: skip
    response = api.patch(crf_path(a.patient, "tumour-assessment", a.pk), body, if_match=1)
    assert response.status_code == 412
    changed = {c["field"]: c for c in response.json()["changed_since"]}
    cell = changed["results.L2.value_mm"]
    assert (cell["base"], cell["theirs"], cell["yours"]) == ("25.0", "20.0", "23")
    assert "results.L1.value_mm" not in changed
    assert _mm("L2") == Decimal(20)
