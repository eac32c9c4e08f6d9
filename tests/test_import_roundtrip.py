"""Round trip of the whole study: the demo study (every CRF of the registry and its child tables), completed with
the forms the demo has no row of (steroid for an irAE, an SAE with its reports, a death from a grade 5 AE), is
exported, imported into an empty database through the services, and exported again: every crf/ file is
byte-identical, and the derived values (responses, BED, planned dates, AE flags) were computed again, not copied."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command

from adverse_events.models import AdverseEvent
from adverse_events.services import add_sae_report
from assessments.models import LesionResult, NewLesion, TumourAssessment
from enrollment.models import DeathReport
from reports import exports
from reports.importer import import_study
from sabr_trial.crf import CrfStatus, registry
from sabr_trial.services import crf_create, crf_update
from tests.factories_adverse_events import DEATH_NOS, FATIGUE, term
from tests.test_exports import wipe_study, write
from treatment.models import Immunosuppressant, SabrTarget, SubsequentTherapy, ToripalimabInfusion

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime(2026, 6, 30, 10, 0, tzinfo=datetime.UTC)
HOSTILE = ['=HYPERLINK("http://evil.example","Fatigue")', "+cmd|' /C calc'!A0 death"]
AT = datetime.UTC


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _ae_data(**values: Any) -> dict[str, Any]:
    data = {
        "ongoing": "Y",
        "serious": "N",
        "aesdth": "N",
        "aeslife": "N",
        "aeshosp": "N",
        "aesdisab": "N",
        "aescong": "N",
        "aesmie": "N",
        "rel_sabr": "UNLIKELY",
        "rel_axitinib": "POSSIBLE",
        "rel_toripalimab": "POSSIBLE",
        "immune_related": "N",
        "acn_axitinib": "DOSE NOT CHANGED",
        "acn_toripalimab": "DOSE NOT CHANGED",
        "acn_sabr": "DOSE NOT CHANGED",
        "treatment_given": "N",
    }
    data.update(values)
    return data


def complete_demo() -> None:
    """The rows the demo study lacks, entered through the services as a coordinator would."""
    user = get_user_model().objects.get(username="coordinator")
    ir_ae = AdverseEvent.objects.get(patient__study_number="SR-003", ae_number=1)  # immune-related hepatitis
    crf_create(
        model=Immunosuppressant,
        patient=ir_ae.patient,
        acting_user=user,
        status=CrfStatus.SUBMITTED,
        data={
            "drug": "PREDNISONE",
            "dose": Decimal("1"),
            "dose_unit": "mg/kg",
            "frequency": "QD",
            "route": "ORAL",
            "start_date": ir_ae.onset_date + datetime.timedelta(days=1),
            "ongoing": "N",
            "end_date": ir_ae.onset_date + datetime.timedelta(days=15),
            "indication": "IMMUNE-RELATED AE",
            "adverse_event": ir_ae,
        },
    )
    p4 = ir_ae.patient.__class__.objects.get(study_number="SR-004")
    onset = datetime.date(2026, 3, 2)
    # Spreadsheet formulas in free text (issue 16 item 7): neutralised in the files, restored by the import.
    sae = crf_create(
        model=AdverseEvent,
        patient=p4,
        acting_user=user,
        status=CrfStatus.SUBMITTED,
        data=_ae_data(
            ctcae_term=term(FATIGUE),
            grade=3,
            onset_date=onset,
            serious="Y",
            aeshosp="Y",
            expected="Y",
            verbatim=HOSTILE[0],
            awareness_at=datetime.datetime(2026, 3, 2, 8, 0, tzinfo=AT),
        ),
    )
    add_sae_report(
        ae=sae,
        kind="INITIAL",
        sent_at=datetime.datetime(2026, 3, 2, 20, 0, tzinfo=AT),
        summary="Hospitalised for fatigue",
        acting_user=user,
    )
    add_sae_report(
        ae=AdverseEvent.objects.get(pk=sae.pk),
        kind="FOLLOW-UP",
        acting_user=user,
        sent_at=datetime.datetime(2026, 3, 9, 9, 0, tzinfo=AT),
        summary="Discharged",
    )
    # SABR to a new lesion (oligoprogression, issue 17 item 2): SR-001's liver lesion N1, recorded at four time
    # points, linked by its code in subsequent-therapy.csv and read back to the record that first showed it.
    n1 = (
        NewLesion.objects.filter(assessment__patient__study_number="SR-001", code="N1")
        .order_by("assessment__scan_date_first")
        .first()
    )
    crf_create(
        model=SubsequentTherapy,
        patient=n1.assessment.patient,
        acting_user=user,
        status=CrfStatus.SUBMITTED,
        data={
            "therapy_type": "RADIOTHERAPY",
            "regimen": "SABR 40 Gy in 5 fractions",
            "start_date": n1.first_seen_date + datetime.timedelta(days=10),
            "reason": "PROGRESSION",
            "local_on_protocol": "Y",
        },
        m2m={"new_lesions_treated": [n1]},
    )
    death = DeathReport.objects.get(patient__study_number="SR-002")
    fatal = crf_create(
        model=AdverseEvent,
        patient=death.patient,
        acting_user=user,
        status=CrfStatus.SUBMITTED,
        data=_ae_data(
            ctcae_term=term(DEATH_NOS),
            grade=5,
            onset_date=death.death_date,
            ongoing="N",
            verbatim=HOSTILE[1],
            resolution_date=death.death_date,
            outcome="FATAL",
            serious="Y",
            aesdth="Y",
            expected="N",
            rel_axitinib="UNLIKELY",
            rel_toripalimab="UNLIKELY",
            awareness_at=datetime.datetime.combine(death.death_date, datetime.time(9), AT),
        ),
    )
    crf_update(
        instance=death,
        expected_version=death.version,
        acting_user=user,
        reason="Cause confirmed",
        data={"primary_cause": "ADVERSE EVENT", "adverse_event": fatal},
    )


def tamper_derived(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files with every derived column of the computed forms overwritten by nonsense."""
    nonsense = {
        "crf/tumour-assessment.csv": {"overall_resp": "CR", "sum_mm": "1.0", "deciding_rule": "x"},
        "crf/lesion-result.csv": {"local_failure": "N", "value_used_mm": "1.0"},
        "crf/sabr-target.csv": {"bed10_gy": "999.0000", "bed10_delivered_gy": "1.0000"},
        "crf/toripalimab.csv": {"planned_date": "2020-01-01"},
        "crf/adverse-event.csv": {"treatment_emergent": "N", "soc": "x"},
        "crf/baseline.csv": {"imdc_group": "POOR", "imdc_score": "6"},
    }
    out = dict(files)
    for name, values in nonsense.items():
        table = rows_of(files[name])
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, **values} for row in table)
        out[name] = buf.getvalue().encode()
    return out


