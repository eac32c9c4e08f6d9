"""SDTMIG 3.4 defects found by CDISC CORE and by hand (issue 21), each read back from the exported CSV files of the
small study of ``test_export_sdtm_more`` (one treated patient who died, one screen failure), completed with a
registered patient never treated and without a baseline form, a grade change of an AE and an unreached survival
contact."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings

from adverse_events.models import AdverseEvent
from adverse_events.services import record_grade_change
from reports.exports import metadata as md
from sabr_trial.services import crf_update
from tests import test_export_sdtm_more as base
from tests.factories import RegisteredPatientFactory, entry_user
from tests.factories_adverse_events import FATIGUE, AdverseEventFactory, term
from tests.factories_treatment import days_ago
from treatment.models import AxitinibPeriod

pytestmark = pytest.mark.django_db

study = base.study
_day = base._day


@pytest.fixture
def more(study):
    p, r = study["p"], study["r"]
    user = entry_user()
    # treatment ended: the open axitinib period closes on day 40
    period = AxitinibPeriod.objects.get(patient=p, end_date__isnull=True)
    crf_update(
        instance=period,
        expected_version=period.version,
        data={"end_date": _day(r, 40)},
        reason="Last dose",
        acting_user=user,
    )
    # fatigue worsens from grade 2 to grade 3 on day 12: the grade 2 record closes "not recovered" on the form
    first = AdverseEventFactory(
        patient=p, ctcae_term=term(FATIGUE), grade=2, onset_date=_day(r, 8), acn_sabr="DOSE NOT CHANGED"
    )
    second = record_grade_change(
        ae=first, change_date=_day(r, 12), new_grade=3, reason="Worse", acting_user=user
    )
    untreated = RegisteredPatientFactory(registration_date=days_ago(5))
    return {**study, "untreated": untreated, "g2": first, "g3": second}


def by_subject(rows: list[dict[str, str]], patient) -> list[dict[str, str]]:
    return [r for r in rows if r["USUBJID"] == base.usubjid(patient)]


def test_dm_rfxendtc_and_rfendtc_are_the_last_dose_and_the_end_of_study(more):
    p, r = more["p"], more["r"]
    (dm,) = by_subject(base._files(days_ago(0))["dm"], p)
    assert (
        dm["RFXENDTC"] == _day(r, 40).isoformat()
    )  # the last axitinib day, after the last fraction and infusion
    assert dm["RFENDTC"] == _day(r, 50).isoformat()  # off study (death)


def test_ds_end_of_treatment_is_dated_by_the_last_dose_and_death_is_one_record(more):
    p, r = more["p"], more["r"]
    ds = by_subject(base._files(days_ago(0))["ds"], p)
    (eot,) = [d for d in ds if d["DSSCAT"] == "END OF TREATMENT"]
    assert eot["DSSTDTC"] == _day(r, 40).isoformat()
    deaths = [d for d in ds if d["DSDECOD"] == "DEATH"]
    assert [(d["DSSCAT"], d["DSSTDTC"]) for d in deaths] == [("END OF STUDY", _day(r, 50).isoformat())]
    assert all(d["DSSCAT"] for d in ds if d["DSCAT"] == "DISPOSITION EVENT")


def test_dm_country_race_sex_and_the_sdtmig_3_4_null_arm(more):
    dm = {d["USUBJID"]: d for d in base._files(days_ago(0))["dm"]}
    treated = dm[base.usubjid(more["p"])]
    untreated = dm[base.usubjid(more["untreated"])]
    failure = dm[base.usubjid(more["failure"])]
    assert {d["COUNTRY"] for d in dm.values()} == {settings.STUDY_COUNTRY}
    assert {d["RACE"] for d in dm.values()} == {"NOT REPORTED"}
    assert (treated["SEX"], treated["AGE"], treated["ARMCD"], treated["ACTARMCD"], treated["ARMNRS"]) == (
        "M",
        treated["AGE"],
        "SABRAT",
        "SABRAT",
        "",
    )
    assert treated["AGE"]
    # no baseline form yet: sex unknown (CT SEX U), never null; no arm, with the reason (SDTMIG 3.4)
    assert untreated["SEX"] == "U"
    for d, reason in ((untreated, "ASSIGNED, NOT TREATED"), (failure, "SCREEN FAILURE")):
        assert (d["ARMCD"], d["ARM"], d["ACTARMCD"], d["ACTARM"], d["ARMNRS"], d["ACTARMUD"]) == (
            "",
            "",
            "",
            "",
            reason,
            "",
        )


def test_ae_meddra_hierarchy_from_ctcae(more):
    ae = base._files(days_ago(0))["ae"]
    fatigue = next(a for a in ae if a["AELLT"] == "Fatigue")
    assert (fatigue["AEDECOD"], fatigue["AEPTCD"], fatigue["AELLTCD"]) == (
        "Fatigue",
        str(FATIGUE),
        str(FATIGUE),
    )
    assert fatigue["AEBODSYS"] == fatigue["AESOC"] == "General disorders and administration site conditions"
    # the SOC's code is the code of its "Other, specify" term (MedDRA SOC 10018065)
    assert fatigue["AEBDSYCD"] == fatigue["AESOCCD"] == "10018065"
    assert {"AEHLT", "AEHLTCD", "AEHLGT", "AEHLGTCD"} <= set(fatigue)
    assert all(a["AEDECOD"] and a["AESOCCD"] for a in ae)


def test_ae_ongoing_end_point_and_outcome_agree_with_the_end_date(more):
    records = {(a["AESPID"], a["AETOXGR"]): a for a in base._files(days_ago(0))["ae"]}
    number = str(AdverseEvent.objects.get(pk=more["g2"].pk).ae_number)
    g2, g3 = records[(number, "2")], records[(number, "3")]
    assert (
        AdverseEvent.objects.get(pk=more["g2"].pk).outcome == "NOT RECOVERED/NOT RESOLVED"
    )  # as the form holds it
    # the grade 2 record ended when the AE went on at grade 3: an end date, and no "not recovered" beside it
    assert (g2["AEENDTC"], g2["AEOUT"], g2["AEENRTPT"]) == (_day(more["r"], 12).isoformat(), "", "")
    assert (g3["AEENDTC"], g3["AEENRTPT"], g3["AEENTPT"]) == ("", "ONGOING", days_ago(0).isoformat())
    for a in records.values():
        assert not (a["AEENDTC"] and a["AEOUT"] == "NOT RECOVERED/NOT RESOLVED"), a
        assert bool(a["AEENRTPT"]) == bool(a["AEENTPT"]), a


def test_tr_test_names_and_standard_results_tu_standard_result_ex_dose_form(more):
    sdtm = base._files(days_ago(0))
    assert sdtm["tr"] and all(t["TRTEST"] and t["TRSTRESC"] for t in sdtm["tr"])
    ldiam = next(t for t in sdtm["tr"] if t["TRTESTCD"] == "LDIAM")
    assert (ldiam["TRTEST"], ldiam["TRSTRESC"]) == ("Longest Diameter", ldiam["TRORRES"])
    assert all(t["TUSTRESC"] == t["TUORRES"] for t in sdtm["tu"])
    forms = {(e["EXTRT"], e["EXDOSFRM"]) for e in sdtm["ex"]}
    assert forms == {("SABR", ""), ("AXITINIB", "TABLET"), ("TORIPALIMAB", "INJECTION, SOLUTION")}


def test_ss_not_done_has_a_reason(more):
    ss = base._files(days_ago(0))["ss"]
    not_done = [s for s in ss if s["SSSTAT"] == "NOT DONE"]
    assert not_done and all(s["SSREASND"] for s in not_done)
    assert all(not s["SSREASND"] for s in ss if not s["SSSTAT"])


def test_epoch_and_study_days_everywhere(more):
    p, r = more["p"], more["r"]
    sdtm = base._files(days_ago(0))
    (dm,) = by_subject(sdtm["dm"], p)
    start = datetime.date.fromisoformat(dm["RFSTDTC"])
    assert start == r  # the first axitinib dose and infusion on the registration day (D1)
    ae = {a["AESTDTC"]: a for a in by_subject(sdtm["ae"], p)}
    g2 = ae[_day(r, 8).isoformat()]
    assert (g2["AESTDY"], g2["AEENDY"], g2["EPOCH"]) == ("9", "13", "TREATMENT")  # day 1 = RFSTDTC, no day 0
    death = next(d for d in by_subject(sdtm["ds"], p) if d["DSDECOD"] == "DEATH")
    assert (death["DSSTDY"], death["EPOCH"]) == ("51", "FOLLOW-UP")  # after the last dose (day 41)
    consent = next(d for d in by_subject(sdtm["ds"], p) if d["DSDECOD"] == "INFORMED CONSENT OBTAINED")
    assert (consent["DSSTDY"], consent["EPOCH"]) == ("-3", "SCREENING")
    counted = 0
    for name, rows in sdtm.items():
        ds = md.SDTM.get(name.upper())
        if ds is None or "EPOCH" not in ds.columns or "USUBJID" not in ds.columns:
            continue
        for row in by_subject(rows, p):
            for var in ("DTC", "STDTC", "ENDTC"):
                value = row.get(f"{name.upper()}{var}", "")
                if len(value) == 10:
                    day = (datetime.date.fromisoformat(value) - start).days
                    assert row[f"{name.upper()}{var[:-3]}DY"] == str(day + 1 if day >= 0 else day), (
                        name,
                        row,
                    )
                    counted += 1
    assert counted > 40


def test_labels_are_title_case_within_40_characters_and_grades_are_character(more):
    files = base._files(days_ago(0))
    dictionary = {(d["domain"], d["variable"]): d for d in files["_dictionary"]}
    assert all(len(d["label"]) <= 40 for d in dictionary.values())
    assert dictionary[("AE", "AEREL")]["label"] == "Causality"
    assert all(md.is_title_case(d["label"]) for k, d in dictionary.items() if not k[1].startswith("QNAM="))
    for var in (("AE", "AETOXGR"), ("MH", "MHTOXGR"), ("AE", "AESPID")):
        assert dictionary[var]["type"] == "text", var


def test_sponsor_extensions_are_flagged(more):
    files = base._files(days_ago(0))
    codelists = {(c["codelist"], c["term"]): c for c in files["_codelists"]}
    assert codelists[("DSDECOD", "REGISTERED")]["extended"] == "Y"
    assert codelists[("DSDECOD", "DEATH")]["extended"] == "N"
    used = {d["DSDECOD"] for d in files["ds"]}
    assert used <= {term for (cl, term) in codelists if cl == "DSDECOD"}
