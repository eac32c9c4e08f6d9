"""SDTM domains beyond DM/DS/EX/AE/TU/TR/RS: IE/TI, CM, PR, MH, DD, SS, EC, the SUPP-- files and RELREC, checked
row by row on a small known study built through the factories (one treated patient who had an immune-related
ALT increase handled with prednisone, an axitinib interruption and reduction, an omitted toripalimab cycle and an
undelivered SABR fraction, then died of a grade 5 AE; one screen failure)."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.conf import settings

from assessments.models import Lesion, TumourAssessment
from endpoints.services import run_recompute
from enrollment.models import (
    Baseline,
    DeathReport,
    Disposition,
    Eligibility,
    EligibilityAnswer,
    MedicalHistory,
    PriorTherapy,
    ScreeningLog,
    SurvivalContact,
)
from reports import exports
from tests.factories import PatientFactory
from tests.factories_adverse_events import ALT_INCREASED, DEATH_NOS, AdverseEventFactory, term
from tests.factories_assessments import LesionFactory
from tests.factories_treatment import (
    AxitinibPeriodFactory,
    ImmunosuppressantFactory,
    SabrCourseFactory,
    SabrFractionFactory,
    SabrTargetFactory,
    ToripalimabInfusionFactory,
    consented_patient,
    days_ago,
)

pytestmark = pytest.mark.django_db


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _day(start: datetime.date, n: int) -> datetime.date:
    return start + datetime.timedelta(days=n)


@pytest.fixture
def study():
    p = consented_patient(registered_days_ago=60)
    r = p.registration_date
    Baseline.objects.create(
        patient=p,
        birth_year=1960,
        sex="M",
        assessment_date=_day(r, -5),
        ecog=1,
        kps=80,
        histology="CLEAR CELL",
        sarcomatoid="N",
        diagnosis_date=datetime.date(2018, 1, 15),
        prior_nephrectomy="Y",
        nephrectomy_date=datetime.date(2019, 6, 1),
        prior_systemic_lines=1,
        metastatic_lesion_count=2,
        imdc_lab_date=_day(r, -5),
        hgb_below_lln="N",
        calcium_above_uln="N",
        neutrophils_above_uln="N",
        platelets_above_uln="N",
    )
    MedicalHistory.objects.create(
        patient=p,
        mh_term="Hypertension",
        mh_category="CARDIOVASCULAR",
        start_date="2019-03",
        ongoing="Y",
        baseline_grade=1,
        systemic_tx_needed="N",
    )
    PriorTherapy.objects.create(
        patient=p,
        therapy_type="SYSTEMIC",
        agent="Sunitinib",
        setting="METASTATIC",
        pd1_pdl1="N",
        start_date="2021-05",
        end_date="2022-01",
        best_response="PR",
    )
    PriorTherapy.objects.create(
        patient=p,
        therapy_type="RADIOTHERAPY",
        rt_site="BONE",
        rt_laterality="LEFT",
        rt_dose_gy=Decimal("8"),
        rt_fractions=1,
        start_date="2020",
    )
    l1 = LesionFactory(patient=p, organ="LIVER", baseline_date=_day(r, -10))
    l2 = LesionFactory(
        patient=p,
        role=Lesion.Role.NON_TARGET,
        organ="LUNG",
        laterality="RIGHT",
        baseline_value_mm=None,
        baseline_date=_day(r, -10),
    )
    ae1 = AdverseEventFactory(
        patient=p,
        ctcae_term=term(ALT_INCREASED),
        grade=3,
        onset_date=_day(r, 4),
        ongoing="N",
        resolution_date=_day(r, 20),
        outcome="RECOVERED/RESOLVED",
        rel_sabr="UNLIKELY",
        rel_axitinib="POSSIBLE",
        rel_toripalimab="PROBABLE",
        immune_related="Y",
        acn_axitinib="DRUG INTERRUPTED",
        acn_toripalimab="DRUG INTERRUPTED",
        acn_sabr="DRUG INTERRUPTED",
        treatment_given="Y",
    )
    course = SabrCourseFactory(patient=p, simulation_date=r)
    target = SabrTargetFactory(
        patient=p, course=course, lesion=l1, prescribed_dose_gy=Decimal("30"), n_fractions=3
    )
    SabrFractionFactory(patient=p, target=target, fraction_number=1, fraction_date=_day(r, 5))
    SabrFractionFactory(patient=p, target=target, fraction_number=2, fraction_date=_day(r, 6))
    SabrFractionFactory(
        patient=p,
        target=target,
        fraction_number=3,
        fraction_date=_day(r, 7),
        delivered="N",
        dose_delivered_gy=None,
        not_delivered_reason="TOXICITY",
        adverse_event=ae1,
    )
    AxitinibPeriodFactory(patient=p, start_date=r, end_date=_day(r, 3))
    AxitinibPeriodFactory(
        patient=p,
        start_date=_day(r, 4),
        end_date=_day(r, 10),
        dose_level="INTERRUPTED",
        dose_change_reason="INTERRUPTION FOR TOXICITY",
        adverse_event=ae1,
    )
    AxitinibPeriodFactory(
        patient=p,
        start_date=_day(r, 11),
        dose_level="3 MG BID",
        missed_doses=2,
        dose_change_reason="REDUCTION FOR TOXICITY",
        adverse_event=ae1,
    )
    ToripalimabInfusionFactory(patient=p, cycle_number=1, infusion_date=r, lot_number="T123")
    ToripalimabInfusionFactory(
        patient=p,
        cycle_number=2,
        infusion_status="OMITTED",
        infusion_date=None,
        dose_mg=None,
        status_reason="ADVERSE EVENT",
        adverse_event=ae1,
        infusion_interrupted="",
    )
    ImmunosuppressantFactory(
        patient=p,
        drug="PREDNISONE",
        dose=Decimal("60"),
        start_date=_day(r, 5),
        ongoing="N",
        end_date=_day(r, 19),
        indication="IMMUNE-RELATED AE",
        adverse_event=ae1,
    )
    SurvivalContact.objects.create(
        patient=p,
        contact_date=_day(r, 30),
        method="TELEPHONE",
        reached="Y",
        survival_status="ALIVE",
        new_anticancer_tx="N",
    )
    SurvivalContact.objects.create(patient=p, contact_date=_day(r, 40), method="TELEPHONE", reached="N")
    # the death report first: a grade 5 AE needs it (EC-AE-2); it names the AE once the AE exists
    death = DeathReport.objects.create(
        patient=p,
        death_date=_day(r, 50),
        primary_cause="ADVERSE EVENT",
        autopsy="N",
        source="HOSPITAL RECORD",
    )
    ae2 = AdverseEventFactory(
        patient=p,
        ctcae_term=term(DEATH_NOS),
        grade=5,
        onset_date=_day(r, 50),
        ongoing="N",
        resolution_date=_day(r, 50),
        outcome="FATAL",
        serious="Y",
        aesdth="Y",
        rel_toripalimab="UNLIKELY",
        acn_sabr="DOSE NOT CHANGED",
        awareness_at=datetime.datetime.combine(_day(r, 50), datetime.time(9), datetime.UTC),
    )
    DeathReport.objects.filter(pk=death.pk).update(adverse_event=ae2)
    Disposition.objects.create(
        patient=p, eot_reason="ADVERSE EVENT", eot_adverse_event=ae1, eos_date=_day(r, 50), eos_reason="DEATH"
    )
    TumourAssessment.objects.create(
        patient=p,
        scan_date_first=_day(r, 45),
        visit_label="WEEK 8",
        overall_resp="PR",
        overall_resp_nonirr="SD",
        target_resp="PR",
        clinical_deterioration="N",
    )
    # Screen failure: the checklist says INCL06 not met and EXCL03 present; the log adds EXCL01.
    f = PatientFactory()
    ScreeningLog.objects.create(
        patient=f,
        screening_date=days_ago(20),
        outcome="SCREEN FAILURE",
        outcome_date=days_ago(18),
        failure_reason="CRITERIA NOT MET",
        failed_criteria=["INCL06", "EXCL01"],
    )
    elig = Eligibility.objects.create(patient=f, criteria_version="1.0", all_met="N")
    answers = {"INCL06": "N", "EXCL03": "Y", "INCL01": "Y", "EXCL02": "N"}
    for cid, answer in answers.items():
        EligibilityAnswer.objects.create(
            eligibility=elig,
            criterion_id=cid,
            answer=answer,
            category="INCLUSION" if cid.startswith("INCL") else "EXCLUSION",
        )
    return {"p": p, "r": r, "failure": f, "ae1": ae1, "ae2": ae2, "l1": l1, "l2": l2}


def _files(cutoff: datetime.date) -> dict[str, list[dict[str, str]]]:
    snap = run_recompute(trigger="test", cutoff=cutoff)
    files = exports.sdtm_files(cutoff, snap, exports.KeyMap())
    return {name.removeprefix("sdtm/").removesuffix(".csv"): rows_of(data) for name, data in files.items()}


def usubjid(patient) -> str:
    return f"{settings.STUDY_ID}-{patient.study_number or patient.screening_number}"


def test_ie_holds_only_the_criteria_not_met_and_ti_every_criterion(study):
    sdtm = _files(days_ago(0))
    ie = sdtm["ie"]
    assert [(r["USUBJID"], r["IESEQ"], r["IETESTCD"], r["IECAT"], r["IEORRES"]) for r in ie] == [
        (usubjid(study["failure"]), "1", "EXCL01", "EXCLUSION", "Y"),
        (usubjid(study["failure"]), "2", "EXCL03", "EXCLUSION", "Y"),
        (usubjid(study["failure"]), "3", "INCL06", "INCLUSION", "N"),
    ]
    assert {r["DOMAIN"] for r in ie} == {"IE"} and ie[2]["IETEST"] == "ECOG performance status 0-1"
    # no confirmation date: the screening outcome date
    assert {r["IEDTC"] for r in ie} == {days_ago(18).isoformat()}
    ti = sdtm["ti"]
    assert len(ti) == 12 and ti[0]["IETESTCD"] == "INCL01" and ti[0]["TIVERS"] == "1.0"


def test_cm_pr_mh(study):
    sdtm = _files(days_ago(0))
    p, r = study["p"], study["r"]
    cm = sdtm["cm"]
    assert [(c["CMSEQ"], c["CMTRT"], c["CMCAT"], c["CMSTDTC"], c["CMENDTC"]) for c in cm] == [
        ("1", "Sunitinib", "PRIOR CANCER THERAPY", "2021-05", "2022-01"),
        ("2", "PREDNISONE", "IMMUNOSUPPRESSANT", _day(r, 5).isoformat(), _day(r, 19).isoformat()),
    ]
    assert (cm[1]["CMINDC"], cm[1]["CMDOSE"], cm[1]["CMDOSU"], cm[1]["CMDOSFRQ"], cm[1]["CMROUTE"]) == (
        "IMMUNE-RELATED AE",
        "60.00",
        "mg",
        "QD",
        "ORAL",
    )
    assert cm[1]["CMENRTPT"] == "" and all(c["USUBJID"] == usubjid(p) for c in cm)
    supp = {(s["IDVARVAL"], s["QNAM"]): s["QVAL"] for s in sdtm["suppcm"]}
    assert (
        supp[("1", "PD1FL")] == "N" and supp[("1", "BESTRSP")] == "PR" and supp[("2", "PREDEQD")] == "60.00"
    )

    pr = sdtm["pr"]
    assert [(x["PRSEQ"], x["PRTRT"], x["PRSTDTC"]) for x in pr] == [
        ("1", "NEPHRECTOMY", "2019-06-01"),
        ("2", "RADIOTHERAPY", "2020"),
        ("3", "SABR", _day(r, 5).isoformat()),
    ]
    sabr = pr[2]
    assert (
        sabr["PRGRPID"],
        sabr["PRLNKID"],
        sabr["PRCAT"],
        sabr["PRDOSE"],
        sabr["PRDOSU"],
        sabr["PRDOSRGM"],
        sabr["PRLOC"],
        sabr["PRENDTC"],
    ) == (
        "C1",
        study["l1"].lesion_code,
        "PROTOCOL SABR",
        "30.00",
        "Gy",
        "3 FRACTIONS",
        "LIVER",
        _day(r, 6).isoformat(),
    )
    assert (pr[0]["PRPRESP"], pr[0]["PROCCUR"]) == ("Y", "Y")
    assert (pr[1]["PRLOC"], pr[1]["PRLAT"], pr[1]["PRDOSE"]) == ("BONE", "LEFT", "8.00")
    supp = {(s["IDVARVAL"], s["QNAM"]): s["QVAL"] for s in sdtm["supppr"]}
    assert supp[("3", "NFRAC")] == "3" and supp[("3", "NFRACDEL")] == "2" and supp[("2", "NFRAC")] == "1"
    assert Decimal(supp[("3", "BED10")]) == Decimal("60")  # 30 Gy / 3: 30 x (1 + 10/10)

    mh = sdtm["mh"]
    assert [(m["MHSEQ"], m["MHTERM"], m["MHCAT"], m["MHSTDTC"], m["MHENRTPT"], m["MHTOXGR"]) for m in mh] == [
        ("1", "RENAL CELL CARCINOMA", "PRIMARY DIAGNOSIS", "2018-01-15", "", ""),
        ("2", "Hypertension", "CARDIOVASCULAR", "2019-03", "ONGOING", "1"),
    ]
    assert mh[1]["MHENTPT"] == _day(r, -3).isoformat()  # the first consent
    assert {(s["IDVARVAL"], s["QNAM"], s["QVAL"]) for s in sdtm["suppmh"]} >= {
        ("1", "HISTOL", "CLEAR CELL"),
        ("1", "SARCFL", "N"),
        ("2", "SYSTXFL", "N"),
    }


def test_dd_ss_and_the_cutoff(study):
    r = study["r"]
    sdtm = _files(days_ago(0))
    dd = sdtm["dd"]
    assert [(d["DDSEQ"], d["DDTESTCD"], d["DDORRES"], d["DDDTC"]) for d in dd] == [
        ("1", "PRCDTH", "ADVERSE EVENT", _day(r, 50).isoformat()),
        ("2", "AUTOPIND", "N", _day(r, 50).isoformat()),
    ]
    assert [(s["IDVARVAL"], s["QNAM"], s["QVAL"]) for s in sdtm["suppdd"]] == [
        ("1", "DTHSRC", "HOSPITAL RECORD")
    ]
    ss = sdtm["ss"]
    assert [(s["SSSEQ"], s["SSTESTCD"], s["SSORRES"], s["SSSTAT"], s["SSDTC"]) for s in ss] == [
        ("1", "SURVSTAT", "ALIVE", "", _day(r, 30).isoformat()),
        ("2", "SURVSTAT", "", "NOT DONE", _day(r, 40).isoformat()),
    ]
    assert [s["QVAL"] for s in sdtm["suppss"] if s["QNAM"] == "CONTMETH"] == ["TELEPHONE", "TELEPHONE"]
    # Cut-off before the death and the second contact: neither is exported, nor the death's RELREC link.
    early = _files(_day(r, 35))
    assert early["dd"] == [] and len(early["ss"]) == 1
    assert not [x for x in early["relrec"] if x["RDOMAIN"] == "DD"]


def test_ec_has_every_collected_exposure_record(study):
    r = study["r"]
    ec = _files(days_ago(0))["ec"]
    got = [
        (e["ECSEQ"], e["ECTRT"], e["ECOCCUR"], e["ECREASOC"], e["ECDOSE"], e["ECSPID"], e["ECSTDTC"])
        for e in ec
    ]
    assert got == [
        ("1", "AXITINIB", "Y", "", "5", "5 MG BID", r.isoformat()),
        ("2", "TORIPALIMAB", "Y", "", "240.0", "C1", r.isoformat()),
        ("3", "AXITINIB", "N", "INTERRUPTION FOR TOXICITY", "", "INTERRUPTED", _day(r, 4).isoformat()),
        ("4", "SABR", "Y", "", "10.00", "F1", _day(r, 5).isoformat()),
        ("5", "SABR", "Y", "", "10.00", "F2", _day(r, 6).isoformat()),
        ("6", "SABR", "N", "TOXICITY", "", "F3", _day(r, 7).isoformat()),
        ("7", "AXITINIB", "Y", "", "3", "3 MG BID", _day(r, 11).isoformat()),
        (
            "8",
            "TORIPALIMAB",
            "N",
            "ADVERSE EVENT",
            "",
            "C2",
            _day(r, 21).isoformat(),
        ),  # dated by its planned date
    ]
    assert (ec[3]["ECLNKID"], ec[3]["ECGRPID"], ec[3]["ECDOSU"], ec[3]["ECLOC"]) == (
        study["l1"].lesion_code,
        "C1",
        "Gy",
        "LIVER",
    )
    assert (ec[1]["ECLOT"], ec[1]["ECROUTE"], ec[6]["ECDOSFRQ"], ec[6]["ECENDTC"]) == (
        "T123",
        "INTRAVENOUS",
        "BID",
        "",
    )
    assert {r["ECMOOD"] for r in ec} == {"PERFORMED"}
    supp = {(s["IDVARVAL"], s["QNAM"]): s["QVAL"] for s in _files(days_ago(0))["suppec"]}
    assert supp[("8", "INFSTAT")] == "OMITTED" and supp[("8", "PLANDT")] == _day(r, 21).isoformat()
    assert supp[("7", "MISSDOS")] == "2" and ("3", "MISSDOS") not in supp


def test_suppae_supptu_supprs(study):
    sdtm = _files(days_ago(0))
    supp = {(s["IDVARVAL"], s["QNAM"]): s for s in sdtm["suppae"]}
    ae = {a["AESEQ"]: a for a in sdtm["ae"]}
    assert ae["1"]["AELLTCD"] == str(ALT_INCREASED) and ae["2"]["AETOXGR"] == "5"
    for qnam, value in (
        ("AERELSAB", "UNLIKELY"),
        ("AERELAXI", "POSSIBLE"),
        ("AERELTOR", "PROBABLE"),
        ("AEACN1", "DRUG INTERRUPTED"),
        ("AEACN2", "DRUG INTERRUPTED"),
        ("AEIRFL", "Y"),
        ("TOXGRV", "5.0"),
    ):
        row = supp[("1", qnam)]
        assert (row["RDOMAIN"], row["IDVAR"], row["QVAL"], row["USUBJID"]) == (
            "AE",
            "AESEQ",
            value,
            usubjid(study["p"]),
        ), qnam
    assert supp[("1", "AERELTOR")]["QEVAL"] == "INVESTIGATOR" and supp[("1", "AEIRFL")]["QLABEL"]
    assert supp[("2", "AEIRFL")]["QVAL"] == "N" and ("2", "EXPECTFL") not in supp  # empty values write no row

    tu = {t["TULNKID"]: t["TUSEQ"] for t in sdtm["tu"]}
    supptu = {(s["IDVARVAL"], s["QNAM"]): s["QVAL"] for s in sdtm["supptu"]}
    l1, l2 = study["l1"].lesion_code, study["l2"].lesion_code
    assert supptu[(tu[l1], "IRRADFL")] == "Y" and supptu[(tu[l1], "SABRTGT")] == "C1"
    assert supptu[(tu[l2], "IRRADFL")] == "N" and (tu[l2], "SABRTGT") not in supptu

    ovrl = next(x for x in sdtm["rs"] if x["RSTESTCD"] == "OVRLRESP")
    supprs = [s for s in sdtm["supprs"] if s["QNAM"] == "OVRNIRR"]
    assert [(s["IDVAR"], s["IDVARVAL"], s["QVAL"]) for s in supprs] == [("RSSEQ", ovrl["RSSEQ"], "SD")]
    assert ovrl["RSORRES"] == "PR"
    assert (
        ovrl["RSDTC"] == (study["r"] + datetime.timedelta(days=45)).isoformat()
    )  # one scan day: no last date


def test_relrec_links_each_ae_foreign_key(study):
    sdtm = _files(days_ago(0))
    seq = {d: {x[f"{d}SEQ"]: x for x in sdtm[d.lower()]} for d in ("AE", "CM", "EC", "EX", "DD", "DS")}
    groups: dict[str, list[tuple[str, str]]] = {}
    for row in sdtm["relrec"]:
        groups.setdefault(row["RELID"], []).append((row["RDOMAIN"], row["IDVARVAL"]))
    # dataset-level: the lesion code links TU to EX, EC and PR
    assert groups.pop("TUEX") == [("TU", ""), ("EX", "")] and {"TUEC", "TUPR"} <= set(groups)
    groups.pop("TUEC"), groups.pop("TUPR")
    described = set()
    for relid, members in groups.items():
        assert members[0][0] == "AE", relid
        ae = seq["AE"][members[0][1]]
        others = []
        for dom, value in members[1:]:
            rec = seq[dom][value]
            others.append(
                (
                    dom,
                    rec.get(f"{dom}TRT") or rec.get(f"{dom}TESTCD") or rec.get(f"{dom}SCAT"),
                    rec.get(f"{dom}SPID") or rec.get(f"{dom}DECOD") or "",
                )
            )
        described.add((ae["AELLTCD"], tuple(others)))
    alt, death = str(ALT_INCREASED), str(DEATH_NOS)
    assert described == {
        (alt, (("CM", "PREDNISONE", ""),)),
        (alt, (("EC", "SABR", "F3"),)),  # not delivered: in EC only
        (alt, (("EC", "AXITINIB", "INTERRUPTED"), ("EX", "AXITINIB", "INTERRUPTED"))),
        (alt, (("EC", "AXITINIB", "3 MG BID"), ("EX", "AXITINIB", "3 MG BID"))),
        (alt, (("EC", "TORIPALIMAB", "C2"),)),
        (alt, (("DS", "END OF TREATMENT", "ADVERSE EVENT"),)),
        (death, (("DD", "PRCDTH", ""),)),
    }
    assert {r["USUBJID"] for r in sdtm["relrec"] if r["RELID"] not in ("TUEX", "TUEC", "TUPR")} == {
        usubjid(study["p"])
    }


def test_export_zip_carries_the_new_files_and_their_dictionary(study):
    snap = run_recompute(trigger="test", cutoff=days_ago(0))
    files = exports.build_files(snap)
    for name in (
        "ie",
        "ti",
        "cm",
        "pr",
        "mh",
        "dd",
        "ss",
        "ec",
        "relrec",
        "suppae",
        "supptu",
        "supprs",
        "suppec",
    ):
        assert f"sdtm/{name}.csv" in files, name
    dictionary = rows_of(files["sdtm/_dictionary.csv"])
    by = {(d["domain"], d["variable"]): d for d in dictionary}
    assert by[("EC", "ECOCCUR")]["label"] == "Occurrence" and by[("CM", "CMSTDTC")]["type"] == "partialDate"
    assert by[("SUPPAE", "QNAM=AEIRFL")]["label"] == "Immune-Related AE Flag"
    assert by[("SUPPRS", "QNAM=OVRNIRR")]["origin"] == "DERIVED"
    # every column of every SDTM file is in the dictionary, with a label
    for name, data in files.items():
        if name.startswith("sdtm/") and name.endswith(".csv") and "/_" not in name:
            header = data.decode().split("\n", 1)[0].split(",")
            domain = name.removeprefix("sdtm/").removesuffix(".csv").upper()
            for var in header:
                assert by[(domain, var)]["label"], (domain, var)


def test_demo_study_exports_every_new_domain_with_its_links() -> None:
    """The demo study completed as in the round trip (steroid for the irAE of SR-003, death of SR-002 from a grade 5
    AE): every new domain has rows, and RELREC links the steroid and the death report to their AEs."""
    import time_machine
    from django.core.management import call_command

    from tests.test_import_roundtrip import TODAY, complete_demo

    with time_machine.travel(TODAY, tick=False):
        call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
        complete_demo()
        cutoff = TODAY.date()
        sdtm = _files(cutoff)
    for name in ("ec", "cm", "pr", "mh", "dd", "ss", "suppae", "supptu", "supprs", "relrec"):
        assert sdtm[name], name
    ae = {(r["USUBJID"], r["AESEQ"]): r for r in sdtm["ae"]}
    cm = {(r["USUBJID"], r["CMSEQ"]): r for r in sdtm["cm"]}
    groups: dict[str, list[dict[str, str]]] = {}
    for row in sdtm["relrec"]:
        groups.setdefault(row["USUBJID"] + row["RELID"], []).append(row)
    steroid = [g for g in groups.values() if g[0]["RDOMAIN"] == "AE" and g[1]["RDOMAIN"] == "CM"]
    assert len(steroid) == 1
    aerow, cmrow = (
        ae[(steroid[0][0]["USUBJID"], steroid[0][0]["IDVARVAL"])],
        cm[(steroid[0][1]["USUBJID"], steroid[0][1]["IDVARVAL"])],
    )
    assert (
        aerow["USUBJID"].endswith("SR-003")
        and cmrow["CMTRT"] == "PREDNISONE"
        and cmrow["CMCAT"] == "IMMUNOSUPPRESSANT"
    )
    supp = {(s["USUBJID"], s["IDVARVAL"], s["QNAM"]): s["QVAL"] for s in sdtm["suppae"]}
    assert supp[(aerow["USUBJID"], aerow["AESEQ"], "AEIRFL")] == "Y"
    death = [g for g in groups.values() if g[1]["RDOMAIN"] == "DD"]
    assert len(death) == 1 and ae[(death[0][0]["USUBJID"], death[0][0]["IDVARVAL"])]["AETOXGR"] == "5"
    assert death[0][0]["USUBJID"].endswith("SR-002")
    # New lesions (R1.19): one TU record each, TUORRES NEW, on the patient's USUBJID, with its location in SUPPTU
    from assessments.models import NewLesion

    new = [r for r in sdtm["tu"] if r["TUORRES"] == "NEW"]
    assert new and len(new) == NewLesion.objects.count()
    assert {(r["USUBJID"].rsplit("-", 1)[-1], r["TULNKID"]) for r in new} == {
        (n.assessment.patient.study_number.rsplit("-", 1)[-1], n.code)
        for n in NewLesion.objects.select_related("assessment__patient")
    }
    # iRECIST (exploratory, R1.50-R1.53): one RS record per assessment that has it, beside the RECIST 1.1 one
    from assessments.models import TumourAssessment

    irecist = [r for r in sdtm["rs"] if r["RSCAT"] == "iRECIST"]
    stored = TumourAssessment.objects.exclude(irecist_resp="")
    assert irecist and len(irecist) == stored.count()
    assert sorted(r["RSORRES"] for r in irecist) == sorted(stored.values_list("irecist_resp", flat=True))
