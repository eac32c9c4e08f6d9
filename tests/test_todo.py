"""To-do lists per role (issue 19 item 10): each list shows exactly the work waiting for that role, links to the
page where it is done, counts it in the navigation; the monitor verifies a selection after confirming its count."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Disposition
from sabr_trial import queries, services
from sabr_trial.crf import CrfStatus, registry
from sabr_trial.models import AuditEvent
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import prelock_report
from tests.factories import PASSWORD, ScreeningLogFactory
from tests.factories_adverse_events import AdverseEventFactory
from tests.factories_enrollment import consent, eligibility, registrable, screen
from tests.factories_visits import treated_patient
from visits import todo

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def items(page: str, testid: str) -> list[str]:
    """The patients (data-patient) of the to-do rows inside the table ``testid``."""
    table = page.split(f'data-testid="{testid}"')[1].split("</table>")[0]
    return re.findall(r'data-testid="todo-item" data-patient="([^"]+)"', table)


def nav_badge(page: str, label: str) -> str | None:
    found = re.search(rf">{label} <span class=\"badge[^>]*>(\d+)</span>", page)
    return found.group(1) if found else None


def submit_all(patient, user) -> None:
    for spec in registry.all():
        for row in spec.model.objects.filter(patient=patient, status=CrfStatus.DRAFT):
            services.crf_submit(instance=row, acting_user=user)


def sign_form(client, row) -> None:
    url = reverse("crf_transition", args=[row.patient_id, registry.for_model(type(row)).slug, row.pk, "sign"])
    response = client.post(url, {"password": PASSWORD, "expected_version": row.version})
    assert response.status_code == 302, response.content[:300]


# --- investigator ------------------------------------------------------------------------------------------------


@pytest.fixture
def investigator_study(coordinator, investigator, data_manager, as_investigator):
    """Eligibility: one to confirm, one confirmed, one draft. Casebooks: one never signed, one signed, one voided.
    SAEs: one unassessed, one signed with expectedness, one non-serious. Queries: one open, one answered."""
    to_confirm = screen(coordinator)
    consent(to_confirm, coordinator)
    eligibility(to_confirm, coordinator)
    confirmed = registrable(coordinator, investigator)
    draft = screen(coordinator)
    eligibility(draft, coordinator, status=CrfStatus.DRAFT)

    sae_patient = treated_patient(start_days_ago=40, study_number="SR-101")
    awareness = timezone.now() - datetime.timedelta(hours=3)
    sae = AdverseEventFactory(
        patient=sae_patient,
        acn_sabr="DOSE NOT CHANGED",
        serious="Y",
        aeshosp="Y",
        grade=3,
        awareness_at=awareness,
        status=CrfStatus.SUBMITTED,
    )
    assessed_patient = treated_patient(start_days_ago=40, study_number="SR-102")
    assessed = AdverseEventFactory(
        patient=assessed_patient,
        acn_sabr="DOSE NOT CHANGED",
        serious="Y",
        aeshosp="Y",
        grade=3,
        expected="N",
        awareness_at=awareness,
        status=CrfStatus.SUBMITTED,
    )
    sign_form(as_investigator, assessed)
    AdverseEventFactory(patient=assessed_patient, acn_sabr="DOSE NOT CHANGED", status=CrfStatus.SUBMITTED)

    signed = treated_patient(start_days_ago=40, study_number="SR-103")
    voided = treated_patient(start_days_ago=40, study_number="SR-104")
    for patient in (sae_patient, assessed_patient, signed, voided):
        submit_all(patient, coordinator)
    for patient in (signed, voided, assessed_patient):
        response = as_investigator.post(reverse("casebook_sign", args=[patient.pk]), {"password": PASSWORD})
        assert response.status_code == 302
    log = ScreeningLogFactory(
        patient=voided, screening_date=TODAY - datetime.timedelta(days=60), status=CrfStatus.SUBMITTED
    )
    open_query = queries.raise_query(row=log, text="Which screening date?", acting_user=data_manager)
    answered = queries.raise_query(row=log, text="Source missing", acting_user=data_manager)
    queries.answer_query(query=answered, text="Filed now", acting_user=coordinator)
    return {
        "to_confirm": to_confirm,
        "sae": sae,
        "open_query": open_query,
        "answered": answered,
        "confirmed": confirmed,
        "draft": draft,
    }


def test_the_investigator_sees_exactly_the_work_waiting_and_where_to_do_it(
    as_investigator, investigator_study
):
    s = investigator_study
    response = as_investigator.get(reverse("visits:todo_investigator"))
    assert response.status_code == 200
    page = response.text
    assert items(page, "todo-eligibility") == [s["to_confirm"].label]
    assert (
        reverse(
            "crf_detail",
            args=[s["to_confirm"].pk, "eligibility", s["to_confirm"].enrollment_eligibility_set.get().pk],
        )
        in page.split('data-testid="todo-eligibility"')[1].split("</table>")[0]
    )
    # screening-only patients with submitted forms wait for a signature too; SR-103 (signed) and SR-102 do not
    assert set(items(page, "todo-casebooks")) == {
        s["to_confirm"].label,
        s["confirmed"].label,
        s["draft"].label,
        "SR-101",
        "SR-104",
    }
    casebooks = page.split('data-testid="todo-casebooks"')[1].split("</table>")[0]
    assert "voided on" in casebooks and reverse("casebook_sign", args=[s["sae"].patient_id]) in casebooks
    assert items(page, "todo-saes") == ["SR-101"]
    saes = page.split('data-testid="todo-saes"')[1].split("</table>")[0]
    assert "expectedness not assessed" in saes
    causality = reverse("crf_update", args=[s["sae"].patient_id, "adverse-event", s["sae"].pk])
    assert causality in saes
    assert 'id="id_rel_sabr"' in as_investigator.get(causality).text  # the link's anchor is the attribution
    query_table = page.split('data-testid="todo-queries"')[1].split("</table>")[0]
    assert re.findall(r'data-query="(\d+)"', query_table) == [str(s["open_query"].pk)]
    assert reverse("query_detail", args=[s["open_query"].pk]) in query_table
    total = 1 + 5 + 1 + 1
    assert f'data-testid="todo-total">{total}<' in page
    assert nav_badge(page, "To do") == str(total)


def test_work_done_leaves_the_list_and_the_count(
    as_investigator, investigator, coordinator, investigator_study
):
    s = investigator_study
    elig = s["to_confirm"].enrollment_eligibility_set.get()
    confirmed = as_investigator.post(
        reverse("enrollment:eligibility_confirm", args=[s["to_confirm"].pk, elig.pk]),
        {"expected_version": elig.version, "confirmed_at": ""},
    )
    assert confirmed.status_code == 302
    sae = s["sae"]
    sae, _changes = services.crf_update(
        instance=sae,
        expected_version=sae.version,
        data={"expected": "Y"},
        reason="Assessed",
        acting_user=investigator,
    )
    sign_form(as_investigator, sae)
    queries.answer_query(query=s["open_query"], text="From the clinic letter", acting_user=coordinator)
    page = as_investigator.get(reverse("visits:todo_investigator")).text
    assert items(page, "todo-eligibility") == []
    assert items(page, "todo-saes") == []
    assert (
        re.findall(r'data-query="(\d+)"', page.split('data-testid="todo-queries"')[1].split("</table>")[0])
        == []
    )
    waiting = todo.investigator_todo(investigator).count
    assert nav_badge(page, "To do") == str(waiting)


def test_a_signature_recounts_that_casebook_only(
    as_investigator, coordinator, investigator_study, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 20: each casebook's facts are kept under its patient's data version; signing one recounts that one."""
    from sabr_trial.generation import bump_after_commit, bump_for
    from visits.selectors import bump_generation

    with django_capture_on_commit_callbacks(execute=True):  # the fixture's changes, never committed, bump now
        bump_after_commit(None)
    before = todo.casebooks_to_sign()
    assert before
    calls = []
    original = todo._casebook_facts
    monkeypatch.setattr(todo, "_casebook_facts", lambda ids: calls.append(ids) or original(ids))
    assert [c.patient for c in todo.casebooks_to_sign()] == [c.patient for c in before] and calls == []
    patient = before[0].patient
    with django_capture_on_commit_callbacks(execute=True):
        response = as_investigator.post(reverse("casebook_sign", args=[patient.pk]), {"password": PASSWORD})
    assert response.status_code == 302
    after = todo.casebooks_to_sign()
    assert calls == [[patient.pk]]
    assert [c.patient for c in after] == [c.patient for c in before[1:]]
    bump_generation()
    bump_for(None)
    assert [(c.patient, c.forms, c.drafts, c.voided) for c in todo.casebooks_to_sign()] == [
        (c.patient, c.forms, c.drafts, c.voided) for c in after
    ]


