"""Adverse events through HTTP as personas: CTCAE dictionary, form 17 edit checks (EC-AE-1..6, D8),
grade changes, the SAE clock and e-mail (R7.4), the SAE page, safety tables and casebook panel."""

from __future__ import annotations

import datetime
import importlib
import re

import pytest
import time_machine
from django.apps import apps
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from adverse_events import exposure as exposure_module
from adverse_events.models import AdverseEvent, CtcaeTerm, SaeReport
from adverse_events.safety import Agent
from sabr_trial import patient_dates
from tests.factories import RegisteredPatientFactory, UserFactory
from tests.factories_adverse_events import (
    ALT_INCREASED,
    DEATH_NOS,
    FATIGUE,
    HYPERTENSION,
    OTHER_GI,
    AdverseEventFactory,
    ae_payload,
    ensure_ctcae_terms,
    term,
)
from tests.factories_treatment import consented_patient, give_axitinib, give_sabr, give_toripalimab
from treatment import selectors as treatment_selectors
from treatment.models import ToripalimabInfusion

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
SLUG = "adverse-event"


def create_url(patient):
    return reverse("crf_create", args=[patient.pk, SLUG])


def post_ae(client, patient, **changes):
    return client.post(create_url(patient), ae_payload(**changes))


@pytest.fixture(autouse=True)
def _ctcae_terms(db):
    ensure_ctcae_terms()


@pytest.fixture
def patient():
    return RegisteredPatientFactory()


@pytest.fixture
def treated():
    """A patient registered 90 days ago (consent before), ready for real treatment rows."""
    return consented_patient(registered_days_ago=90)


def receive(patient, agent: Agent, first: datetime.date, last: datetime.date | None = None) -> None:
    """Enter real doses of ``agent`` through the CRF services: the first on ``first``, the last on ``last``."""
    if agent is Agent.AXITINIB:
        give_axitinib(patient, start=first, end=last or first)
    elif agent is Agent.TORIPALIMAB:
        give_toripalimab(patient, on=first)
        if last is not None:
            give_toripalimab(patient, on=last, cycle=2)
    else:
        give_sabr(patient, on=first)


# --- R6.1, R6.3: the dictionary in the database --------------------------------------------------------


def test_dictionary_counts_r6_1_and_r6_3():
    terms = CtcaeTerm.objects.all()
    unavailable = [terms.filter(**{f"grade_{g}__isnull": True}).count() for g in range(1, 6)]
    assert (
        terms.count(),
        terms.values("soc").distinct().count(),
        unavailable,
        terms.filter(grade_5__isnull=False).count(),
        terms.filter(is_other_specify=True).count(),
        set(terms.values_list("version", flat=True)),
    ) == (837, 26, [192, 92, 87, 286, 343], 494, 26, {"5.0"})


@pytest.mark.parametrize(
    ("code", "name", "allowed"),
    [
        (10016256, "Fatigue", (1, 2, 3)),
        (10001551, "Alanine aminotransferase increased", (1, 2, 3, 4)),
        (10050528, "Ejection fraction decreased", (2, 3, 4)),
        (10011914, "Death NOS", (5,)),
        (10020772, "Hypertension", (1, 2, 3, 4, 5)),
        (10054524, "Palmar-plantar erythrodysesthesia syndrome", (1, 2, 3)),
        (10037032, "Proteinuria", (1, 2, 3)),
    ],
)
def test_dictionary_spot_checks_r6_3(code, name, allowed):
    row = CtcaeTerm.objects.get(meddra_code=code)
    assert (row.term, row.allowed_grades()) == (name, allowed)


def test_dictionary_load_is_idempotent():
    migration = importlib.import_module("adverse_events.migrations.0002_load_ctcae_v5_terms")
    before = list(CtcaeTerm.objects.order_by("pk").values_list("pk", "meddra_code", "grade_4"))
    migration.load_terms(apps, None)
    after = list(CtcaeTerm.objects.order_by("pk").values_list("pk", "meddra_code", "grade_4"))
    assert after == before and len(after) == 837


