"""The visit schedule (visits/schedule.py): windows, the 2-year switch to q12w, survival every 3 months to
3 years, death and end of study stop everything. Pure: no database."""

from __future__ import annotations

import datetime

import pytest

from visits.schedule import (
    Anchors,
    ExpectedForm,
    FormRecord,
    Infusion,
    Mark,
    Reason,
    ScheduleError,
    State,
    VisitKind,
    cycle_targets,
    expected_forms,
    imaging_days,
    summarize,
    visits_for,
)

REG = datetime.date(2024, 1, 1)
START = datetime.date(2024, 1, 4)  # treatment start (D1), day 0


def d(day: int) -> datetime.date:
    """Study day -> date (day 0 = treatment start, D9)."""
    return START + datetime.timedelta(days=day)


def anchors(**kw) -> Anchors:
    base = {"registration": REG, "treatment_start": START, "sabr_start": START}
    base.update(kw)
    return Anchors(**base)


def form(forms: list[ExpectedForm], visit: str, slug: str) -> ExpectedForm:
    return next(f for f in forms if f.visit.key == visit and f.slug == slug)


def keys(forms: list[ExpectedForm], slug: str) -> list[str]:
    return [f.visit.key for f in forms if f.slug == slug]


# --- imaging (D6) -----------------------------------------------------------------------------------------


def test_imaging_days_q8w_for_two_years_then_q12w_to_three_years():
    days = imaging_days()
    assert days[:3] == [56, 112, 168]
    assert days[12] == 728  # week 104: the last q8w scan (<= 730 days)
    assert days[13:] == [812, 896, 980, 1064]  # q12w from there, up to the 1095-day cap (D7)


@pytest.mark.parametrize(
    ("visit", "target", "start", "end"),
    [
        ("IMG-W8", 56, 49, 63),
        ("IMG-W16", 112, 105, 119),
        ("IMG-W104", 728, 721, 735),
        ("IMG-W116", 812, 805, 819),
        ("IMG-W152", 1064, 1057, 1071),
    ],
)
def test_imaging_windows_plus_minus_7_days(visit, target, start, end):
    v = next(v for v in visits_for(anchors(), today=d(1200)) if v.key == visit)
    assert (v.target, v.window_start, v.window_end) == (d(target), d(start), d(end))


@pytest.mark.parametrize(
    ("scan_day", "today", "state", "out_of_window"),
    [
        (None, 40, State.UPCOMING, False),  # window opens on day 49
        (None, 49, State.DUE, False),
        (None, 63, State.DUE, False),  # last day of the window
        (None, 64, State.OVERDUE, False),
        (56, 64, State.DONE, False),
        (49, 64, State.DONE, False),
        (63, 64, State.DONE, False),
        (70, 80, State.DONE, True),  # 14 days late: done, flagged outside the window
        (30, 64, State.DONE, True),  # early scan: nearest visit
    ],
)
def test_imaging_week_8_state(scan_day, today, state, out_of_window):
    records = [FormRecord("tumour-assessment", d(scan_day))] if scan_day is not None else []
    f = form(expected_forms(anchors(), records, [], today=d(today)), "IMG-W8", "tumour-assessment")
    assert (f.state, f.out_of_window) == (state, out_of_window)


def test_one_scan_counts_for_one_time_point_only():
    forms = expected_forms(anchors(), [FormRecord("tumour-assessment", d(84))], [], today=d(130))
    # day 84 is 28 days from both week 8 and week 16: it goes to one of them, the other is overdue
    states = {form(forms, k, "tumour-assessment").state for k in ("IMG-W8", "IMG-W16")}
    assert states == {State.DONE, State.OVERDUE}


def test_no_imaging_before_treatment_starts():
    assert (
        keys(
            expected_forms(anchors(treatment_start=None, sabr_start=None), [], [], today=d(200)),
            "tumour-assessment",
        )
        == []
    )


# --- toripalimab cycles and AE review (R4.6, EC-TO-3) ---------------------------------------------------------


def test_cycles_planned_from_the_last_infusion_given():
    infusions = (Infusion(1, d(0)), Infusion(2, d(23)), Infusion(3, None), Infusion(4, d(51)))
    got = cycle_targets(anchors(infusions=infusions), REG, until=d(80))
    assert got == [(1, d(0), True), (2, d(21), True), (3, d(44), True), (4, d(65), True), (5, d(72), True)]


