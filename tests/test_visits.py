"""The expected-forms grid, the coordinator's worklist and not-done marks, through HTTP as personas,
at a frozen date (time_machine)."""

from __future__ import annotations

import datetime
import io
import re
import zoneinfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from enrollment import selectors as enrollment_selectors
from enrollment.models import Patient
from sabr_trial.models import AuditEvent
from tests.factories_visits import treated_patient
from treatment import selectors as treatment_selectors
from visits import selectors
from visits.models import NotDone

pytestmark = pytest.mark.django_db

FROZEN = datetime.datetime(2025, 3, 3, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))  # a Monday
WORKLIST = "/visits/worklist/"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(FROZEN, tick=False):
        yield


def grid_url(patient) -> str:
    return reverse("visits:patient_grid", args=[patient.pk])


def cells(response) -> dict[tuple[str, str], str]:
    """(visit, form) -> state, read from the data attributes of the page."""
    import re

    html = response.content.decode()
    return {
        (v, f): s
        for v, f, s in re.findall(r'data-visit="([^"]+)" data-form="([^"]+)" data-state="([^"]+)"', html)
    }


def items(response) -> list[tuple[str, str, str, str]]:
    import re

    return re.findall(
        r'data-testid="work-item" data-patient="([^"]+)" data-visit="([^"]+)" data-form="([^"]+)" '
        r'data-state="([^"]+)"',
        response.content.decode(),
    )


@pytest.fixture
def patient():
    # day 0 = 62 days ago; toripalimab C1 only; no imaging; today is day 62
    return treated_patient(start_days_ago=62, cycles_given=1, study_number="SR-101")


def mark_scan_not_done(client, patient):
    """The coordinator marks the week-8 scan not done (scanner down) through the worklist's form."""
    return client.post(
        reverse("visits:not_done", args=[patient.pk]),
        {"form": "tumour-assessment", "visit": "IMG-W8", "reason_code": "NOT DONE", "reason": "Scanner down"},
    )


def test_grid_shows_done_due_overdue_and_upcoming(as_coordinator, patient):
    response = as_coordinator.get(grid_url(patient))
    assert response.status_code == 200
    got = cells(response)
    assert got[("C1", "toripalimab")] == "done"
    assert got[("SABR", "sabr-fraction")] == "done"
    assert got[("C2", "toripalimab")] == "overdue"  # planned day 21 +/- 3
    assert got[("C4", "toripalimab")] == "due"  # day 63 +/- 3
    assert got[("IMG-W8", "tumour-assessment")] == "due"  # day 56 +/- 7
    assert got[("IMG-W16", "tumour-assessment")] == "upcoming"  # day 112 +/- 7


def test_casebook_panel_lists_what_is_open_with_links_to_the_forms(as_coordinator, patient):
    response = as_coordinator.get(reverse("casebook", args=[patient.pk]))
    html = response.content.decode()
    assert 'data-testid="visits-panel"' in html
    assert reverse("crf_create", args=[patient.pk, "tumour-assessment"]) in html  # one click to the form
    assert ("IMG-W8", "tumour-assessment") in cells(response)
    assert ("SABR", "sabr-course") not in cells(response)  # finished visits: on the whole schedule page only


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        ("overdue", {("C2", "toripalimab"), ("C3", "toripalimab")}),
        ("week", {("C4", "toripalimab"), ("IMG-W8", "tumour-assessment")}),
    ],
)
def test_worklist_overdue_and_due_this_week(as_coordinator, patient, show, expected):
    response = as_coordinator.get(WORKLIST, {"show": show})
    got = {(v, f) for p, v, f, _s in items(response) if f != "adverse-event" and v != "SCR"}
    assert response.status_code == 200
    assert got == expected
    assert not any(p != "SR-101" for p, *_ in items(response))


@pytest.mark.parametrize(
    ("sort", "key"),
    [("patient", lambda i: i[0]), ("form", None), ("due", None)],
)
def test_worklist_sorts(as_coordinator, sort, key):
    treated_patient(start_days_ago=70, study_number="SR-102")
    treated_patient(start_days_ago=100, study_number="SR-101")
    response = as_coordinator.get(WORKLIST, {"sort": sort})
    got = items(response)
    assert response.status_code == 200 and got
    if key is not None:
        assert [key(i) for i in got] == sorted(key(i) for i in got)
    desc = items(as_coordinator.get(WORKLIST, {"sort": sort, "dir": "desc"}))
    assert sorted(desc) == sorted(got)