def test_dictionary_admin_is_read_only_for_data_managers(data_manager):
    data_manager.is_staff = True
    data_manager.save()
    from django.test import Client

    client = Client()
    client.force_login(data_manager)
    listing = client.get("/admin/adverse_events/ctcaeterm/?q=fatigue")
    add = client.get("/admin/adverse_events/ctcaeterm/add/")
    assert (listing.status_code, "Fatigue" in listing.text, add.status_code) == (200, True, 403)


# --- Search endpoint ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("fatig", "Fatigue"),
        ("10020772", "Hypertension"),
        ("alanine amino incr", "Alanine aminotransferase increased"),
        ("palmar", "Palmar-plantar erythrodysesthesia syndrome"),
    ],
)
def test_search_returns_best_match_first(as_coordinator, query, first):
    data = as_coordinator.get(reverse("adverse_events:ctcae_search"), {"q": query}).json()
    assert data["results"][0]["term"] == first and data["version"] == "5.0"


def test_search_fatigue_carries_grade_texts_and_allowed_grades(as_coordinator):
    hit = as_coordinator.get(reverse("adverse_events:ctcae_search"), {"q": "fatig"}).json()["results"][0]
    assert (
        hit["code"],
        hit["allowed"],
        hit["grades"]["4"],
        hit["grades"]["5"],
        bool(hit["grades"]["3"]),
    ) == (
        FATIGUE,
        [1, 2, 3],
        None,
        None,
        True,
    )


def test_search_by_soc(as_coordinator):
    by_text = as_coordinator.get(
        reverse("adverse_events:ctcae_search"), {"q": "cardiac disorders", "limit": 50}
    ).json()
    by_filter = as_coordinator.get(
        reverse("adverse_events:ctcae_search"), {"soc": "Cardiac disorders", "q": "fib"}
    ).json()
    assert by_text["results"] and all(r["soc"] == "Cardiac disorders" for r in by_text["results"])
    assert [r["term"] for r in by_filter["results"]][:2] == [
        "Atrial fibrillation",
        "Ventricular fibrillation",
    ]


def test_search_refuses_outsider(as_outsider):
    assert as_outsider.get(reverse("adverse_events:ctcae_search"), {"q": "fatig"}).status_code == 403


# --- Create: valid record ------------------------------------------------------------------------------


def test_record_fatigue_stores_version_soc_and_number(as_coordinator, patient):
    response = post_ae(as_coordinator, patient)
    ae = AdverseEvent.objects.get()
    assert (
        response.status_code,
        ae.ctcae_version,
        ae.soc,
        ae.ae_number,
        ae.history.count(),
        ae.created_by.username,
    ) == (
        302,
        "5.0",
        "General disorders and administration site conditions",
        1,
        1,
        "coord",
    )
    second = post_ae(as_coordinator, patient, ctcae_term=str(HYPERTENSION), grade="3")
    assert (
        second.status_code == 302
        and AdverseEvent.objects.get(ctcae_term__meddra_code=HYPERTENSION).ae_number == 2
    )


def test_form_shows_search_widget_and_script(as_coordinator, patient):
    page = as_coordinator.get(create_url(patient))
    assert (
        page.status_code == 200
        and "ctcae_search.js" in page.text
        and 'data-testid="ctcae-search"' in page.text
    )


def test_monitor_cannot_record_an_ae(as_monitor, patient):
    response = post_ae(as_monitor, patient)
    assert response.status_code == 403 and not AdverseEvent.objects.exists()


# --- Bad input: each refused next to the field with its rule, nothing saved ---------------------------