def test_a_coordinator_sees_no_investigator_items(as_coordinator, investigator_study):
    assert as_coordinator.get(reverse("visits:todo_investigator")).status_code == 403
    page = as_coordinator.get(reverse("patient_list")).text
    assert reverse("visits:todo_investigator") not in page and reverse("visits:sdv_list") not in page
    assert reverse("visits:todo_data_manager") not in page


@pytest.mark.parametrize(
    ("persona", "url", "status"),
    [
        ("as_monitor", "visits:todo_investigator", 403),
        ("as_data_manager", "visits:todo_investigator", 403),
        ("as_investigator", "visits:sdv_list", 403),
        ("as_data_manager", "visits:sdv_list", 403),
        ("as_coordinator", "visits:todo_data_manager", 403),
        ("as_monitor", "visits:todo_data_manager", 403),
        ("as_outsider", "visits:todo_investigator", 403),
    ],
)
def test_each_list_belongs_to_its_role(request, persona, url, status):
    assert request.getfixturevalue(persona).get(reverse(url)).status_code == status


# --- monitor -----------------------------------------------------------------------------------------------------


@pytest.fixture
def sdv_study(coordinator):
    first = treated_patient(start_days_ago=40, study_number="SR-201")
    second = treated_patient(start_days_ago=40, study_number="SR-202")
    for patient in (first, second):
        submit_all(patient, coordinator)
    return first, second