def test_worklist_query_count_does_not_grow_with_patients(as_coordinator, django_capture_on_commit_callbacks):
    as_coordinator.get(reverse("patient_list"))  # the user's access is read once, then cached
    with django_capture_on_commit_callbacks(execute=True):  # a new generation: the lists are computed
        treated_patient(start_days_ago=70)
    with CaptureQueriesContext(connection) as one:
        as_coordinator.get(WORKLIST)
    with django_capture_on_commit_callbacks(
        execute=True
    ):  # new data: a new generation, the lists are computed
        for days in (40, 90, 200):
            treated_patient(start_days_ago=days)
    with CaptureQueriesContext(connection) as four:
        first = as_coordinator.get(WORKLIST)
    assert len(four) == len(one)
    with CaptureQueriesContext(
        connection
    ) as again:  # issue 20: no change since, so no schedule is read again
        second = as_coordinator.get(WORKLIST)
    assert not [q for q in again.captured_queries if "visits_notdone" in q["sql"]]
    assert len(again) < len(four) and items(second) == items(first)


def test_nav_badge_counts_the_worklist_once_per_request(as_coordinator, patient):
    today = timezone.localdate()
    n = sum(
        len(s.overdue_forms) + len(s.due_this_week)
        for s in (ps.summary(today) for ps in selectors.collect(today=today))
    )
    with CaptureQueriesContext(connection) as q:
        response = as_coordinator.get(WORKLIST)
    html = response.content.decode()
    assert f'Worklist <span class="badge text-bg-warning">{n}</span>' in html
    collector = [x for x in q.captured_queries if "visits_notdone" in x["sql"] and "history" not in x["sql"]]
    assert len(collector) == 1  # page and badge share one collection


def test_mark_not_done_with_reason(as_coordinator, coordinator, patient, django_capture_on_commit_callbacks):
    url = reverse("visits:not_done", args=[patient.pk])
    page = as_coordinator.get(url, {"form": "tumour-assessment", "visit": "IMG-W8"})
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # the cached worklist is dropped after commit
        response = as_coordinator.post(
            url,
            {
                "form": "tumour-assessment",
                "visit": "IMG-W8",
                "reason_code": "NOT DONE",
                "reason": "Scanner down",
            },
        )
    assert response.status_code == 302
    mark = NotDone.objects.get(patient=patient)
    assert (mark.form_slug, mark.visit_key, mark.reason, mark.marked_by) == (
        "tumour-assessment",
        "IMG-W8",
        "Scanner down",
        coordinator,
    )
    assert mark.history.get().history_user == coordinator
    event = AuditEvent.objects.get(
        content_type=ContentType.objects.get_for_model(NotDone),
        object_id=mark.pk,
        action=AuditEvent.Action.CREATE,
    )
    assert (event.user, event.patient, event.reason) == (coordinator, patient, "Scanner down")
    grid = as_coordinator.get(grid_url(patient))
    assert cells(grid)[("IMG-W8", "tumour-assessment")] == "not_required"
    assert "Not done: Scanner down (coord" in grid.content.decode()
    listed = {(v, f) for _p, v, f, _s in items(as_coordinator.get(WORKLIST))}
    assert ("IMG-W8", "tumour-assessment") not in listed