@pytest.mark.parametrize(
    ("changes", "field_message"),
    [
        (
            {"grade": "4"},
            "Grade 4 does not exist for &#x27;Fatigue&#x27; (10016256) in CTCAE v5.0: allowed grades 1-3 (R6.3) (EC-AE-1)",
        ),
        ({"grade": "5"}, "Grade 5 does not exist for &#x27;Fatigue&#x27;"),
        ({"ctcae_term": "99999999"}, "Unknown CTCAE v5.0 term code 99999999 (EC-AE-1)"),
        ({"ctcae_term": "tiredness"}, "is not a term code"),
        ({"ctcae_term": ""}, "This field is required"),
        ({"ctcae_term": str(OTHER_GI)}, "needs the reported term in verbatim (R6.4) (EC-AE-1)"),
        (
            {
                "ongoing": "N",
                "resolution_date": (TODAY - datetime.timedelta(days=12)).isoformat(),
                "outcome": "RECOVERED/RESOLVED",
            },
            "is before the onset date",
        ),
        ({"ongoing": "N"}, "Not ongoing: give the date it resolved"),
        (
            {"resolution_date": (TODAY - datetime.timedelta(days=2)).isoformat()},
            "This field applies only when “Ongoing?” is “No” (EC-AE-4)",
        ),
        ({"serious": "Y", "awareness_at": "2020-01-01T10:00"}, "needs at least one seriousness criterion"),
        ({"aeshosp": "Y"}, "so Serious must be Yes (EC-AE-3"),
        ({"serious": "Y", "aeshosp": "Y"}, "the 24 h clock starts there (EC-AE-3, R7.4)"),
        ({"rel_axitinib": ""}, "This field is required"),
        ({"acn_toripalimab": "DOSE REDUCED"}, "Select a valid choice"),
        ({"outcome": "FATAL"}, "Outcome FATAL requires grade 5 (EC-AE-2)"),
        ({"onset_date": (TODAY + datetime.timedelta(days=1)).isoformat()}, "(EC-G1)"),
    ],
)
def test_bad_input_is_refused_with_a_named_message(as_coordinator, patient, changes, field_message):
    response = post_ae(as_coordinator, patient, **changes)
    assert response.status_code == 200
    assert field_message in response.text
    assert not AdverseEvent.objects.exists()


def test_other_specify_with_verbatim_is_accepted(as_coordinator, patient):
    response = post_ae(as_coordinator, patient, ctcae_term=str(OTHER_GI), verbatim="Anal fissure")
    assert response.status_code == 302 and AdverseEvent.objects.get().display_term.endswith("Anal fissure")


def grade5(**changes):
    died = TODAY - datetime.timedelta(days=3)
    base = {
        "ctcae_term": str(DEATH_NOS),
        "grade": "5",
        "ongoing": "N",
        "resolution_date": died.isoformat(),
        "outcome": "FATAL",
        "serious": "Y",
        "aesdth": "Y",
        "awareness_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "onset_date": (died - datetime.timedelta(days=2)).isoformat(),
    }
    base.update(changes)
    return base, died


def death_report(patient, died):
    model = apps.get_model("enrollment", "DeathReport")
    return model.objects.create(
        patient=patient, death_date=died, primary_cause="OTHER", autopsy="N", source="OTHER"
    )


def test_grade_5_without_death_report_is_refused_ec_ae_2(as_coordinator, patient):
    data, _died = grade5()
    response = post_ae(as_coordinator, patient, **data)
    assert "Grade 5 needs the patient&#x27;s death report (form 19)" in response.text
    assert not AdverseEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"serious": "N", "aesdth": "N", "awareness_at": ""}, "Grade 5 means death: Serious = Yes"),
        ({"outcome": "RECOVERED/RESOLVED"}, "A grade 5 AE has outcome FATAL (EC-AE-2)"),
    ],
)
def test_grade_5_needs_death_criterion_and_fatal_outcome(as_coordinator, patient, changes, message):
    data, died = grade5(**changes)
    death_report(patient, died)
    response = post_ae(as_coordinator, patient, **data)
    assert message in response.text and not AdverseEvent.objects.exists()


def test_grade_5_with_death_report_on_another_date_is_refused(as_coordinator, patient):
    data, died = grade5()
    death_report(patient, died + datetime.timedelta(days=1))
    response = post_ae(as_coordinator, patient, **data)
    assert "resolves on the date of death" in response.text and not AdverseEvent.objects.exists()


def test_grade_5_with_matching_death_report_is_accepted(as_coordinator, patient):
    data, died = grade5()
    death_report(patient, died)
    response = post_ae(as_coordinator, patient, **data)
    ae = AdverseEvent.objects.get()
    assert (response.status_code, ae.grade, ae.outcome, ae.sae_due_at is not None) == (302, 5, "FATAL", True)