def awaiting(patient=None) -> set[str]:
    out = set()
    for spec in registry.all():
        qs = spec.model.objects.filter(status__in=todo.SDV_STATUSES, verified_at__isnull=True)
        if patient is not None:
            qs = qs.filter(patient=patient)
        out |= {f"{spec.slug}:{pk}" for pk in qs.values_list("pk", flat=True)}
    return out


def listed(page: str) -> set[str]:
    return set(re.findall(r'data-testid="sdv-item" data-row="([^"]+)"', page))


def test_the_sdv_list_shows_every_form_awaiting_with_its_values_and_filters(as_monitor, sdv_study):
    first, second = sdv_study
    page = as_monitor.get(reverse("visits:sdv_list")).text
    assert listed(page) == awaiting() and len(listed(page)) > 4
    assert "Date of infusion:</span>" in page  # the values, not the name alone
    fraction = first.treatment_sabrfraction_set.get()
    row = page.split(f'data-row="sabr-fraction:{fraction.pk}"')[1].split("</tr>")[0]
    assert fraction.fraction_date.isoformat() in row
    assert nav_badge(page, "SDV") == str(len(awaiting()))
    by_patient = as_monitor.get(reverse("visits:sdv_list"), {"patient": "sr-202"}).text
    assert listed(by_patient) == awaiting(second)
    by_form = as_monitor.get(reverse("visits:sdv_list"), {"form": "toripalimab"}).text
    assert listed(by_form) == {k for k in awaiting() if k.startswith("toripalimab:")}
    assert listed(as_monitor.get(reverse("visits:sdv_list"), {"form": "no-such-form"}).text) == awaiting()