def test_nothing_to_report_closes_the_ae_review(as_coordinator, patient):
    url = reverse("visits:not_done", args=[patient.pk])
    as_coordinator.post(
        url,
        {
            "form": "adverse-event",
            "visit": "C2",
            "reason_code": "NOTHING TO REPORT",
            "reason": "No new AE since cycle 1",
        },
    )
    assert cells(as_coordinator.get(grid_url(patient)))[("C2", "adverse-event")] == "done"


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (
            {"form": "tumour-assessment", "visit": "IMG-W8", "reason_code": "NOT DONE", "reason": "  "},
            422,
            "This field is required",
        ),
        (
            {"form": "tumour-assessment", "visit": "IMG-W8", "reason_code": "MAYBE", "reason": "x"},
            422,
            "Select a valid choice",
        ),
        (
            {"form": "toripalimab", "visit": "C1", "reason_code": "NOT DONE", "reason": "x"},
            422,
            "nothing to mark",
        ),
        ({"form": "toripalimab", "visit": "C99", "reason_code": "NOT DONE", "reason": "x"}, 404, ""),
        ({"form": "death", "visit": "C2", "reason_code": "NOT DONE", "reason": "x"}, 404, ""),
    ],
)
def test_bad_not_done_refused_nothing_saved(as_coordinator, patient, data, status, message):
    response = as_coordinator.post(reverse("visits:not_done", args=[patient.pk]), data)
    assert response.status_code == status
    assert message in response.content.decode()
    assert not NotDone.objects.exists()


def test_second_mark_refused_and_cancel_needs_reason(as_coordinator, patient):
    url = reverse("visits:not_done", args=[patient.pk])
    data = {
        "form": "tumour-assessment",
        "visit": "IMG-W8",
        "reason_code": "NOT DONE",
        "reason": "Scanner down",
    }
    as_coordinator.post(url, data)
    again = as_coordinator.post(url, data)
    assert again.status_code == 422 and NotDone.objects.count() == 1
    mark = NotDone.objects.get()
    cancel = reverse("visits:cancel_mark", args=[patient.pk, mark.pk])
    as_coordinator.post(cancel, {"cancel_reason": ""})
    assert NotDone.objects.get().cancelled_at is None
    as_coordinator.post(cancel, {"cancel_reason": "Scan found in PACS"})
    mark.refresh_from_db()
    assert mark.cancelled_at is not None and mark.history.count() == 2
    assert cells(as_coordinator.get(grid_url(patient)))[("IMG-W8", "tumour-assessment")] == "due"


def test_locked_casebook_refuses_a_mark(as_coordinator, patient):
    Patient.objects.filter(pk=patient.pk).update(locked_at=timezone.now())
    response = as_coordinator.post(
        reverse("visits:not_done", args=[patient.pk]),
        {"form": "tumour-assessment", "visit": "IMG-W8", "reason_code": "NOT DONE", "reason": "x"},
    )
    assert response.status_code == 422 and "locked" in response.content.decode()
    assert not NotDone.objects.exists()


@pytest.mark.parametrize("persona", ["investigator", "data_manager", "monitor"])
def test_other_roles_see_the_worklist_and_grid(request, persona, patient):
    client = request.getfixturevalue(f"as_{persona}")
    assert client.get(WORKLIST).status_code == 200
    assert client.get(grid_url(patient)).status_code == 200


@pytest.mark.parametrize("persona", ["data_manager", "monitor"])
def test_read_only_roles_cannot_mark(request, persona, patient):
    client = request.getfixturevalue(f"as_{persona}")
    response = client.post(
        reverse("visits:not_done", args=[patient.pk]),
        {"form": "tumour-assessment", "visit": "IMG-W8", "reason_code": "NOT DONE", "reason": "x"},
    )
    assert response.status_code == 403 and not NotDone.objects.exists()
    assert "not done…" not in client.get(grid_url(patient)).content.decode()


def test_outsider_refused_everywhere(as_outsider, patient):
    for url in (WORKLIST, grid_url(patient), reverse("visits:not_done", args=[patient.pk])):
        assert as_outsider.get(url).status_code == 403
    assert (
        as_outsider.post(
            reverse("visits:not_done", args=[patient.pk]),
            {"form": "tumour-assessment", "visit": "IMG-W8", "reason_code": "NOT DONE", "reason": "x"},
        ).status_code
        == 403
    )


def test_unregistered_patient_has_no_schedule(as_coordinator):
    from tests.factories import PatientFactory

    p = PatientFactory()
    assert as_coordinator.get(grid_url(p)).status_code == 404
    assert (
        'data-testid="visits-panel"'
        not in as_coordinator.get(reverse("casebook", args=[p.pk])).content.decode()
    )