def test_ae_dated_after_death_is_refused(as_coordinator, patient):
    death_report(patient, TODAY - datetime.timedelta(days=20))
    response = post_ae(as_coordinator, patient)
    assert "is after the date of death" in response.text and "(EC-AE-4, EC-G2)" in response.text
    assert not AdverseEvent.objects.exists()


@pytest.mark.parametrize(
    ("field", "agent"),
    [("rel_axitinib", Agent.AXITINIB), ("rel_toripalimab", Agent.TORIPALIMAB), ("acn_sabr", Agent.SABR)],
)
def test_not_applicable_for_a_received_agent_is_refused_ec_ae_5(as_coordinator, treated, field, agent):
    receive(treated, agent, TODAY - datetime.timedelta(days=40))
    response = post_ae(as_coordinator, treated, **{field: "NOT APPLICABLE"})
    assert response.status_code == 200
    assert "NOT APPLICABLE is only for an agent not received by onset (EC-AE-5)" in response.text
    assert not AdverseEvent.objects.exists()


def test_not_applicable_for_an_agent_started_after_onset_is_accepted(as_coordinator, treated):
    receive(treated, Agent.SABR, TODAY - datetime.timedelta(days=5))
    response = post_ae(as_coordinator, treated, rel_sabr="NOT APPLICABLE", acn_sabr="NOT APPLICABLE")
    assert response.status_code == 302


def test_exposure_without_treatment_rows(patient):
    exp = exposure_module.exposure_for(patient)
    assert (exp.treatment_start, exp.received_by(Agent.AXITINIB, TODAY)) == (None, False)


@pytest.mark.parametrize(
    ("infusion_status", "counts"),
    [(ToripalimabInfusion.Status.GIVEN, True), (ToripalimabInfusion.Status.OMITTED, False)],
)
def test_toripalimab_infusions_count_as_exposure_d1(treated, infusion_status, counts):
    """The dosing field ``infusion_status`` decides (not the CRF lifecycle ``status``): a GIVEN infusion starts
    treatment (D1) and makes toripalimab received for EC-AE-5; an omitted cycle does not."""
    on = TODAY - datetime.timedelta(days=40)
    give_toripalimab(treated, on=on, status=infusion_status)
    exp = exposure_module.exposure_for(treated)
    expected = (on, on, True) if counts else (None, None, False)
    assert (exp.treatment_start, exp.last_any_dose, exp.received_by(Agent.TORIPALIMAB, TODAY)) == expected


def test_toripalimab_alone_makes_an_ae_treatment_emergent(as_coordinator, treated):
    """Issue 15: toripalimab never counted (a filter on the lifecycle status); one real infusion 40 days before
    onset must make the AE treatment-emergent and refuse NOT APPLICABLE for toripalimab (EC-AE-5)."""
    give_toripalimab(treated, on=TODAY - datetime.timedelta(days=40))
    refused = post_ae(as_coordinator, treated, rel_toripalimab="NOT APPLICABLE")
    assert "NOT APPLICABLE is only for an agent not received by onset (EC-AE-5)" in refused.text
    assert post_ae(as_coordinator, treated).status_code == 302
    assert AdverseEvent.objects.get().treatment_emergent == "Y"


@pytest.mark.parametrize("ended", [True, False])
def test_axitinib_exposure_ends_at_the_last_dosed_end_or_is_ongoing(ended):
    """The last axitinib dose is the latest end of a dosed period (else its latest start), and a dosed period
    without an end makes axitinib ongoing (read as one query of the dosed periods' dates)."""
    treated = consented_patient(registered_days_ago=90)
    start, end = TODAY - datetime.timedelta(days=30), TODAY - datetime.timedelta(days=10)
    give_axitinib(treated, start=start, end=end if ended else None)
    exp = exposure_module.exposure_for(treated)
    assert exp.last_dose[Agent.AXITINIB] == (end if ended else start)
    assert exp.ongoing == (frozenset() if ended else frozenset({Agent.AXITINIB}))