def test_select_then_confirm_verifies_exactly_the_selected_forms(as_monitor, monitor, sdv_study):
    before = awaiting()
    chosen = sorted(before)[:3]
    review = as_monitor.post(reverse("visits:sdv_list"), {"rows": chosen, "step": "review"})
    assert review.status_code == 200
    assert "You are about to mark 3 forms as source-data verified." in review.text
    assert awaiting() == before  # nothing verified before the confirmation
    done = as_monitor.post(reverse("visits:sdv_list"), {"rows": chosen, "step": "confirm"})
    assert done.status_code == 302
    assert awaiting() == before - set(chosen)
    events = AuditEvent.objects.filter(action=AuditEvent.Action.VERIFY, user=monitor)
    assert events.count() == 3  # one audited verification per form


def test_all_matching_the_filters_verifies_that_patients_forms_only(as_monitor, sdv_study):
    first, second = sdv_study
    mine, theirs = awaiting(first), awaiting(second)
    review = as_monitor.post(reverse("visits:sdv_list"), {"all": "1", "patient": "SR-201", "step": "review"})
    assert f"You are about to mark {len(mine)} forms" in review.text
    assert set(re.findall(r'name="rows" value="([^"]+)"', review.text)) == mine
    as_monitor.post(
        reverse("visits:sdv_list"), {"rows": sorted(mine), "patient": "SR-201", "step": "confirm"}
    )
    assert awaiting(first) == set() and awaiting(second) == theirs


def test_nothing_selected_is_refused_with_a_message(as_monitor, sdv_study):
    response = as_monitor.post(reverse("visits:sdv_list"), {"step": "review"}, follow=True)
    assert "Select at least one form to verify." in response.text


def test_a_locked_casebook_follows_the_study_policy(as_monitor, sdv_study, data_manager, settings):
    first, second = sdv_study
    services.patient_lock(patient=first, acting_user=data_manager, reason="Complete")
    settings.SDV_ON_LOCKED_CASEBOOK = False
    page = as_monitor.get(reverse("visits:sdv_list")).text
    assert listed(page) == awaiting()  # still listed, marked, no checkbox
    row = page.split('data-patient="SR-201"')[1].split("</tr>")[0]
    assert "casebook locked" in row and 'name="rows"' not in row
    key = sorted(awaiting(first))[0]
    as_monitor.post(reverse("visits:sdv_list"), {"rows": [key], "step": "confirm"})
    assert key in awaiting()  # refused by the service
    settings.SDV_ON_LOCKED_CASEBOOK = True
    row = as_monitor.get(reverse("visits:sdv_list")).text.split('data-patient="SR-201"')[1].split("</tr>")[0]
    assert 'name="rows"' in row
    as_monitor.post(reverse("visits:sdv_list"), {"rows": [key], "step": "confirm"})
    assert key not in awaiting()


def test_the_sdv_count_agrees_with_the_list_under_every_lock_policy(
    sdv_study, data_manager, monitor, settings
):
    """Issue 20: the navigation counts forms in one query; it must be the list's verifiable rows in every case."""

    def verifiable() -> int:
        return sum(1 for i in todo.sdv_items() if not i.blocked)

    first, _second = sdv_study
    assert todo.sdv_count() == verifiable() > 0
    services.crf_verify_many(rows=todo.sdv_selected([sorted(awaiting(first))[0]]), acting_user=monitor)
    assert todo.sdv_count() == verifiable()
    services.patient_lock(patient=first, acting_user=data_manager, reason="Complete")
    counted = {}
    for policy in (False, True):
        settings.SDV_ON_LOCKED_CASEBOOK = policy
        counted[policy] = todo.sdv_count()
        assert counted[policy] == verifiable()
    assert counted[False] < counted[True]  # the locked casebook's forms count only where SDV may pass a lock
    services.study_lock(acting_user=data_manager, reason="Final analysis")
    assert todo.sdv_count() == verifiable() == 0