def test_demo_study_round_trip_is_byte_identical_for_every_crf_file(
    tmp_path, django_capture_on_commit_callbacks
) -> None:
    """Derived columns are overwritten in the files before the import: the second export still equals the first,
    so every derived value was computed again by the services, never copied."""
    with time_machine.travel(TODAY, tick=False):
        call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
        complete_demo()
        first = exports.crf_files()
        write(tmp_path, tamper_derived(first))
        wipe_study()
        coordinator = get_user_model().objects.get(username="coordinator")
        get_user_model().objects.filter(username="investigator").update(email="pi@example.org")
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            result = import_study(tmp_path, user=coordinator)
        assert result.committed and not result.problems, [str(p) for p in result.problems[:20]]
        second = exports.crf_files()
    # Migrated history is not news: no SAE e-mail, and the import says how many it held back (R7.4 mail).
    assert not [m for m in mail.outbox if "New SAE" in m.subject]
    assert result.sae_mail_held_back == AdverseEvent.objects.filter(serious="Y").count() > 0
    assert not result.skipped_files
    names = {f"crf/{s.slug}.csv" for s in registry.all()} | {
        f"crf/{stem}.csv" for stem in exports.CHILD_TABLES
    }
    assert names <= set(first)
    empty = sorted(n for n in names if not rows_of(first[n]))
    assert not empty, f"the round trip should cover every form: {empty}"
    different = [n for n in sorted(first) if first[n] != second.get(n)]
    assert not different, different
    # the hostile texts went out neutralised and came back as typed
    ae_file = first["crf/adverse-event.csv"].decode()
    assert all(f"'{text}" in ae_file.replace('""', '"') for text in HOSTILE)
    assert set(HOSTILE) <= set(AdverseEvent.objects.values_list("verbatim", flat=True))
    for name in names:  # every row came back
        # a screening row creates the patient
        form = "patients" if name == "crf/screening.csv" else name[4:-4]
        assert result.created[form] == len(rows_of(first[name])), name
    # the computed values are there (not blank): responses, local failure, BED, planned dates, the cycle
    # death report -> grade 5 AE entered in two steps (EC-DD-2)
    assert TumourAssessment.objects.filter(overall_resp="PD").exclude(deciding_rule="").exists()
    assert LesionResult.objects.filter(local_failure="Y").exists()
    assert SabrTarget.objects.exclude(bed10_delivered_gy=None).count() == SabrTarget.objects.count()
    assert ToripalimabInfusion.objects.exclude(planned_date=None).exists()
    # the new lesion treated came back by its code, to the record of the time point that first showed it
    local = SubsequentTherapy.objects.get(patient__study_number="SR-001", therapy_type="RADIOTHERAPY")
    first_n1 = NewLesion.objects.filter(assessment__patient=local.patient, code="N1")
    assert list(local.new_lesions_treated.all()) == [first_n1.order_by("assessment__scan_date_first").first()]
    assert "SABR 40 Gy in 5 fractions" in first["crf/subsequent-therapy.csv"].decode()
    death = DeathReport.objects.get(patient__study_number="SR-002")
    assert death.primary_cause == "ADVERSE EVENT" and death.adverse_event.grade == 5