def test_exposure_and_treatment_selectors_share_the_d1_start(treated):
    """One treatment start (STYLE.md 13): AE exposure and the treatment selectors agree on real rows."""
    give_axitinib(treated, start=TODAY - datetime.timedelta(days=30))
    give_toripalimab(treated, on=TODAY - datetime.timedelta(days=45))
    give_sabr(treated, on=TODAY - datetime.timedelta(days=50), is_protocol="N")
    start = exposure_module.exposure_for(treated).treatment_start
    assert start == treatment_selectors.treatment_start(treated) == TODAY - datetime.timedelta(days=45)


# --- Soft checks: saved, warning shown (EC-AE-5 window, EC-AE-6) ---------------------------------------


def test_soft_checks_warn_after_save(as_coordinator, treated):
    receive(treated, Agent.AXITINIB, TODAY - datetime.timedelta(days=5))
    response = post_ae(as_coordinator, treated, immune_related="Y", rel_toripalimab="UNRELATED", follow=True)
    page = as_coordinator.get(AdverseEvent.objects.get().get_absolute_url())
    del response
    assert "before the first study treatment" in page.text and "(EC-AE-6)" in page.text


def test_alt_with_one_drug_held_warns_r4_5(as_coordinator, patient):
    post_ae(
        as_coordinator, patient, ctcae_term=str(ALT_INCREASED), grade="3", acn_axitinib="DRUG INTERRUPTED"
    )
    page = as_coordinator.get(AdverseEvent.objects.get().get_absolute_url())
    assert "one drug held and the other unchanged" in page.text


def test_treatment_emergent_flag(as_coordinator, treated):
    receive(
        treated, Agent.AXITINIB, TODAY - datetime.timedelta(days=60), last=TODAY - datetime.timedelta(days=20)
    )
    post_ae(as_coordinator, treated)
    assert AdverseEvent.objects.get().treatment_emergent == "Y"


# --- EC-AE-4: grade change opens a linked episode ----------------------------------------------------


def test_grade_change_closes_row_and_opens_child(as_coordinator, patient):
    post_ae(as_coordinator, patient, ctcae_term=str(HYPERTENSION), grade="2")
    first = AdverseEvent.objects.get()
    changed = TODAY - datetime.timedelta(days=4)
    response = as_coordinator.post(
        reverse("adverse_events:grade_change", args=[patient.pk, first.pk]),
        {"change_date": changed.isoformat(), "new_grade": "3"},
    )
    first.refresh_from_db()
    child = AdverseEvent.objects.exclude(pk=first.pk).get()
    assert (response.status_code, first.ongoing, first.resolution_date, first.outcome) == (
        302,
        "N",
        changed,
        "NOT RECOVERED/NOT RESOLVED",
    )
    assert (child.parent_episode_id, child.grade, child.onset_date, child.ae_number, child.ongoing) == (
        first.pk,
        3,
        changed,
        first.ae_number,
        "Y",
    )
    # The panel alone (the whole casebook also renders other apps' panels, still in progress).
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from adverse_events.views import casebook_panel

    request = RequestFactory().get("/")
    request.user = first.created_by
    panel = render_to_string("adverse_events/casebook_panel.html", {"ctx": casebook_panel(request, patient)})
    assert 'data-testid="ae-panel"' in panel and "G3" in panel and panel.count("<tr>") == 2
    # one row for the chain: its number, the term linked to the last episode, the worst grade, the chain's onset
    row = panel[panel.index("<tbody>") :]
    assert f'<td>{first.ae_number}</td><td><a href="{child.get_absolute_url()}">' in row
    assert '<span class="badge text-bg-danger">G3</span>' in row and first.onset_date.isoformat() in row
    assert "<td>ongoing</td>" in row and "SAE" not in row and "irAE" not in row
    detail = as_coordinator.get(child.get_absolute_url())
    assert 'data-testid="ae-chain"' in detail.text