# --- data manager ------------------------------------------------------------------------------------------------


@pytest.fixture
def lock_study(coordinator, investigator, data_manager, monitor, as_investigator):
    """Two screen failures off study: one clean (verified, signed), one with an open query; one patient on study."""

    def off_study(days_ago: int):
        patient = screen(coordinator, days_ago=days_ago)
        consent(patient, coordinator, on=TODAY - datetime.timedelta(days=days_ago - 1))
        services.crf_create(
            model=Disposition,
            patient=patient,
            acting_user=coordinator,
            status=CrfStatus.SUBMITTED,
            data={"eos_date": TODAY - datetime.timedelta(days=5), "eos_reason": "PHYSICIAN DECISION"},
        )
        return patient

    clean, queried = off_study(30), off_study(31)
    for patient in (clean, queried):
        for spec in registry.all():
            rows = list(spec.model.objects.filter(patient=patient))
            services.crf_verify_many(rows=rows, acting_user=monitor)
        response = as_investigator.post(reverse("casebook_sign", args=[patient.pk]), {"password": PASSWORD})
        assert response.status_code == 302
    log = queried.enrollment_screeninglog_set.get()
    old = queries.raise_query(row=log, text="Reason for screen failure?", acting_user=data_manager)
    on_study = treated_patient(start_days_ago=40, study_number="SR-301")
    infusion = on_study.treatment_toripalimabinfusion_set.get()
    recent = queries.raise_query(row=infusion, text="Check the dose", acting_user=monitor)
    return {"clean": clean, "queried": queried, "on_study": on_study, "old": old, "recent": recent}


def test_the_data_manager_sees_queries_by_age_and_the_casebooks_ready_to_lock(
    as_data_manager, data_manager, lock_study
):
    s = lock_study
    from sabr_trial.models import Query

    Query.objects.filter(pk=s["old"].pk).update(raised_at=timezone.now() - datetime.timedelta(days=40))
    page = as_data_manager.get(reverse("visits:todo_data_manager")).text
    over30 = page.split('data-testid="todo-queries-gt30"')[1].split("</table>")[0]
    under7 = page.split('data-testid="todo-queries-lt7"')[1].split("</table>")[0]
    assert re.findall(r'data-query="(\d+)"', over30) == [str(s["old"].pk)]
    assert re.findall(r'data-query="(\d+)"', under7) == [str(s["recent"].pk)]
    assert items(page, "todo-ready") == [s["clean"].label]
    assert reverse("patient_lock", args=[s["clean"].pk]) in page
    blocked = re.findall(r'data-testid="todo-blocked" data-patient="([^"]+)"', page)
    assert blocked == [s["queried"].label]  # the patient on study is not a candidate
    assert nav_badge(page, "To do") == "3"  # two queries not closed + one casebook ready


def test_ready_to_lock_agrees_with_the_pre_lock_report(lock_study):
    for candidate in todo.lock_candidates():
        report = prelock_report(candidate.patient)
        assert candidate.ready == (not any(section["items"] for section in report)), candidate.patient