def test_demo_worklist_at_a_frozen_date(as_coordinator):
    """The demo study loaded on 2025-03-03: the worklist of that day for the demo patients."""
    call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
    got = items(as_coordinator.get(WORKLIST))
    overdue = {(p, v, f) for p, v, f, s in got if s == "overdue"}
    due = {(p, v, f) for p, v, f, s in got if s == "due"}
    # SR-001: day 407 of treatment; the demo gives at most 12 toripalimab cycles: a cycle with a row (given,
    # delayed or discontinued) is never listed, and unless the drug was stopped the next cycle is overdue
    from treatment.models import ToripalimabInfusion

    rows = ToripalimabInfusion.objects.filter(patient__study_number="SR-001")
    with_row = {f"C{r.cycle_number}" for r in rows}
    listed = {v for p, v, f, _s in got if p == "SR-001" and f == "toripalimab"}
    assert with_row and not listed & with_row
    if not rows.filter(infusion_status="PERMANENTLY DISCONTINUED").exists():
        assert ("SR-001", f"C{len(with_row) + 1}", "toripalimab") in overdue
    assert ("SR-001", "C21", "adverse-event") in due  # planned day 406 +/- 3 when no AE was reported then
    # SR-005: registered 24 days ago, cycle 2 given today: its AE review is due now
    assert ("SR-005", "C2", "adverse-event") in due
    assert ("SR-005", "C2", "toripalimab") not in overdue | due
    # SR-002 died, SR-003 withdrew, SR-004 lost: nothing of theirs is due this week
    assert not {x for x in due if x[0] in ("SR-002", "SR-003", "SR-004")}
    # the collector's anchors are those of the treatment and enrollment selectors
    for ps in selectors.collect(today=timezone.localdate()):
        p = Patient.objects.get(pk=ps.patient_id)
        assert ps.anchors.treatment_start == treatment_selectors.treatment_start(p)
        assert ps.anchors.sabr_start == treatment_selectors.sabr_start(p)
        assert ps.anchors.death == enrollment_selectors.death_date(p)
        assert ps.anchors.off_study == enrollment_selectors.end_of_study_date(p)