@pytest.mark.parametrize(
    ("new_grade", "days_ago", "message"),
    [
        ("4", 4, "Select a valid choice"),
        ("2", 4, "Select a valid choice"),
        ("3", 12, "before the onset date"),
    ],
)
def test_bad_grade_change_is_refused(as_coordinator, patient, new_grade, days_ago, message):
    post_ae(as_coordinator, patient, grade="2")  # fatigue: grades 1-3
    first = AdverseEvent.objects.get()
    response = as_coordinator.post(
        reverse("adverse_events:grade_change", args=[patient.pk, first.pk]),
        {"change_date": (TODAY - datetime.timedelta(days=days_ago)).isoformat(), "new_grade": new_grade},
    )
    first.refresh_from_db()
    assert (response.status_code, message in response.text, first.ongoing, AdverseEvent.objects.count()) == (
        422,
        True,
        "Y",
        1,
    )


# --- SAE clock, e-mail, page -------------------------------------------------------------------------


@time_machine.travel(datetime.datetime(2025, 3, 10, 9, 0, tzinfo=datetime.UTC), tick=False)
def test_new_sae_sets_due_time_and_emails_investigators(
    django_capture_on_commit_callbacks, as_coordinator, patient
):
    UserFactory(username="pi", role="investigator", email="pi@example.org")
    UserFactory(username="coord2", role="coordinator", email="c2@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_ae(
            as_coordinator,
            patient,
            ctcae_term=str(HYPERTENSION),
            grade="3",
            serious="Y",
            aeshosp="Y",
            awareness_at="2025-03-10T08:30",
            onset_date="2025-03-08",
        )
    ae = AdverseEvent.objects.get()
    assert response.status_code == 302
    assert timezone.localtime(ae.sae_due_at) == timezone.localtime(ae.awareness_at) + datetime.timedelta(
        hours=24
    )
    assert [m.to for m in mail.outbox] == [["pi@example.org"]] and "New SAE" in mail.outbox[0].subject


@time_machine.travel(datetime.datetime(2025, 3, 10, 9, 0, tzinfo=datetime.UTC), tick=False)
def test_editing_an_sae_does_not_email_again(django_capture_on_commit_callbacks, investigator, patient):
    investigator.email = "inv@example.org"
    investigator.save()
    awareness = timezone.now() - datetime.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        ae = AdverseEventFactory(patient=patient, serious="Y", aeshosp="Y", awareness_at=awareness, grade=3)
        ae.verbatim = "x"
        ae.save()
    assert len(mail.outbox) == 1


def test_sae_page_lists_open_sae_with_due_time_and_badge(as_investigator, patient):
    with time_machine.travel(datetime.datetime(2025, 3, 10, 9, 0, tzinfo=datetime.UTC), tick=False):
        aware = timezone.now() - datetime.timedelta(hours=30)
        overdue = AdverseEventFactory(
            patient=patient,
            serious="Y",
            aeshosp="Y",
            awareness_at=aware,
            grade=3,
            onset_date=datetime.date(2025, 3, 8),
        )
        fresh = AdverseEventFactory(
            patient=patient,
            serious="Y",
            aesmie="Y",
            awareness_at=timezone.now() - datetime.timedelta(hours=1),
            grade=3,
            onset_date=datetime.date(2025, 3, 9),
        )
        page = as_investigator.get(reverse("adverse_events:sae_list"))
    assert page.status_code == 200
    text = page.text
    assert f'data-ae="{overdue.pk}"' in text and f'data-ae="{fresh.pk}"' in text
    assert "overdue by 6 h 0 min" in text and "time left 23 h 0 min" in text
    assert timezone.localtime(fresh.sae_due_at).strftime("%Y-%m-%d %H:%M") in text
    assert 'SAEs <span class="badge text-bg-warning">1</span>' in text


@pytest.mark.parametrize(
    ("persona", "status"), [("as_data_manager", 200), ("as_monitor", 200), ("as_outsider", 403)]
)
def test_sae_and_safety_pages_by_role(request, persona, status):
    client = request.getfixturevalue(persona)
    codes = {
        client.get(reverse(name)).status_code for name in ("adverse_events:sae_list", "adverse_events:safety")
    }
    assert codes == {status}