@pytest.mark.parametrize(
    ("today", "state"),
    [(17, State.UPCOMING), (18, State.DUE), (24, State.DUE), (25, State.OVERDUE)],
)
def test_cycle_window_plus_minus_3_days(today, state):
    forms = expected_forms(anchors(infusions=(Infusion(1, d(0)),)), [], [], today=d(today))
    assert form(forms, "C2", "toripalimab").state is state


def test_toripalimab_matched_by_cycle_number_not_date():
    records = [FormRecord("toripalimab", d(30), visit_key="C2")]
    forms = expected_forms(
        anchors(infusions=(Infusion(1, d(0)), Infusion(2, d(30)))), records, [], today=d(40)
    )
    assert form(forms, "C2", "toripalimab").state is State.DONE


@pytest.mark.parametrize(
    ("onset", "visit"),
    [(0, "C1"), (10, "C2"), (24, "C2"), (25, "C3")],
)
def test_ae_review_covers_the_interval_since_the_previous_visit(onset, visit):
    forms = expected_forms(anchors(), [FormRecord("adverse-event", d(onset))], [], today=d(50))
    assert form(forms, visit, "adverse-event").state is State.DONE


def test_ae_review_nothing_to_report_counts_as_done():
    mark = Mark("adverse-event", "C2", "No new AE at the visit", nothing_to_report=True)
    f = form(expected_forms(anchors(), [], [mark], today=d(50)), "C2", "adverse-event")
    assert (f.state, f.reason) == (State.DONE, Reason.NOTHING_TO_REPORT)


def test_axitinib_expected_once_at_cycle_1():
    assert keys(expected_forms(anchors(), [], [], today=d(200)), "axitinib") == ["C1"]


def test_no_toripalimab_after_permanent_discontinuation_but_visits_go_on():
    infusions = (Infusion(1, d(0)), Infusion(2, None, discontinued=True))
    forms = expected_forms(anchors(infusions=infusions), [], [], today=d(70))
    assert keys(forms, "toripalimab") == ["C1", "C2"]
    assert keys(forms, "adverse-event") == ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]  # to today + 8 weeks


def test_cycles_stop_after_two_years():
    got = cycle_targets(anchors(), REG, until=d(2000))
    assert (len(got), got[-1][1]) == (35, d(714))  # 35 x q3w <= 730 days (R4.6 [DECIDE])


def test_end_of_treatment_ends_the_cycles_and_starts_survival_follow_up():
    forms = expected_forms(anchors(end_of_treatment=d(42)), [], [], today=d(400))
    assert keys(forms, "toripalimab") == ["C1", "C2", "C3"]
    assert keys(forms, "survival")[:2] == ["SURV-M3", "SURV-M6"]
    assert (
        len(keys(forms, "tumour-assessment")) == 8
    )  # to week 64 (today + 8 weeks): imaging goes on after the end of treatment


def test_not_treated_yet_only_the_first_visit_is_expected():
    forms = expected_forms(
        anchors(treatment_start=None, sabr_start=None), [], [], today=REG + datetime.timedelta(60)
    )
    assert keys(forms, "toripalimab") == ["C1"]
    c1 = form(forms, "C1", "toripalimab")
    assert (c1.window_start, c1.window_end, c1.state) == (REG, REG + datetime.timedelta(31), State.OVERDUE)


# --- survival follow-up (EC-DS-1, D7) -------------------------------------------------------------------------


def test_survival_every_3_months_up_to_3_years_from_treatment_start():
    eot = d(300)
    forms = expected_forms(anchors(end_of_treatment=eot), [], [], today=d(2000))
    surv = [f for f in forms if f.slug == "survival"]
    assert [f.visit.key for f in surv] == [f"SURV-M{3 * k}" for k in range(1, 9)]  # 300 + 8 x 91 <= 1095
    assert [f.due_date for f in surv][:2] == [d(391), d(482)]
    assert (surv[0].window_start, surv[0].window_end) == (d(377), d(405))


@pytest.mark.parametrize(
    ("contact_day", "state"),
    [(391, State.DONE), (377, State.DONE), (405, State.DONE), (None, State.OVERDUE)],
)
def test_survival_contact_window(contact_day, state):
    records = [FormRecord("survival", d(contact_day))] if contact_day else []
    forms = expected_forms(anchors(end_of_treatment=d(300)), records, [], today=d(420))
    assert form(forms, "SURV-M3", "survival").state is state


# --- screening, SABR ------------------------------------------------------------------------------------------


def test_screening_window_is_28_days_before_treatment_start():
    v = next(v for v in visits_for(anchors(), today=d(10)) if v.key == "SCR")
    assert (v.window_start, v.window_end, v.kind) == (d(-28), d(0), VisitKind.SCREENING)