def test_closing_a_query_recounts_that_candidate_only(
    coordinator, data_manager, lock_study, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 20: the pre-lock facts are kept per patient; a change to one candidate recounts that one only."""
    from sabr_trial.generation import bump_after_commit

    with django_capture_on_commit_callbacks(execute=True):  # the fixture's changes, never committed, bump now
        bump_after_commit(None)
    before = {c.patient.pk: c.ready for c in todo.lock_candidates()}
    assert before == {lock_study["clean"].pk: True, lock_study["queried"].pk: False}
    calls = []
    original = todo._lock_facts
    monkeypatch.setattr(todo, "_lock_facts", lambda ids: calls.append(ids) or original(ids))
    old = lock_study["old"]
    with django_capture_on_commit_callbacks(execute=True):
        queries.answer_query(query=old, text="Withdrew consent", acting_user=coordinator)
        old.refresh_from_db()
        queries.close_query(query=old, acting_user=data_manager)
    after = todo.lock_candidates()
    assert calls == [[lock_study["queried"].pk]]
    assert {c.patient.pk: c.ready for c in after} == {
        lock_study["clean"].pk: True,
        lock_study["queried"].pk: True,
    }
    for candidate in after:
        assert candidate.ready == (not any(section["items"] for section in prelock_report(candidate.patient)))


def test_a_locked_casebook_leaves_the_list(as_data_manager, data_manager, lock_study):
    services.patient_lock(patient=lock_study["clean"], acting_user=data_manager, reason="Complete")
    page = as_data_manager.get(reverse("visits:todo_data_manager")).text
    assert items(page, "todo-ready") == []


def test_pages_render_in_chinese(as_monitor, as_investigator, as_data_manager, sdv_study):
    for client, url in (
        (as_monitor, "visits:sdv_list"),
        (as_investigator, "visits:todo_investigator"),
        (as_data_manager, "visits:todo_data_manager"),
    ):
        response = client.get(reverse(url), HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200


def test_the_lists_and_their_counts_render_with_redis_down(settings, as_monitor, as_investigator, sdv_study):
    """Issue 16: the cache is an accelerator. Pointed at a port where no Redis listens, every read is a miss and
    every write is dropped: the counts are computed and the pages answer 200."""
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    page = as_monitor.get(reverse("visits:sdv_list"))
    assert page.status_code == 200
    assert nav_badge(page.text, "SDV") == str(len(awaiting()))
    page = as_investigator.get(reverse("visits:todo_investigator"))
    assert page.status_code == 200 and nav_badge(page.text, "To do") == "2"


@pytest.mark.parametrize(
    ("persona", "home"),
    [
        ("as_coordinator", "patient_list"),
        ("as_investigator", "visits:todo_investigator"),
        ("as_monitor", "visits:sdv_list"),
        ("as_data_manager", "visits:todo_data_manager"),
    ],
)
def test_each_role_lands_on_its_own_list(request, persona, home):
    response = request.getfixturevalue(persona).get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse(home)


def test_the_navigation_counts_agree_with_the_lists_in_every_state(
    coordinator, investigator, data_manager, monitor, investigator_study, lock_study
):
    """Issue 20: the navigation counts the work with one count per list (SQL built once), not by reading the
    lists' rows; in each state the count is the length of the lists, for every role (each sees its own parts)."""

    def agree() -> list[tuple[int, int]]:
        out = []
        for user in (coordinator, investigator, data_manager, monitor):
            if has_perm(user, Perm.VIEW):
                pairs = [(todo.investigator_todo_count(user), todo.investigator_todo(user).count)]
                pairs.append((todo.data_manager_todo_count(user), todo.data_manager_todo(user).count))
                for counted, listed in pairs:
                    assert counted == listed, user.username
                out += pairs
        return out

    first = agree()
    assert any(n for n, _ in first)  # the fixtures leave work waiting: not a comparison of zeros
    s = investigator_study
    queries.answer_query(query=s["open_query"], text="From the clinic letter", acting_user=coordinator)
    old = lock_study["old"]
    queries.answer_query(query=old, text="Withdrew consent", acting_user=coordinator)
    old.refresh_from_db()
    queries.close_query(query=old, acting_user=data_manager)
    second = agree()
    assert second != first
    services.patient_lock(patient=lock_study["clean"], acting_user=data_manager, reason="Complete")
    agree()
    services.study_lock(acting_user=data_manager, reason="Final analysis")
    assert [n for n, _ in agree()] != second