def test_initial_and_follow_up_reports(as_investigator, patient):
    ae = AdverseEventFactory(
        patient=patient,
        serious="Y",
        aeshosp="Y",
        awareness_at=timezone.now() - datetime.timedelta(hours=3),
        grade=3,
    )
    url = reverse("adverse_events:sae_report", args=[patient.pk, ae.pk])
    sent = timezone.localtime() - datetime.timedelta(hours=1)
    r1 = as_investigator.post(
        url, {"kind": "INITIAL", "sent_at": sent.strftime("%Y-%m-%dT%H:%M"), "summary": "Initial"}
    )
    r2 = as_investigator.post(
        url,
        {
            "kind": "FOLLOW-UP",
            "sent_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "summary": "Discharged",
        },
    )
    ae.refresh_from_db()
    page = as_investigator.get(reverse("adverse_events:sae_list"))
    assert (r1.status_code, r2.status_code, SaeReport.objects.count(), ae.reported_at is not None) == (
        302,
        302,
        2,
        True,
    )
    assert "Follow-up report" in page.text and 'data-testid="sae-reported"' in page.text


def test_sae_report_before_awareness_is_refused(as_investigator, patient):
    ae = AdverseEventFactory(
        patient=patient,
        serious="Y",
        aeshosp="Y",
        awareness_at=timezone.now() - datetime.timedelta(hours=3),
        grade=3,
    )
    early = timezone.localtime() - datetime.timedelta(hours=5)
    response = as_investigator.post(
        reverse("adverse_events:sae_report", args=[patient.pk, ae.pk]),
        {"kind": "INITIAL", "sent_at": early.strftime("%Y-%m-%dT%H:%M"), "summary": "x"},
    )
    assert (
        response.status_code == 422
        and "before the site became aware" in response.text
        and not SaeReport.objects.exists()
    )


# --- Safety tables, casebook panel, patient dates ------------------------------------------------------


def test_safety_page_tables(as_data_manager):
    p1, p2 = RegisteredPatientFactory(), RegisteredPatientFactory()
    AdverseEventFactory(patient=p1, grade=2)
    AdverseEventFactory(patient=p1, ctcae_term=term(HYPERTENSION), grade=3, acn_axitinib="DOSE REDUCED")
    AdverseEventFactory(
        patient=p2,
        ctcae_term=term(ALT_INCREASED),
        grade=3,
        immune_related="Y",
        serious="Y",
        aesmie="Y",
        awareness_at=timezone.now(),
        acn_toripalimab="DRUG WITHDRAWN",
        rel_toripalimab="PROBABLE",
    )
    page = as_data_manager.get(reverse("adverse_events:safety"))
    text = page.text
    for testid in (
        "safety-overview",
        "safety-by-grade",
        "safety-related",
        "safety-actions",
        "safety-soc-term",
        "safety-sae",
        "safety-irae",
    ):
        assert f'data-testid="{testid}"' in text
    assert "2 (100.0%)" in text and "Hypertension" in text and "dose reduction" in text


def test_safety_page_empty(as_data_manager):
    assert 'data-testid="safety-empty"' in as_data_manager.get(reverse("adverse_events:safety")).text


def test_patient_dates_provider(patient):
    AdverseEventFactory(
        patient=patient,
        ongoing="N",
        resolution_date=TODAY - datetime.timedelta(days=2),
        outcome="RECOVERED/RESOLVED",
    )
    from adverse_events.crfs import ae_dates

    assert ae_dates in patient_dates._providers
    dates = list(ae_dates(patient))
    assert [(d.field, d.date, d.kind) for d in dates] == [
        ("Onset date", TODAY - datetime.timedelta(days=10), "procedure"),
        ("Resolved / grade changed on", TODAY - datetime.timedelta(days=2), "procedure"),
    ]