def test_screening_forms_done_when_present():
    records = [FormRecord(s, REG) for s in ("screening", "consent", "eligibility", "baseline")]
    forms = expected_forms(anchors(), records, [], today=d(10))
    scr = {f.slug: f.state for f in forms if f.visit.key == "SCR"}
    assert scr == {
        "screening": State.DONE,
        "consent": State.DONE,
        "eligibility": State.DONE,
        "baseline": State.DONE,
        "lesion": State.OVERDUE,
    }


def test_sabr_due_within_28_days_of_registration():
    forms = expected_forms(anchors(treatment_start=None, sabr_start=None), [], [], today=REG)
    f = form(forms, "SABR", "sabr-course")
    assert (f.state, f.window_end) == (State.DUE, REG + datetime.timedelta(28))


def test_unregistered_patient_has_no_schedule():
    assert expected_forms(Anchors(registration=None), [], [], today=REG) == []


# --- death and end of study stop everything (EC-DS-2) ---------------------------------------------------------


def test_death_stops_everything():
    forms = expected_forms(
        anchors(death=d(110), end_of_treatment=d(110), off_study=d(110)), [], [], today=d(600)
    )
    assert max(f.visit.window_start for f in forms) <= d(110)
    assert keys(forms, "survival") == []  # the first contact would open after death
    pending = [f for f in forms if f.visit.window_end >= d(110)]
    assert {f.visit.key for f in pending} == {"IMG-W16"}  # its window (days 105-119) was open at death
    assert all(
        (f.state, f.reason, f.reason_date) == (State.NOT_REQUIRED, Reason.DEATH, d(110)) for f in pending
    )


@pytest.mark.parametrize(
    ("anchor", "reason"),
    [
        ({"death": d(60)}, Reason.DEATH),
        ({"off_study": d(60)}, Reason.OFF_STUDY),
        ({"off_study": d(60), "death": d(60)}, Reason.DEATH),
        ({"off_study": d(58), "death": d(90)}, Reason.OFF_STUDY),
    ],
)
def test_form_pending_at_death_or_off_study_is_not_required(anchor, reason):
    f = form(expected_forms(anchors(**anchor), [], [], today=d(200)), "IMG-W8", "tumour-assessment")
    assert (f.state, f.reason) == (State.NOT_REQUIRED, reason)


def test_missed_before_death_stays_overdue():
    f = form(expected_forms(anchors(death=d(100)), [], [], today=d(200)), "IMG-W8", "tumour-assessment")
    assert f.state is State.OVERDUE


def test_done_form_stays_done_after_death():
    records = [FormRecord("tumour-assessment", d(58))]
    f = form(expected_forms(anchors(death=d(60)), records, [], today=d(200)), "IMG-W8", "tumour-assessment")
    assert f.state is State.DONE


def test_death_before_registration_is_refused():
    with pytest.raises(ScheduleError):
        visits_for(anchors(death=REG - datetime.timedelta(1)), today=d(10))


# --- marks, horizon, summary ----------------------------------------------------------------------------------


def test_not_done_mark_with_reason_makes_the_form_not_required():
    mark = Mark("tumour-assessment", "IMG-W8", "CT scanner broken; scan on day 75")
    f = form(expected_forms(anchors(), [], [mark], today=d(70)), "IMG-W8", "tumour-assessment")
    assert (f.state, f.reason, f.mark) == (State.NOT_REQUIRED, Reason.MARKED, mark)


def test_visits_listed_up_to_8_weeks_ahead():
    forms = expected_forms(anchors(), [], [], today=d(10))
    assert max(f.window_start for f in forms) <= d(66)
    assert "IMG-W8" in keys(forms, "tumour-assessment")


def test_summary_due_this_week_and_overdue():
    forms = expected_forms(
        anchors(),
        [
            FormRecord(s, REG)
            for s in (
                "screening",
                "consent",
                "eligibility",
                "baseline",
                "lesion",
                "sabr-course",
                "sabr-target",
                "sabr-fraction",
                "axitinib",
            )
        ],
        [],
        today=d(45),
    )
    s = summarize(forms, today=d(45))
    assert sorted((f.visit.key, f.slug) for f in s.due_this_week) == [
        ("C3", "adverse-event"),
        ("C3", "toripalimab"),
        ("IMG-W8", "tumour-assessment"),
    ]
    assert sorted((f.visit.key, f.slug) for f in s.overdue_forms) == [
        ("C1", "adverse-event"),
        ("C1", "toripalimab"),
        ("C2", "adverse-event"),
        ("C2", "toripalimab"),
    ]