def test_navigation_count_is_cached_until_data_change(
    as_coordinator, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 7: the worklist badge on every page is computed once per data generation, not once per page view."""
    treated_patient(start_days_ago=70, study_number="SR-102")
    calls = []
    original = selectors.collect
    monkeypatch.setattr(selectors, "collect", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = as_coordinator.get(reverse("patient_list"))
    as_coordinator.get(reverse("patient_list"))
    assert len(calls) == 1  # the second page is served from the cache
    with django_capture_on_commit_callbacks(execute=True):  # bumped after commit: no cache write in a save
        treated_patient(start_days_ago=100, study_number="SR-101")  # any saved form or patient invalidates it
        assert len(calls) == 1
    second = as_coordinator.get(reverse("patient_list"))
    assert len(calls) == 2
    import re

    def count(page):
        found = re.search(r'Worklist <span class="badge[^"]*">(\d+)</span>', page.text)
        return int(found.group(1)) if found else 0

    assert 0 < count(first) < count(second)  # the new patient's due forms are in the fresh count


def test_a_change_recomputes_the_worklist_of_that_patient_only(
    as_coordinator, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 20: each patient's part of the worklist and of its badge is kept under that patient's data version; a
    save computes the patient it changed again, and the lists stay equal to a fresh computation."""
    from sabr_trial.generation import bump_for

    with django_capture_on_commit_callbacks(execute=True):
        first = treated_patient(start_days_ago=70, study_number="SR-102")
        second = treated_patient(start_days_ago=100, study_number="SR-101")
    fresh = as_coordinator.get(WORKLIST)  # the whole study is computed once
    calls: list[list[int] | None] = []
    original = selectors.collect
    monkeypatch.setattr(
        selectors, "collect", lambda *a, **k: calls.append(k.get("patient_ids")) or original(*a, **k)
    )
    with django_capture_on_commit_callbacks(execute=True):
        mark_scan_not_done(as_coordinator, first)
    calls.clear()  # the mark's own check read that patient's schedule
    after = as_coordinator.get(WORKLIST)
    assert calls == [[first.pk]]  # the other patient's part came from the cache
    today = timezone.localdate()
    expected: dict[str, list] = {"overdue": [], "week": []}  # computed afresh from the collector
    for ps in selectors.collect(today=today):
        summary = ps.summary(today)
        expected["overdue"] += [selectors.WorkItem(ps.patient_id, ps.label, f) for f in summary.overdue_forms]
        expected["week"] += [selectors.WorkItem(ps.patient_id, ps.label, f) for f in summary.due_this_week]
    assert selectors.cached_worklist(after.wsgi_request, today=today) == expected
    assert items(after) != items(fresh)
    assert re.search(
        rf'Worklist <span class="badge[^"]*">{len(expected["overdue"]) + len(expected["week"])}</span>',
        after.text,
    )
    selectors.bump_generation()  # a change tied to no one patient (a study lock, a user's name): every part again
    bump_for(None)
    calls.clear()
    as_coordinator.get(WORKLIST)
    assert calls == [[second.pk, first.pk]]  # in study-number order


def test_worklist_is_paged_in_the_chosen_order(as_coordinator, monkeypatch):
    """Issue 20: hundreds of missing forms rendered on one page took 0.38 s; the rows come a page at a time, in the
    order chosen over all of them."""
    from visits import views

    treated_patient(start_days_ago=70, study_number="SR-102")
    treated_patient(start_days_ago=100, study_number="SR-101")
    everything = items(as_coordinator.get(WORKLIST, {"sort": "patient"}))
    assert len(everything) > 3
    monkeypatch.setattr(views, "WORKLIST_PAGE_SIZE", 3)
    pages, n = [], 1
    while True:
        response = as_coordinator.get(WORKLIST, {"sort": "patient", "page": n})
        pages.append(items(response))
        if f"page={n + 1}" not in response.content.decode():
            break
        n += 1
    assert all(len(p) == 3 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    assert [row for p in pages for row in p] == everything
    assert (
        f"Rows 1–3 of {len(everything)}" in as_coordinator.get(WORKLIST, {"sort": "patient"}).content.decode()
    )


def test_worklist_table_is_kept_per_data_generation_and_reader(
    as_coordinator, as_monitor, patient, django_capture_on_commit_callbacks
):
    """Issue 20: the rendered table is a fragment per (generation, day, language, view, may enter data)."""
    first = as_coordinator.get(WORKLIST, {"show": "week"})
    assert ("IMG-W8", "tumour-assessment") in {(v, f) for _p, v, f, _s in items(first)}
    assert "not done…" in first.content.decode()
    with CaptureQueriesContext(connection) as again:
        second = as_coordinator.get(WORKLIST, {"show": "week"})
    assert items(second) == items(first)
    assert not [q for q in again.captured_queries if "visits_notdone" in q["sql"]]
    # a monitor enters no data: the coordinator's table with its links is not served to them
    assert "not done…" not in as_monitor.get(WORKLIST, {"show": "week"}).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        mark_scan_not_done(as_coordinator, patient)
    after = as_coordinator.get(WORKLIST, {"show": "week"})
    assert ("IMG-W8", "tumour-assessment") not in {(v, f) for _p, v, f, _s in items(after)}


def test_the_worklist_rows_escape_every_value():
    """The worklist's rows are written in Python (issue 20): a value with markup is shown as text, not markup."""
    import datetime

    from visits.views import _worklist_rows_html

    day = datetime.date(2026, 1, 2)
    row = {
        "patient_id": 1,
        "patient": 'SR-<b>"1',
        "visit_key": "c1<x>",
        "slug": "adverse-event",
        "state": "overdue",
        "visit_label": "<i>Cycle</i>",
        "title": "AE & review",
        "url": '/x?a=1&b="2"',
        "due": day,
        "window_start": day,
        "window_end": None,
        "days_overdue": 3,
        "mark_url": "/m?form=a&visit=<v>",
    }
    html = str(_worklist_rows_html([row]))
    assert "<b>" not in html and "<i>" not in html and "<x>" not in html and "<v>" not in html
    assert 'data-patient="SR-&lt;b&gt;&quot;1"' in html
    assert '<a href="/x?a=1&amp;b=&quot;2&quot;">AE &amp; review</a>' in html
    assert "&lt;i&gt;Cycle&lt;/i&gt;" in html and "overdue 3 days" in html
    assert '<td class="small">2026-01-02 – </td>' in html