def test_demo_is_idempotent(investigator):
    import io

    from adverse_events import demo

    for _ in range(4):
        RegisteredPatientFactory(registration_date=TODAY - datetime.timedelta(days=200))
    out = io.StringIO()
    demo.load(users={"investigator": investigator}, stdout=out)
    count = AdverseEvent.objects.count()
    demo.load(users={"investigator": investigator}, stdout=out)
    assert count == 10 and AdverseEvent.objects.count() == count and "skipped" in out.getvalue()
    assert AdverseEvent.objects.filter(serious="Y").count() == 2
    assert AdverseEvent.objects.filter(parent_episode__isnull=False).count() == 1


def test_safety_population_counts_toripalimab_only_patients():
    from adverse_events.selectors import safety_population
    from tests.factories import RegisteredPatientFactory
    from tests.factories_treatment import ToripalimabInfusionFactory

    ToripalimabInfusionFactory()
    ToripalimabInfusionFactory()
    RegisteredPatientFactory()  # registered, never treated: not in the safety population (SAFFL)
    assert safety_population() == 2


def test_ae_page_parts_kept_per_patient_version_follow_each_change(
    as_coordinator, treated, django_capture_on_commit_callbacks
):
    """The AE page keeps its patient-data parts (soft checks, episode chain, steroids for the AE) under the
    patient's data version: a second view reads none of them again, and a grade change or a steroid recorded for
    the AE shows on the very next view."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories_treatment import ImmunosuppressantFactory

    with django_capture_on_commit_callbacks(execute=True):
        assert post_ae(as_coordinator, treated, ctcae_term=str(HYPERTENSION), grade="2").status_code == 302
    first = AdverseEvent.objects.get()
    as_coordinator.get(reverse("patient_list"))  # shows (and so drops) the "saved" message
    with CaptureQueriesContext(connection) as cold:
        page = as_coordinator.get(first.get_absolute_url()).text
    assert 'data-testid="ae-chain"' not in page and "Steroids / immunosuppressants" not in page
    with CaptureQueriesContext(connection) as warm:
        again = as_coordinator.get(first.get_absolute_url()).text
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub("", again) == token.sub("", page)
    assert len(warm) < len(cold)

    changed = TODAY - datetime.timedelta(days=4)
    with django_capture_on_commit_callbacks(execute=True):
        as_coordinator.post(
            reverse("adverse_events:grade_change", args=[treated.pk, first.pk]),
            {"change_date": changed.isoformat(), "new_grade": "3"},
        )
    child = AdverseEvent.objects.exclude(pk=first.pk).get()
    page = as_coordinator.get(first.get_absolute_url()).text
    chain = page[page.index('data-testid="ae-chain"') :]
    assert f'href="{first.get_absolute_url()}"' in chain and f'href="{child.get_absolute_url()}"' in chain
    assert f"Grade 3 from {changed:%Y-%m-%d}" in chain

    with django_capture_on_commit_callbacks(execute=True):
        steroid = ImmunosuppressantFactory(patient=treated, adverse_event=first, start_date=changed)
    page = as_coordinator.get(first.get_absolute_url()).text
    assert "Steroids / immunosuppressants for this AE" in page and str(steroid) in page


def test_the_overdue_sae_badge_follows_the_clock_and_the_data(django_capture_on_commit_callbacks, patient):
    """The navigation's overdue-SAE count is kept per data generation, yet exact: it turns when an open SAE falls
    due (no data change needed) and when the SAE is reported (a data change, which bumps the generation)."""
    from adverse_events.selectors import overdue_count

    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        ae = AdverseEventFactory(
            patient=patient,
            serious="Y",
            aeshosp="Y",
            grade=3,
            awareness_at=now - datetime.timedelta(hours=23),
        )
    ae.refresh_from_db()
    assert ae.sae_due_at is not None and now < ae.sae_due_at
    assert overdue_count(now) == 0
    assert overdue_count(now + datetime.timedelta(minutes=30)) == 0  # kept: still before the due time
    assert (
        overdue_count(ae.sae_due_at + datetime.timedelta(seconds=1)) == 1
    )  # fell due: no data change needed
    assert overdue_count(ae.sae_due_at + datetime.timedelta(seconds=2)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        ae.reported_at = now
        ae.save()
    assert overdue_count(ae.sae_due_at + datetime.timedelta(seconds=3)) == 0  # reported: the data changed
