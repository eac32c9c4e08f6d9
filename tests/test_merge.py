"""Stale saves are merged, never overwritten (WRITE-PIPELINE.md stage 5; issue: one write path).

Two people open the same form at version v. The second to save gets the other person's change merged in
where only one of them changed a field, and a choice between both values where both changed it; nothing is
saved until that choice is made.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from enrollment.models import MedicalHistory
from sabr_trial import merge
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create
from tests.factories import UserFactory
from tests.factories_api import Api, crf_path, token_for
from tests.factories_enrollment import registered

pytestmark = pytest.mark.django_db

DATA = {
    "mh_term": "Hypertension",
    "mh_category": "CARDIOVASCULAR",
    "start_date": "2019-03",
    "ongoing": "Y",
    "end_date": "",
    "baseline_grade": 1,
    "systemic_tx_needed": "N",
}


# --- the pure merge, field by field ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("base", "mine", "theirs", "expected", "conflict"),
    [
        ("a", "a", "a", "a", False),  # nobody changed it
        ("a", "a", "b", "b", False),  # only they changed it: theirs
        ("a", "b", "a", "b", False),  # only I changed it: mine
        ("a", "b", "b", "b", False),  # both to the same value
        ("a", "b", "c", "b", True),  # both, differently: a conflict
        (None, "", None, None, False),  # blank and null are the same empty answer
    ],
)
def test_three_way_per_field(base, mine, theirs, expected, conflict):
    result = merge.three_way(
        names=["f"],
        base={"f": base},
        mine={"f": mine},
        theirs={"f": theirs},
        labels={"f": "F"},
        shown={"f": (str(base), str(mine), str(theirs))},
    )
    assert bool(result.conflicts) is conflict
    if not conflict:
        assert merge.comparable(result.values["f"]) == merge.comparable(expected)


# --- through the browser form ----------------------------------------------------------------------------------
@pytest.fixture
def history_row(coordinator, investigator):
    patient = registered(coordinator, investigator)
    row = crf_create(
        model=MedicalHistory,
        patient=patient,
        acting_user=coordinator,
        data=dict(DATA),
        status=CrfStatus.SUBMITTED,
    )
    return row


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(row, **changes):
    data = {k: ("" if v is None else v) for k, v in {**DATA, **changes}.items()}
    data.setdefault("expected_version", row.version)
    data.setdefault("change_reason", "Source document")
    return data


def _url(row):
    return reverse("crf_update", args=[row.patient_id, "medical-history", row.pk])


def test_fields_only_the_other_person_changed_are_kept(history_row, coordinator):
    """Tab B changes the condition; tab A (opened before) changes only the grade: both changes survive."""
    tab_a, tab_b = _client(coordinator), _client(UserFactory(username="coord2", role="coordinator"))
    opened_at = history_row.version
    response = tab_b.post(_url(history_row), _post(history_row, mh_term="Essential hypertension"))
    assert response.status_code == 302
    response = tab_a.post(_url(history_row), _post(history_row, baseline_grade=2, expected_version=opened_at))
    assert response.status_code == 302, response.content.decode()[:2000]
    history_row.refresh_from_db()
    assert history_row.mh_term == "Essential hypertension"  # B's change is not undone
    assert history_row.baseline_grade == 2  # A's change is saved
    assert history_row.version == opened_at + 2
    # Two saves, two history rows beyond the creation: nothing was written twice or silently.
    assert history_row.history.filter(version__gt=opened_at).count() == 2


def test_both_changed_the_same_field_nothing_saved_until_a_choice(history_row, coordinator):
    tab_a, tab_b = _client(coordinator), _client(UserFactory(username="coord2", role="coordinator"))
    opened_at = history_row.version
    tab_b.post(_url(history_row), _post(history_row, mh_term="Essential hypertension"))
    response = tab_a.post(
        _url(history_row),
        _post(history_row, mh_term="Secondary hypertension", baseline_grade=2, expected_version=opened_at),
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-testid="merge-conflicts"' in page
    assert "Essential hypertension" in page and "Secondary hypertension" in page
    history_row.refresh_from_db()
    assert (
        history_row.mh_term == "Essential hypertension" and history_row.baseline_grade == 1
    )  # nothing saved
    # Saving again without choosing is refused again.
    again = _post(
        history_row,
        mh_term="Secondary hypertension",
        baseline_grade=2,
        expected_version=history_row.version,
        merge_base=opened_at,
    )
    assert tab_a.post(_url(history_row), again).status_code == 409
    history_row.refresh_from_db()
    assert history_row.baseline_grade == 1
    # Choosing the other person's condition keeps it and saves this user's grade.
    response = tab_a.post(_url(history_row), {**again, "resolve__mh_term": "theirs"})
    assert response.status_code == 302
    history_row.refresh_from_db()
    assert (history_row.mh_term, history_row.baseline_grade) == ("Essential hypertension", 2)


def test_choosing_mine_saves_mine(history_row, coordinator):
    tab_a, tab_b = _client(coordinator), _client(UserFactory(username="coord2", role="coordinator"))
    opened_at = history_row.version
    tab_b.post(_url(history_row), _post(history_row, mh_term="Essential hypertension"))
    history_row.refresh_from_db()
    answer = _post(
        history_row,
        mh_term="Secondary hypertension",
        expected_version=history_row.version,
        merge_base=opened_at,
        resolve__mh_term="mine",
    )
    assert tab_a.post(_url(history_row), answer).status_code == 302
    history_row.refresh_from_db()
    assert history_row.mh_term == "Secondary hypertension"


# --- through the API: the 412 names the fields changed since the client's version, with both values -----------
def test_api_412_names_changes_with_both_values(history_row, coordinator):
    api = Api(token_for(coordinator))
    opened_at = history_row.version
    _client(UserFactory(username="coord2", role="coordinator")).post(
        _url(history_row), _post(history_row, mh_term="Essential hypertension")
    )
    response = api.patch(
        crf_path(history_row.patient, "medical-history", history_row.pk),
        {"mh_term": "Secondary hypertension", "change_reason": "typo"},
        if_match=opened_at,
    )
    assert response.status_code == 412
    changed = {c["field"]: c for c in response.json()["changed_since"]}
    assert changed["mh_term"]["theirs"] == "Essential hypertension"
    assert changed["mh_term"]["yours"] == "Secondary hypertension"
    assert changed["mh_term"]["base"] == "Hypertension"
    history_row.refresh_from_db()
    assert history_row.mh_term == "Essential hypertension"


# --- a linked row in a conflict reads by its name; a merge without conflicts reads no label ---------------------
def test_conflict_on_a_linked_term_names_the_terms_and_a_clean_merge_reads_no_labels(
    coordinator, investigator, django_assert_max_num_queries
):
    """The AE's CTCAE term is a link to an 837-row table: in a conflict, the starting and the other person's value
    read as term names (not as row keys), and a merge without conflict computes no label at all (it read the
    whole dictionary three times per linked field)."""
    from adverse_events.models import AdverseEvent
    from tests.factories_adverse_events import FATIGUE, HYPERTENSION, ae_payload, term

    patient = registered(coordinator, investigator)
    tab_a, tab_b = _client(coordinator), _client(UserFactory(username="coord2", role="coordinator"))
    assert (
        tab_b.post(reverse("crf_create", args=[patient.pk, "adverse-event"]), ae_payload()).status_code == 302
    )
    row = AdverseEvent.objects.get(patient=patient)
    opened_at = row.version
    url = reverse("crf_update", args=[patient.pk, "adverse-event", row.pk])
    edit = {"expected_version": opened_at, "change_reason": "Source document"}
    assert tab_b.post(url, ae_payload(ctcae_term=str(HYPERTENSION), **edit)).status_code == 302

    # A clean merge (only the grade changed here): no query reads the CTCAE dictionary.
    with django_assert_max_num_queries(80) as captured:
        response = tab_a.post(url, ae_payload(ctcae_term=str(HYPERTENSION), grade="1", **edit))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not [
        q
        for q in captured.captured_queries
        if 'FROM "adverse_events_ctcaeterm"' in q["sql"] and "LIMIT" not in q["sql"]
    ]

    # A conflict on the term: both values and the starting one by name.
    row.refresh_from_db()
    other = term(10000081)  # Abdominal pain
    tab_b_version = row.version
    assert (
        tab_b.post(
            url,
            ae_payload(
                ctcae_term=str(other.meddra_code),
                grade="1",
                expected_version=tab_b_version,
                change_reason="Source document",
            ),
        ).status_code
        == 302
    )
    response = tab_a.post(
        url,
        ae_payload(
            ctcae_term=str(FATIGUE),
            grade="1",
            expected_version=tab_b_version,
            change_reason="Source document",
        ),
    )
    assert response.status_code == 409
    page = response.content.decode()
    conflicts = page[page.index('data-testid="merge-conflicts"') :]
    assert (
        str(term(HYPERTENSION)) in conflicts and str(other) in conflicts and str(term(FATIGUE)) in conflicts
    )
    assert f">{term(HYPERTENSION).pk}<" not in conflicts and f">{other.pk}<" not in conflicts
