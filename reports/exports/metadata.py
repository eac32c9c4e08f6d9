"""The metadata of every SDTM and ADaM data set: the one source for the CSV columns, the XPT files, define.xml and
the conformance check (``bench/sdtm_check.py``).

One ``Dataset`` per domain: its variables in file order, each with its SDTMIG/ADaMIG label (title case, at most 40
characters: the SAS XPT v5 limit), define.xml data type, maximum length, core designation (Req, Exp, Perm), origin
(Collected from a CRF field, Derived by a DOMAIN.md rule, Assigned by the sponsor, or Protocol) and codelist.
The standards and terminology versions are declared here and nowhere else. Pure: no Django import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The standards the export claims (define.xml, TS, the README).
SDTM_MODEL_VERSION = "2.0"
SDTMIG_VERSION = "3.4"
ADAM_MODEL_VERSION = "2.1"
ADAMIG_VERSION = "1.3"
DEFINE_XML_VERSION = "2.1.0"
#: NCI EVS CDISC Controlled Terminology package used for the codelists (SDTM and ADaM CT, same release date).
CT_VERSION = "2025-03-28"
#: CTCAE v5.0 terms are MedDRA lowest level terms of MedDRA 20.1 (NCI, CTCAE v5.0 introduction).
MEDDRA_VERSION = "20.1"
CTCAE_VERSION = "5.0"

Core = Literal["Req", "Exp", "Perm"]
Origin = Literal["Collected", "Derived", "Assigned", "Protocol"]
#: define.xml 2.1 DataType values used here; ``integer`` and ``float`` are numeric in XPT, the others character.
DataType = Literal["text", "integer", "float", "date", "datetime", "partialDate", "durationDatetime"]
NUMERIC: frozenset[str] = frozenset({"integer", "float"})
#: Words that stay lower case in a title-case label (SDTMIG's own labels: "Date/Time of Collection").
SMALL_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "is",
        "of",
        "within",
        "on",
        "or",
        "per",
        "the",
        "to",
        "with",
        "vs",
    }
)
MAX_LABEL = 40
MAX_NAME = 8


@dataclass(frozen=True)
class Variable:
    """One variable of a data set, in the terms define.xml uses."""

    name: str
    label: str
    data_type: DataType
    length: int
    core: Core
    origin: Origin
    #: Collected: ``<crf slug>.<field>``; Derived: the DOMAIN.md rule id or the method; Assigned/Protocol: what.
    source: str = ""
    codelist: str = ""
    #: SAS display format (ADaM dates are numeric with DATE9.).
    display_format: str = ""

    @property
    def numeric(self) -> bool:
        return self.data_type in NUMERIC


@dataclass(frozen=True)
class Dataset:
    name: str
    label: str
    #: define.xml 2.1 class (SDTMIG section 2.6 / ADaMIG).
    cls: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...]
    standard: Literal["SDTM", "ADaM"] = "SDTM"

    @property
    def columns(self) -> list[str]:
        return [v.name for v in self.variables]

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"{self.name}.{name}")


def V(
    name: str,
    label: str,
    data_type: DataType = "text",
    length: int = 200,
    core: Core = "Perm",
    origin: Origin = "Collected",
    source: str = "",
    codelist: str = "",
    display_format: str = "",
) -> Variable:
    return Variable(name, label, data_type, length, core, origin, source, codelist, display_format)


def is_title_case(label: str) -> bool:
    """True when every word but the small ones starts with a capital or a digit ("Date/Time of Collection")."""
    words = [
        w for part in label.replace("/", " ").replace("-", " ").split() for w in [part.strip("(),")] if w
    ]
    for i, word in enumerate(words):
        if not word[0].isalpha():
            continue
        if word.lower() in SMALL_WORDS and i > 0:
            continue
        if not word[0].isupper():
            return False
    return True


# --- Common identifiers -----------------------------------------------------------------------------------------

STUDYID = V("STUDYID", "Study Identifier", length=20, core="Req", origin="Protocol")


def _domain(code: str) -> Variable:
    return V("DOMAIN", "Domain Abbreviation", length=2, core="Req", origin="Assigned", codelist="DOMAIN")


USUBJID = V(
    "USUBJID", "Unique Subject Identifier", length=40, core="Req", origin="Derived", source="STUDYID-SUBJID"
)


def _seq(d: str) -> Variable:
    return V(f"{d}SEQ", "Sequence Number", "integer", 8, "Req", "Derived", "rank per subject in date order")


def _ids(d: str) -> tuple[Variable, ...]:
    return (STUDYID, _domain(d), USUBJID, _seq(d))


def _dtc(
    d: str, suffix: str, label: str, core: Core = "Exp", source: str = "", data_type: DataType = "date"
) -> Variable:
    return V(f"{d}{suffix}", label, data_type, 20, core, "Collected", source)


VISIT = V("VISIT", "Visit Name", length=40, core="Perm", source="tumour-assessment.visit_label")


# --- SDTM domains -------------------------------------------------------------------------------------------------

DM = Dataset(
    "DM",
    "Demographics",
    "SPECIAL PURPOSE",
    "One record per subject",
    ("STUDYID", "USUBJID"),
    (
        STUDYID,
        _domain("DM"),
        USUBJID,
        V(
            "SUBJID",
            "Subject Identifier for the Study",
            length=20,
            core="Req",
            source="registration.study_number",
        ),
        V("RFSTDTC", "Subject Reference Start Date/Time", "date", 20, "Exp", "Derived", "D1 treatment start"),
        V(
            "RFENDTC",
            "Subject Reference End Date/Time",
            "date",
            20,
            "Exp",
            "Derived",
            "end of study date, else the last study treatment date",
        ),
        V(
            "RFXSTDTC",
            "Date/Time of First Study Treatment",
            "date",
            20,
            "Exp",
            "Derived",
            "D1 treatment start",
        ),
        V(
            "RFXENDTC",
            "Date/Time of Last Study Treatment",
            "date",
            20,
            "Exp",
            "Derived",
            "last exposure record (EX)",
        ),
        V(
            "RFICDTC",
            "Date/Time of Informed Consent",
            "datetime",
            25,
            "Exp",
            "Collected",
            "consent.consent_datetime",
        ),
        V(
            "RFPENDTC",
            "Date/Time of End of Participation",
            "date",
            20,
            "Exp",
            "Collected",
            "disposition.eos_date",
        ),
        V("DTHDTC", "Date/Time of Death", "date", 20, "Exp", "Collected", "death.death_date"),
        V(
            "DTHFL",
            "Subject Death Flag",
            length=1,
            core="Exp",
            origin="Derived",
            source="death report exists",
            codelist="NY",
        ),
        V("SITEID", "Study Site Identifier", length=10, core="Req", origin="Assigned"),
        V("BRTHDTC", "Date/Time of Birth", "partialDate", 20, "Perm", "Collected", "baseline.birth_year"),
        V("AGE", "Age", "integer", 8, "Exp", "Derived", "baseline.age_at_consent"),
        V("AGEU", "Age Units", length=10, core="Exp", origin="Assigned", codelist="AGEU"),
        V("SEX", "Sex", length=1, core="Req", source="baseline.sex", codelist="SEX"),
        V(
            "RACE",
            "Race",
            length=40,
            core="Exp",
            origin="Assigned",
            source="not collected by the protocol",
            codelist="RACE",
        ),
        V("ARMCD", "Planned Arm Code", length=20, core="Exp", origin="Assigned", codelist="ARMCD"),
        V("ARM", "Description of Planned Arm", length=200, core="Exp", origin="Assigned", codelist="ARM"),
        V("ACTARMCD", "Actual Arm Code", length=20, core="Exp", origin="Derived", codelist="ARMCD"),
        V("ACTARM", "Description of Actual Arm", length=200, core="Exp", origin="Derived", codelist="ARM"),
        V(
            "ARMNRS",
            "Reason Arm and/or Actual Arm is Null",
            length=40,
            core="Exp",
            origin="Derived",
            codelist="ARMNULRS",
        ),
        V("ACTARMUD", "Description of Unplanned Actual Arm", length=200, core="Exp", origin="Derived"),
        V(
            "COUNTRY",
            "Country",
            length=3,
            core="Req",
            origin="Assigned",
            source="STUDY_COUNTRY setting",
            codelist="COUNTRY",
        ),
    ),
)

DS = Dataset("DS", "Disposition", "EVENTS", "One record per disposition status or protocol milestone per subject",
             ("STUDYID", "USUBJID", "DSDECOD", "DSSTDTC"), (
    *_ids("DS"),
    V("DSTERM", "Reported Term for the Disposition Event", core="Req"),
    V("DSDECOD", "Standardized Disposition Term", core="Req", origin="Assigned", codelist="DSDECOD"),
    V("DSCAT", "Category for Disposition Event", length=40, core="Exp", origin="Assigned", codelist="DSCAT"),
    V("DSSCAT", "Subcategory for Disposition Event", length=40, core="Perm", origin="Assigned"),
    _dtc("DS", "STDTC", "Start Date/Time of Disposition Event"),
))  # fmt: skip

EX = Dataset("EX", "Exposure", "INTERVENTIONS", "One record per constant-dosing interval per subject",
             ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC"), (
    *_ids("EX"),
    V("EXTRT", "Name of Treatment", length=40, core="Req", origin="Assigned"),
    V("EXDOSE", "Dose", "float", 8, "Exp", "Collected", "sabr-fraction.dose_delivered_gy; axitinib; toripalimab"),
    V("EXDOSU", "Dose Units", length=10, core="Exp", origin="Assigned", codelist="UNIT"),
    V("EXDOSFRQ", "Dosing Frequency per Interval", length=10, core="Perm", origin="Assigned", codelist="FREQ"),
    V("EXDOSFRM", "Dose Form", length=20, core="Exp", origin="Assigned", codelist="FRM"),
    V("EXROUTE", "Route of Administration", length=20, core="Perm", origin="Assigned", codelist="ROUTE"),
    V("EXLOC", "Location of Dose Administration", length=40, source="lesion.organ"),
    V("EXLAT", "Laterality", length=20, source="lesion.laterality", codelist="LAT"),
    V("EXLNKID", "Link ID", length=20, source="lesion.lesion_code"),
    V("EXLOT", "Lot Number", length=40, source="toripalimab.lot_number"),
    V("EXADJ", "Reason for Dose Adjustment"),
    V("EXSPID", "Sponsor-Defined Identifier", length=40, origin="Assigned"),
    _dtc("EX", "STDTC", "Start Date/Time of Treatment", "Exp"),
    _dtc("EX", "ENDTC", "End Date/Time of Treatment", "Exp"),
))  # fmt: skip

AE = Dataset(
    "AE",
    "Adverse Events",
    "EVENTS",
    "One record per adverse event per grade per subject",
    ("STUDYID", "USUBJID", "AEDECOD", "AESTDTC"),
    (
        *_ids("AE"),
        V(
            "AESPID",
            "Sponsor-Defined Identifier",
            length=20,
            origin="Derived",
            source="adverse-event.ae_number",
        ),
        V("AEGRPID", "Group ID", length=20, origin="Derived", source="adverse-event.parent_episode"),
        V("AETERM", "Reported Term for the Adverse Event", core="Req", source="adverse-event.verbatim"),
        V("AELLT", "Lowest Level Term", core="Exp", source="adverse-event.ctcae_term"),
        V("AELLTCD", "Lowest Level Term Code", "integer", 8, "Exp", "Collected", "adverse-event.ctcae_term"),
        V(
            "AEDECOD",
            "Dictionary-Derived Term",
            core="Req",
            origin="Derived",
            source="CTCAE 5.0 term (MedDRA PT)",
        ),
        V("AEPTCD", "Preferred Term Code", "integer", 8, "Exp", "Derived", "CTCAE 5.0 MedDRA code"),
        V("AEHLT", "High Level Term", core="Exp", origin="Derived", source="MedDRA hierarchy (not licensed)"),
        V(
            "AEHLTCD",
            "High Level Term Code",
            "integer",
            8,
            "Exp",
            "Derived",
            "MedDRA hierarchy (not licensed)",
        ),
        V(
            "AEHLGT",
            "High Level Group Term",
            core="Exp",
            origin="Derived",
            source="MedDRA hierarchy (not licensed)",
        ),
        V(
            "AEHLGTCD",
            "High Level Group Term Code",
            "integer",
            8,
            "Exp",
            "Derived",
            "MedDRA hierarchy (not licensed)",
        ),
        V("AEBODSYS", "Body System or Organ Class", core="Exp", origin="Derived", source="CTCAE 5.0 SOC"),
        V(
            "AEBDSYCD",
            "Body System or Organ Class Code",
            "integer",
            8,
            "Exp",
            "Derived",
            "CTCAE 5.0 code of the SOC's Other, specify term",
        ),
        V("AESOC", "Primary System Organ Class", core="Exp", origin="Derived", source="CTCAE 5.0 SOC"),
        V(
            "AESOCCD",
            "Primary System Organ Class Code",
            "integer",
            8,
            "Exp",
            "Derived",
            "CTCAE 5.0 code of the SOC's Other, specify term",
        ),
        V("AETOXGR", "Standard Toxicity Grade", length=1, source="adverse-event.grade", codelist="TOXGR"),
        _dtc("AE", "STDTC", "Start Date/Time of Adverse Event", "Exp", "adverse-event.onset_date"),
        _dtc("AE", "ENDTC", "End Date/Time of Adverse Event", "Exp", "adverse-event.resolution_date"),
        V("AEENRTPT", "End Relative to Reference Time Point", length=10, origin="Derived", codelist="STENRF"),
        V("AEENTPT", "End Reference Time Point", length=20, origin="Derived", source="data cut-off"),
        V("AESER", "Serious Event", length=1, core="Exp", source="adverse-event.serious", codelist="NY"),
        V(
            "AEREL",
            "Causality",
            length=20,
            core="Exp",
            origin="Derived",
            source="strongest of the three agents (R7.1)",
        ),
        V(
            "AEACN",
            "Action Taken with Study Treatment",
            length=40,
            core="Exp",
            origin="Assigned",
            codelist="ACN",
        ),
        V("AEOUT", "Outcome of Adverse Event", length=40, source="adverse-event.outcome", codelist="OUT"),
        V("AESDTH", "Results in Death", length=1, source="adverse-event.aesdth", codelist="NY"),
        V("AESLIFE", "Is Life Threatening", length=1, source="adverse-event.aeslife", codelist="NY"),
        V(
            "AESHOSP",
            "Requires or Prolongs Hospitalization",
            length=1,
            source="adverse-event.aeshosp",
            codelist="NY",
        ),
        V(
            "AESDISAB",
            "Persist or Signif Disability/Incapacity",
            length=1,
            source="adverse-event.aesdisab",
            codelist="NY",
        ),
        V(
            "AESCONG",
            "Congenital Anomaly or Birth Defect",
            length=1,
            source="adverse-event.aescong",
            codelist="NY",
        ),
        V(
            "AESMIE",
            "Other Medically Important Serious Event",
            length=1,
            source="adverse-event.aesmie",
            codelist="NY",
        ),
        V(
            "AECONTRT",
            "Concomitant or Additional Trtmnt Given",
            length=1,
            source="adverse-event.treatment_given",
            codelist="NY",
        ),
    ),
)

TU = Dataset(
    "TU",
    "Tumor/Lesion Identification",
    "FINDINGS",
    "One record per identified tumor per subject per visit",
    ("STUDYID", "USUBJID", "TULNKID", "TUTESTCD"),
    (
        *_ids("TU"),
        V("TULNKID", "Link ID", length=20, core="Exp", source="lesion.lesion_code"),
        V(
            "TUTESTCD",
            "Tumor/Lesion ID Short Name",
            length=8,
            core="Req",
            origin="Assigned",
            codelist="TUTESTCD",
        ),
        V("TUTEST", "Tumor/Lesion ID Test Name", length=40, core="Req", origin="Assigned", codelist="TUTEST"),
        V("TUORRES", "Tumor/Lesion ID Result", length=20, core="Exp", source="lesion.role"),
        V(
            "TUSTRESC",
            "Tumor/Lesion ID Result Std. Format",
            length=20,
            core="Exp",
            origin="Derived",
            source="TUORRES",
            codelist="TUSTRESC",
        ),
        V("TULOC", "Location of the Tumor/Lesion", length=40, core="Exp", source="lesion.organ"),
        V("TULAT", "Laterality", length=20, source="lesion.laterality", codelist="LAT"),
        V("TUMETHOD", "Method of Identification", length=40, core="Exp", source="lesion.method"),
        VISIT,
        _dtc("TU", "DTC", "Date/Time of Tumor/Lesion Identification", "Exp", "lesion.baseline_date"),
    ),
)

TR = Dataset(
    "TR",
    "Tumor/Lesion Results",
    "FINDINGS",
    "One record per tumor measurement per visit per subject",
    ("STUDYID", "USUBJID", "TRTESTCD", "TRLNKID", "TRDTC"),
    (
        *_ids("TR"),
        V("TRLNKID", "Link ID", length=20, core="Exp", source="lesion.lesion_code"),
        V(
            "TRTESTCD",
            "Tumor/Lesion Assessment Short Name",
            length=8,
            core="Req",
            origin="Assigned",
            codelist="TRTESTCD",
        ),
        V(
            "TRTEST",
            "Tumor/Lesion Assessment Test Name",
            length=40,
            core="Req",
            origin="Assigned",
            codelist="TRTEST",
        ),
        V(
            "TRORRES",
            "Result or Finding in Original Units",
            length=40,
            core="Exp",
            source="lesion-result.value_mm",
        ),
        V("TRORRESU", "Original Units", length=10, core="Exp", origin="Assigned", codelist="UNIT"),
        V(
            "TRSTRESC",
            "Character Result/Finding in Std Format",
            length=40,
            core="Exp",
            origin="Derived",
            source="TRORRES",
        ),
        V("TRSTRESN", "Numeric Result/Finding in Std Units", "float", 8, "Exp", "Derived", "TRORRES"),
        V("TRSTRESU", "Standard Units", length=10, core="Exp", origin="Assigned", codelist="UNIT"),
        VISIT,
        _dtc("TR", "DTC", "Date/Time of Tumor/Lesion Measurement", "Exp", "tumour-assessment.scan_date_last"),
    ),
)

RS = Dataset(
    "RS",
    "Disease Response and Clin Classification",
    "FINDINGS",
    "One record per response assessment per visit per subject",
    ("STUDYID", "USUBJID", "RSTESTCD", "RSDTC"),
    (
        *_ids("RS"),
        V("RSTESTCD", "Assessment Short Name", length=8, core="Req", origin="Assigned", codelist="RSTESTCD"),
        V("RSTEST", "Assessment Name", length=40, core="Req", origin="Assigned", codelist="RSTEST"),
        V("RSCAT", "Category for Assessment", length=20, core="Exp", origin="Assigned"),
        V(
            "RSORRES",
            "Result or Finding in Original Units",
            length=20,
            core="Exp",
            origin="Derived",
            source="R1.20-R1.22 time-point response",
        ),
        V(
            "RSSTRESC",
            "Character Result/Finding in Std Format",
            length=20,
            core="Exp",
            origin="Derived",
            source="RSORRES",
            codelist="RSRESP",
        ),
        # A baseline ECOG/KPS left empty with a missing-data code (issue 19 item 9): NOT DONE and the code's reason
        V(
            "RSSTAT",
            "Completion Status",
            length=8,
            core="Perm",
            origin="Derived",
            source="baseline.missing_codes",
            codelist="ND",
        ),
        V(
            "RSREASND",
            "Reason Not Done",
            length=40,
            core="Perm",
            origin="Derived",
            source="baseline.missing_codes",
        ),
        VISIT,
        _dtc("RS", "DTC", "Date/Time of Assessment", "Exp", "tumour-assessment.scan_date_last"),
    ),
)

IE = Dataset(
    "IE",
    "Inclusion/Exclusion Criteria Not Met",
    "FINDINGS",
    "One record per inclusion/exclusion criterion not met per subject",
    ("STUDYID", "USUBJID", "IETESTCD"),
    (
        *_ids("IE"),
        V(
            "IETESTCD",
            "Inclusion/Exclusion Criterion Short Name",
            length=8,
            core="Req",
            source="eligibility.answers",
        ),
        V("IETEST", "Inclusion/Exclusion Criterion", core="Req", origin="Protocol"),
        V(
            "IECAT",
            "Inclusion/Exclusion Category",
            length=10,
            core="Req",
            origin="Protocol",
            codelist="IECAT",
        ),
        V(
            "IEORRES",
            "I/E Criterion Original Result",
            length=1,
            core="Req",
            source="eligibility.answers",
            codelist="NY",
        ),
        V(
            "IESTRESC",
            "I/E Criterion Result in Std Format",
            length=1,
            core="Req",
            origin="Derived",
            codelist="NY",
        ),
        _dtc("IE", "DTC", "Date/Time of Collection", "Perm", "eligibility.confirmed_at"),
    ),
)

CM = Dataset(
    "CM",
    "Concomitant/Concurrent Medications",
    "INTERVENTIONS",
    "One record per recorded intervention occurrence per subject",
    ("STUDYID", "USUBJID", "CMTRT", "CMSTDTC"),
    (
        *_ids("CM"),
        V("CMTRT", "Reported Name of Drug, Med, or Therapy", core="Req"),
        V("CMCAT", "Category for Medication", length=40, origin="Assigned"),
        V("CMINDC", "Indication", length=40, source="immunosuppressant.indication"),
        V("CMDOSE", "Dose per Administration", "float", 8, "Perm", "Collected", "immunosuppressant.dose"),
        V("CMDOSU", "Dose Units", length=10, source="immunosuppressant.dose_unit", codelist="UNIT"),
        V(
            "CMDOSFRQ",
            "Dosing Frequency per Interval",
            length=10,
            source="immunosuppressant.frequency",
            codelist="FREQ",
        ),
        V(
            "CMROUTE",
            "Route of Administration",
            length=20,
            source="immunosuppressant.route",
            codelist="ROUTE",
        ),
        _dtc("CM", "STDTC", "Start Date/Time of Medication", "Perm", data_type="partialDate"),
        _dtc("CM", "ENDTC", "End Date/Time of Medication", "Perm", data_type="partialDate"),
        V("CMENRTPT", "End Relative to Reference Time Point", length=10, origin="Derived", codelist="STENRF"),
        V("CMENTPT", "End Reference Time Point", length=20, origin="Derived", source="data cut-off"),
    ),
)

PR = Dataset("PR", "Procedures", "INTERVENTIONS", "One record per recorded procedure per occurrence per subject",
             ("STUDYID", "USUBJID", "PRTRT", "PRSTDTC"), (
    *_ids("PR"),
    V("PRGRPID", "Group ID", length=20, origin="Derived",
      source="sabr-course.course_number (C<n>); subsequent-therapy FORMSEQ (SU<n>)"),
    V("PRLNKID", "Link ID", length=20,
      source="lesion.lesion_code; subsequent-therapy.lesions_treated, new_lesions_treated (L<n>, N<n>)"),
    V("PRTRT", "Reported Name of Procedure", core="Req"),
    V("PRCAT", "Category", length=40, origin="Assigned"),
    V("PRSCAT", "Subcategory", length=40),
    V("PRPRESP", "Pre-Specified", length=1, origin="Assigned", codelist="NY"),
    V("PROCCUR", "Occurrence", length=1, source="baseline.prior_nephrectomy", codelist="NY"),
    V("PRDOSE", "Dose", "float", 8, "Perm", "Collected", "sabr-target.prescribed_dose_gy"),
    V("PRDOSU", "Dose Units", length=10, origin="Assigned", codelist="UNIT"),
    V("PRDOSRGM", "Intended Dose Regimen", length=40, origin="Derived", source="sabr-target.n_fractions"),
    V("PRLOC", "Location of Procedure", length=40, source="lesion.organ"),
    V("PRLAT", "Laterality", length=20, source="lesion.laterality", codelist="LAT"),
    _dtc("PR", "STDTC", "Start Date/Time of Procedure", "Exp", data_type="partialDate"),
    _dtc("PR", "ENDTC", "End Date/Time of Procedure", "Perm", data_type="partialDate"),
))  # fmt: skip

MH = Dataset("MH", "Medical History", "EVENTS", "One record per medical history event per subject",
             ("STUDYID", "USUBJID", "MHTERM", "MHSTDTC"), (
    *_ids("MH"),
    V("MHTERM", "Reported Term for the Medical History", core="Req", source="medical-history.mh_term"),
    V("MHCAT", "Category for Medical History", length=40, source="medical-history.mh_category"),
    _dtc("MH", "STDTC", "Start Date/Time of Medical History Event", "Perm", data_type="partialDate"),
    _dtc("MH", "ENDTC", "End Date/Time of Medical History Event", "Perm", data_type="partialDate"),
    V("MHENRTPT", "End Relative to Reference Time Point", length=10, origin="Derived", codelist="STENRF"),
    V("MHENTPT", "End Reference Time Point", length=20, origin="Derived", source="first consent date"),
    V("MHTOXGR", "Standard Toxicity Grade", length=1, source="medical-history.baseline_grade", codelist="TOXGR"),
))  # fmt: skip

DD = Dataset(
    "DD",
    "Death Details",
    "FINDINGS",
    "One record per finding per subject",
    ("STUDYID", "USUBJID", "DDTESTCD"),
    (
        *_ids("DD"),
        V(
            "DDTESTCD",
            "Death Detail Assessment Short Name",
            length=8,
            core="Req",
            origin="Assigned",
            codelist="DDTESTCD",
        ),
        V(
            "DDTEST",
            "Death Detail Assessment Name",
            length=40,
            core="Req",
            origin="Assigned",
            codelist="DDTEST",
        ),
        V("DDORRES", "Result or Finding as Collected", core="Exp", source="death.primary_cause"),
        V(
            "DDSTRESC",
            "Character Result/Finding in Std Format",
            core="Exp",
            origin="Derived",
            source="DDORRES",
        ),
        _dtc("DD", "DTC", "Date/Time of Collection", "Perm", "death.death_date"),
    ),
)

SS = Dataset(
    "SS",
    "Subject Status",
    "FINDINGS",
    "One record per status per visit per subject",
    ("STUDYID", "USUBJID", "SSTESTCD", "SSDTC"),
    (
        *_ids("SS"),
        V("SSTESTCD", "Status Short Name", length=8, core="Req", origin="Assigned", codelist="SSTESTCD"),
        V("SSTEST", "Status Name", length=40, core="Req", origin="Assigned", codelist="SSTEST"),
        V(
            "SSORRES",
            "Result or Finding in Original Units",
            length=20,
            core="Exp",
            source="survival.survival_status",
        ),
        V(
            "SSSTRESC",
            "Character Result/Finding in Std Format",
            length=20,
            core="Exp",
            origin="Derived",
            codelist="SSSTRESC",
        ),
        V(
            "SSSTAT",
            "Completion Status",
            length=8,
            origin="Derived",
            source="survival.reached",
            codelist="ND",
        ),
        V("SSREASND", "Reason Not Done", length=40, origin="Assigned", source="survival.reached = N"),
        _dtc("SS", "DTC", "Date/Time of Assessment", "Exp", "survival.contact_date"),
    ),
)

EC = Dataset("EC", "Exposure as Collected", "INTERVENTIONS", "One record per protocol-specified study treatment, "
             "collected-dosing interval, per subject, per mood", ("STUDYID", "USUBJID", "ECTRT", "ECSTDTC"), (
    *_ids("EC"),
    V("ECGRPID", "Group ID", length=20, origin="Derived", source="sabr-course.course_number"),
    V("ECLNKID", "Link ID", length=20, source="lesion.lesion_code"),
    V("ECTRT", "Name of Treatment", length=40, core="Req", origin="Assigned"),
    V("ECMOOD", "Mood", length=10, origin="Assigned", codelist="BRDGMOOD"),
    V("ECPRESP", "Pre-Specified", length=1, origin="Assigned", codelist="NY"),
    V("ECOCCUR", "Occurrence", length=1, origin="Derived", codelist="NY"),
    V("ECREASOC", "Reason for Occur Value"),
    V("ECDOSE", "Dose", "float", 8, "Exp", "Collected"),
    V("ECDOSU", "Dose Units", length=10, core="Exp", origin="Assigned", codelist="UNIT"),
    V("ECDOSFRQ", "Dosing Frequency per Interval", length=10, origin="Assigned", codelist="FREQ"),
    V("ECDOSFRM", "Dose Form", length=20, origin="Assigned", codelist="FRM"),
    V("ECROUTE", "Route of Administration", length=20, origin="Assigned", codelist="ROUTE"),
    V("ECLOC", "Location of Dose Administration", length=40, source="lesion.organ"),
    V("ECLAT", "Laterality", length=20, source="lesion.laterality", codelist="LAT"),
    V("ECLOT", "Lot Number", length=40, source="toripalimab.lot_number"),
    V("ECADJ", "Reason for Dose Adjustment"),
    V("ECSPID", "Sponsor-Defined Identifier", length=40, origin="Assigned"),
    _dtc("EC", "STDTC", "Start Date/Time of Treatment", "Exp"),
    _dtc("EC", "ENDTC", "End Date/Time of Treatment", "Exp"),
))  # fmt: skip

#: Trial epochs (TA/TE/SE and every record's EPOCH): before the first study treatment, on it, after the last dose.
EPOCHS = ("SCREENING", "TREATMENT", "FOLLOW-UP")


def with_timing(ds: Dataset, epoch: bool = True) -> Dataset:
    """The domain with EPOCH before its first --DTC/--STDTC and the study days after its last date: --DY for a
    --DTC, --STDY and --ENDY for --STDTC and --ENDTC (SDTMIG 3.4 section 4.4.4: day 1 = RFSTDTC, no day 0).
    ``epoch=False`` (MH: history precedes the study) adds only the study days, which FDA business rule FDAB032
    asks for wherever the dates are."""
    d = ds.name
    names = ds.columns
    dates = [n for n in names if n in (f"{d}DTC", f"{d}STDTC", f"{d}ENDTC")]
    epoch_var = V(
        "EPOCH",
        "Epoch",
        length=20,
        core="Perm",
        origin="Derived",
        source="record date vs RFXSTDTC/RFXENDTC",
        codelist="EPOCH",
    )
    days = [
        V(
            f"{n[:-3]}DY" if n == f"{d}DTC" else f"{n[:-3]}DY".replace("DTDY", "DY"),
            {
                "DTC": "Study Day of Visit/Collection/Exam",
                "STDTC": "Study Day of Start",
                "ENDTC": "Study Day of End",
            }[n[2:]]
            .replace("Start", "Start of Event")
            .replace("End", "End of Event")
            if d in ("AE", "DS", "MH")
            else {
                "DTC": "Study Day of Visit/Collection/Exam",
                "STDTC": "Study Day of Start of Treatment",
                "ENDTC": "Study Day of End of Treatment",
            }[n[2:]],
            "integer",
            8,
            "Perm",
            "Derived",
            f"{n} - RFSTDTC (+1 on or after)",
        )
        for n in dates
    ]
    out: list[Variable] = []
    for v in ds.variables:
        if v.name == dates[0] and epoch:
            out.append(epoch_var)
        out.append(v)
        if v.name == dates[-1]:
            out.extend(days)
    return Dataset(ds.name, ds.label, ds.cls, ds.structure, ds.keys, tuple(out), ds.standard)


SUPP_VARIABLES = (
    STUDYID,
    V("RDOMAIN", "Related Domain Abbreviation", length=2, core="Req", origin="Assigned"),
    USUBJID,
    V("IDVAR", "Identifying Variable", length=8, core="Exp", origin="Assigned"),
    V("IDVARVAL", "Identifying Variable Value", length=20, core="Exp", origin="Derived"),
    V("QNAM", "Qualifier Variable Name", length=8, core="Req", origin="Assigned"),
    V("QLABEL", "Qualifier Variable Label", length=40, core="Req", origin="Assigned"),
    V("QVAL", "Data Value", core="Req"),
    V("QORIG", "Origin", length=20, core="Req", origin="Assigned"),
    V("QEVAL", "Evaluator", length=20, core="Exp", origin="Assigned"),
)

RELREC = Dataset("RELREC", "Related Records", "RELATIONSHIP", "One record per related record, group of records or "
                 "data set", ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELID"), (
    STUDYID,
    V("RDOMAIN", "Related Domain Abbreviation", length=2, core="Req", origin="Assigned"),
    V("USUBJID", "Unique Subject Identifier", length=40, core="Exp", origin="Derived"),
    V("IDVAR", "Identifying Variable", length=8, core="Req", origin="Assigned"),
    V("IDVARVAL", "Identifying Variable Value", length=20, core="Exp", origin="Derived"),
    V("RELTYPE", "Relationship Type", length=4, core="Exp", origin="Assigned", codelist="RELTYPE"),
    V("RELID", "Relationship Identifier", length=20, core="Req", origin="Derived"),
))  # fmt: skip

TI = Dataset(
    "TI",
    "Trial Inclusion/Exclusion Criteria",
    "TRIAL DESIGN",
    "One record per I/E criterion",
    ("STUDYID", "IETESTCD", "TIVERS"),
    (
        STUDYID,
        _domain("TI"),
        V("IETESTCD", "Incl/Excl Criterion Short Name", length=8, core="Req", origin="Protocol"),
        V("IETEST", "Inclusion/Exclusion Criterion", core="Req", origin="Protocol"),
        V(
            "IECAT",
            "Inclusion/Exclusion Category",
            length=10,
            core="Req",
            origin="Protocol",
            codelist="IECAT",
        ),
        V("TIVERS", "Protocol Criteria Versions", length=10, core="Perm", origin="Protocol"),
    ),
)

#: SUPP-- qualifiers per parent domain: QNAM -> (QLABEL, QORIG, QEVAL). QNAMs are CRF-SPEC's EXT names.
SUPP_QUALIFIERS: dict[str, dict[str, tuple[str, str, str]]] = {
    "AE": {"AERELSAB": ("Relationship to SABR", "CRF", "INVESTIGATOR"),
           "AERELAXI": ("Relationship to Axitinib", "CRF", "INVESTIGATOR"),
           "AERELTOR": ("Relationship to Toripalimab", "CRF", "INVESTIGATOR"),
           "AEACN1": ("Action Taken with Axitinib", "CRF", ""),
           "AEACN2": ("Action Taken with Toripalimab", "CRF", ""),
           "AEACN3": ("Action Taken with SABR", "CRF", ""),
           "AEIRFL": ("Immune-Related AE Flag", "CRF", "INVESTIGATOR"),
           "TOXGRV": ("Toxicity Grade Version (CTCAE)", "ASSIGNED", ""),
           "AWARDTC": ("Date/Time Site Aware of SAE", "CRF", ""),
           "REPDTC": ("Date/Time SAE Reported to Sponsor", "CRF", ""),
           "EXPECTFL": ("Expected per Reference Safety Info", "CRF", "INVESTIGATOR"),
           "TRTEMFL": ("Treatment Emergent Flag", "DERIVED", "")},
    "TU": {"IRRADFL": ("Irradiated by Protocol SABR Flag", "DERIVED", ""),
           "SABRTGT": ("SABR Courses Treating the Lesion", "DERIVED", ""),
           "PRIRRFL": ("Irradiated Before Enrolment Flag", "CRF", ""),
           "MEASFL": ("Measurable at Baseline Flag", "DERIVED", ""),
           "LOCDTL": ("Location Detail", "CRF", "")},
    "RS": {"OVRNIRR": ("Overall Resp Non-Irradiated Lesions", "DERIVED", ""),
           "CLINDET": ("Symptomatic Deterioration Without PD", "CRF", "INVESTIGATOR"),
           "CLINSTB": ("Clinically Stable Beyond iUPD", "CRF", "INVESTIGATOR")},
    "CM": {"PREDEQD": ("Prednisone-Equivalent Dose per Day mg", "DERIVED", ""),
           "SETTING": ("Setting of Prior Therapy", "CRF", ""),
           "PD1FL": ("PD-1/PD-L1 Antibody Flag", "CRF", ""),
           "BESTRSP": ("Best Response to This Therapy", "CRF", "INVESTIGATOR"),
           "NLREAS": ("Reason for Next-Line Therapy", "CRF", "INVESTIGATOR"),
           "LOCONPR": ("Local Therapy on Protocol Drugs Flag", "CRF", "")},
    "PR": {"NFRAC": ("Number of Fractions Prescribed", "CRF", ""),
           "NFRACDEL": ("Number of Fractions Delivered", "DERIVED", ""),
           "BED10": ("BED10 of the Prescription (Gy)", "DERIVED", ""),
           "REIRRFL": ("Re-Irradiation Flag", "CRF", ""),
           "NLREAS": ("Reason for Next-Line Therapy", "CRF", "INVESTIGATOR"),
           "LOCONPR": ("Local Therapy on Protocol Drugs Flag", "CRF", "")},
    "MH": {"HISTOL": ("Histology", "CRF", ""), "HISTOTH": ("Histology, Other", "CRF", ""),
           "SARCFL": ("Sarcomatoid Features Flag", "CRF", ""),
           "SYSTXFL": ("Needs Systemic Treatment Flag", "CRF", "")},
    "DD": {"DTHSRC": ("Source of Death Information", "CRF", "")},
    "SS": {"CONTMETH": ("Contact Method", "CRF", ""),
           "NEWTXFL": ("New Anticancer Therapy Flag", "CRF", ""),
           "PROGFL": ("Progression Reported Flag", "CRF", "")},
    "EC": {"INFSTAT": ("Infusion Status", "CRF", ""), "INFINT": ("Infusion Slowed or Interrupted", "CRF", ""),
           "PLANDT": ("Planned Infusion Date", "DERIVED", ""),
           "MISSDOS": ("Doses Missed or Vomited", "CRF", "")},
}  # fmt: skip


def supp_dataset(parent: str) -> Dataset:
    return Dataset(
        f"SUPP{parent}",
        f"Supplemental Qualifiers for {parent}",
        "RELATIONSHIP",
        "One record per IDVAR, IDVARVAL, and QNAM value per subject",
        ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"),
        SUPP_VARIABLES,
    )


#: The subject-level domains in the order of the export (each has a ``sdtm/<name>.csv``).
DS, EC, EX, AE, CM, PR, IE, DD, SS, TU, TR, RS = (
    with_timing(d) for d in (DS, EC, EX, AE, CM, PR, IE, DD, SS, TU, TR, RS)
)
MH = with_timing(MH, epoch=False)
EVENT_DOMAINS: tuple[Dataset, ...] = (DS, EC, EX, AE, CM, PR, MH, IE, DD, SS, TU, TR, RS)
SDTM: dict[str, Dataset] = {d.name: d for d in (DM, *EVENT_DOMAINS)}
SDTM.update({f"SUPP{p}": supp_dataset(p) for p in SUPP_QUALIFIERS})
SDTM.update({"RELREC": RELREC, "TI": TI})


# --- ADaM data sets (from the endpoint snapshot) -----------------------------------------------------------------


def _adt(name: str, label: str, core: Core = "Perm", source: str = "") -> Variable:
    """An ADaM numeric date: ISO 8601 in the CSV, a SAS date with DATE9. in the XPT."""
    return V(name, label, "integer", 8, core, "Derived", source, display_format="DATE9.")


ADSL = Dataset(
    "ADSL",
    "Subject-Level Analysis Dataset",
    "SUBJECT LEVEL ANALYSIS DATASET",
    "One record per subject",
    ("STUDYID", "USUBJID"),
    (
        STUDYID,
        USUBJID,
        V(
            "SUBJID",
            "Subject Identifier for the Study",
            length=20,
            core="Req",
            origin="Derived",
            source="DM.SUBJID",
        ),
        V("AGE", "Age", "integer", 8, "Req", "Derived", "DM.AGE"),
        V("AGEU", "Age Units", length=10, core="Req", origin="Derived", source="DM.AGEU", codelist="AGEU"),
        V("SEX", "Sex", length=1, core="Req", origin="Derived", source="DM.SEX", codelist="SEX"),
        V("ECOGBL", "Baseline ECOG Performance Status", "integer", 8, "Perm", "Derived", "baseline.ecog"),
        V("KPSBL", "Baseline Karnofsky Performance Status", "integer", 8, "Perm", "Derived", "baseline.kps"),
        V("HISTOL", "Histology", length=40, origin="Derived", source="baseline.histology"),
        V(
            "SARCFL",
            "Sarcomatoid Features Flag",
            length=1,
            origin="Derived",
            source="baseline.sarcomatoid",
            codelist="NY",
        ),
        V(
            "NEPHRFL",
            "Prior Nephrectomy Flag",
            length=1,
            origin="Derived",
            source="baseline.prior_nephrectomy",
            codelist="NY",
        ),
        V(
            "PRLINES",
            "Number of Prior Systemic Lines",
            "integer",
            8,
            "Perm",
            "Derived",
            "baseline.prior_systemic_lines",
        ),
        V(
            "IMDCGR",
            "IMDC Risk Group",
            length=20,
            origin="Derived",
            source="R8 IMDC score (enrollment/imdc.py)",
        ),
        _adt("TRTSDT", "Date of First Exposure to Treatment", "Perm", "D1 treatment start"),
        _adt("SABRSDT", "Date of First SABR Fraction", "Perm", "D1 SABR start"),
        _adt("DTHDT", "Date of Death", "Perm", "death.death_date"),
        V(
            "DTHFL",
            "Subject Death Flag",
            length=1,
            origin="Derived",
            source="death report exists",
            codelist="NY",
        ),
        V("DTHCAUS", "Cause of Death", length=40, origin="Derived", source="death.primary_cause"),
        _adt("LSTALVDT", "Date Last Known Alive", "Perm", "R5 last known alive"),
        V("EOSSTT", "End of Study Status", length=20, core="Perm", origin="Derived", codelist="EOSSTT"),
        V(
            "DCSREAS",
            "Reason for Discontinuation from Study",
            length=40,
            origin="Derived",
            source="disposition.eos_reason",
        ),
        V(
            "ENRLFL",
            "Enrolled Population Flag",
            length=1,
            origin="Derived",
            source="registered",
            codelist="NY",
        ),
        V(
            "SAFFL",
            "Safety Population Flag",
            length=1,
            core="Req",
            origin="Derived",
            source="any study treatment given",
            codelist="NY",
        ),
        V(
            "MDISFL",
            "Measurable Disease Population Flag",
            length=1,
            origin="Derived",
            source="R1.1 measurable target",
            codelist="NY",
        ),
        V(
            "RSEVFL",
            "Response Evaluable Population Flag",
            length=1,
            origin="Derived",
            source="R1.23",
            codelist="NY",
        ),
        V("AXIRDI", "Axitinib Relative Dose Intensity (%)", "float", 8, "Perm", "Derived", "R4.1"),
        V("TORRDI", "Toripalimab Relative Dose Intensity (%)", "float", 8, "Perm", "Derived", "R4.6"),
        _adt("CUTOFFDT", "Data Cut-Off Date", "Perm", "the export's cut-off"),
    ),
    standard="ADaM",
)

ADTTE = Dataset("ADTTE", "Time-to-Event Analysis Dataset", "BASIC DATA STRUCTURE",
                "One record per subject per parameter (per irradiated lesion for LCLES)",
                ("STUDYID", "USUBJID", "PARAMCD", "TULNKID"), (
    STUDYID, USUBJID,
    V("PARAMCD", "Parameter Code", length=8, core="Req", origin="Assigned", codelist="PARAMCD_TTE"),
    V("PARAM", "Parameter", length=60, core="Req", origin="Assigned", codelist="PARAM_TTE"),
    V("TULNKID", "Link ID", length=20, origin="Derived", source="lesion.lesion_code"),
    _adt("STARTDT", "Time-to-Event Origin Date for Subject", "Req", "D1"),
    _adt("ADT", "Analysis Date", "Req", "R5.1-R5.6, D7"),
    V("AVAL", "Analysis Value", "integer", 8, "Req", "Derived", "D9 ADT - STARTDT in days"),
    V("AVALU", "Analysis Value Unit", length=10, origin="Assigned"),
    V("CNSR", "Censor", "integer", 8, "Req", "Derived", "R5.2-R5.6 censoring table"),
    V("EVNTDESC", "Event or Censoring Description", origin="Derived"),
    V("CNSDTDSC", "Censor Date Description", origin="Derived"),
    V("SRCDOM", "Source Data", length=40, origin="Derived"),
    V("SRCVAR", "Source Variable", length=40, origin="Derived"),
    V("SRCSEQ", "Source Sequence Number", "integer", 8, "Perm", "Derived"),
    V("CRSKFL", "Competing Risk Flag", length=1, origin="Derived", source="D12", codelist="NY"),
    _adt("CUTOFFDT", "Data Cut-Off Date", "Perm", "the export's cut-off"),
), standard="ADaM")  # fmt: skip

ADRS = Dataset(
    "ADRS",
    "Response Analysis Dataset",
    "BASIC DATA STRUCTURE",
    "One record per subject per parameter per analysis date",
    ("STUDYID", "USUBJID", "PARAMCD", "ADT"),
    (
        STUDYID,
        USUBJID,
        V("PARAMCD", "Parameter Code", length=8, core="Req", origin="Assigned", codelist="PARAMCD_RS"),
        V("PARAM", "Parameter", length=60, core="Req", origin="Assigned", codelist="PARAM_RS"),
        V("AVALC", "Analysis Value (C)", length=20, core="Perm", origin="Derived", source="R1.20-R1.26, D3"),
        V("AVAL", "Analysis Value", "integer", 8, "Perm", "Derived", "R1.23 rank of AVALC"),
        _adt("ADT", "Analysis Date", "Perm", "tumour-assessment.scan_date_last"),
        V("ANL01FL", "Analysis Flag 01", length=1, origin="Derived", codelist="NY"),
        _adt("CUTOFFDT", "Data Cut-Off Date", "Perm", "the export's cut-off"),
    ),
    standard="ADaM",
)

ADAM: dict[str, Dataset] = {d.name: d for d in (ADSL, ADTTE, ADRS)}


# --- Codelists ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codelist:
    """The terms a variable may take. ``terms`` are CDISC Controlled Terminology submission values (CT_VERSION);
    ``extensions`` are the sponsor's own terms added to an extensible CDISC codelist (define.xml
    ``def:ExtendedValue="Yes"``); a codelist with ``cdisc=False`` is the sponsor's altogether."""

    name: str
    label: str
    terms: tuple[str, ...]
    extensions: tuple[str, ...] = ()
    cdisc: bool = True
    data_type: DataType = "text"

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.terms) | frozenset(self.extensions)


def _cl(
    name: str, label: str, terms: str, extensions: str = "", cdisc: bool = True, data_type: DataType = "text"
) -> Codelist:
    return Codelist(name, label, _split(terms), _split(extensions), cdisc, data_type)


def _split(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split("|") if t.strip())


_DISPOSITION = (
    "ADVERSE EVENT|COMPLETED|DEATH|LOST TO FOLLOW-UP|PHYSICIAN DECISION|PROGRESSIVE DISEASE|"
    "SCREEN FAILURE|WITHDRAWAL BY SUBJECT|OTHER|INFORMED CONSENT OBTAINED"
)
CODELISTS: dict[str, Codelist] = {
    c.name: c
    for c in (
        _cl("NY", "No Yes Response", "Y|N|U|NA"),
        _cl("SEX", "Sex", "F|M|U"),
        _cl("AGEU", "Age Unit", "YEARS"),
        _cl(
            "RACE",
            "Race",
            "AMERICAN INDIAN OR ALASKA NATIVE|ASIAN|BLACK OR AFRICAN AMERICAN|"
            "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER|WHITE|NOT REPORTED|UNKNOWN",
        ),
        _cl(
            "ARMNULRS",
            "Arm Null Reason",
            "ASSIGNED, NOT TREATED|NOT ASSIGNED|SCREEN FAILURE|UNPLANNED TREATMENT",
        ),
        _cl("COUNTRY", "Country (ISO 3166-1 Alpha-3)", "CHN"),
        _cl("ARMCD", "Planned Arm Code", "SABRAT", cdisc=False),
        _cl("ARM", "Description of Planned Arm", "SABR + axitinib + toripalimab", cdisc=False),
        _cl(
            "DOMAIN",
            "SDTM Domain Abbreviation",
            "DM|DS|EX|EC|AE|CM|PR|MH|IE|DD|SS|TU|TR|RS|TI|TS|TA|TE|TV|SE|SV",
        ),
        # DSDECOD: NCOMPLT and PROTMLST terms; REGISTERED is this trial's milestone (CRF-SPEC form 4, EXT term)
        _cl("DSDECOD", "Standardized Disposition Term", _DISPOSITION, "REGISTERED"),
        _cl("DSCAT", "Category for Disposition Event", "DISPOSITION EVENT|PROTOCOL MILESTONE"),
        _cl("UNIT", "Unit", "Gy|mg|mm|mg/kg|mg/m2|g"),
        _cl("FREQ", "Frequency", "BID|ONCE|QD|TID|QID|Q3W|QOD|PRN"),
        _cl(
            "ROUTE",
            "Route of Administration",
            "ORAL|INTRAVENOUS|INTRAMUSCULAR|SUBCUTANEOUS|TOPICAL|INHALATION",
        ),
        _cl("FRM", "Pharmaceutical Dosage Form", "TABLET|INJECTION, SOLUTION"),
        _cl("LAT", "Laterality", "LEFT|RIGHT|BILATERAL"),
        _cl("TOXGR", "Toxicity Grade", "1|2|3|4|5"),
        _cl(
            "OUT",
            "Outcome of Event",
            "FATAL|NOT RECOVERED/NOT RESOLVED|RECOVERED/RESOLVED|"
            "RECOVERED/RESOLVED WITH SEQUELAE|RECOVERING/RESOLVING|UNKNOWN",
        ),
        # SDTMIG AE assumption: MULTIPLE when the actions differ by study treatment (the actions are in SUPPAE)
        _cl(
            "ACN",
            "Action Taken with Study Treatment",
            "DOSE INCREASED|DOSE NOT CHANGED|DOSE REDUCED|DRUG INTERRUPTED|"
            "DRUG WITHDRAWN|NOT APPLICABLE|UNKNOWN",
            "MULTIPLE",
        ),
        _cl("STENRF", "Relation to Reference Period", "ONGOING|BEFORE|AFTER|DURING|COINCIDENT|U"),
        _cl("ND", "Not Done", "NOT DONE"),
        _cl("TUTESTCD", "Tumor Identification Test Code", "TUMIDENT"),
        _cl("TUTEST", "Tumor Identification Test Name", "Tumor Identification"),
        _cl("TUSTRESC", "Tumor Identification Result", "TARGET|NON-TARGET|NEW"),
        _cl("TRTESTCD", "Tumor Results Test Code", "LDIAM|SAXIS|SUMDIAM|TUMSTATE"),
        _cl("TRTEST", "Tumor Results Test Name", "Longest Diameter|Short Axis|Sum of Diameter|Tumor State"),
        # ECOG and Karnofsky at baseline (CRF-SPEC form 5, RSCAT ECOG / KARNOFSKY) beside the oncology responses
        _cl(
            "RSTESTCD",
            "Oncology Response Assessment Test Code",
            "TRGRESP|NTRGRESP|NEWLIND|OVRLRESP",
            "ECOG101|KPS101",
        ),
        _cl(
            "RSTEST",
            "Oncology Response Assessment Test Name",
            "Target Response|Non-target Response|New Lesion Indicator|Overall Response",
            "ECOG1-Performance Status|KPS1-Karnofsky Performance Status",
        ),
        # iRECIST responses (R1.50-R1.53) and Y/N of NEWLIND sit beside the RECIST 1.1 terms; ECOG 0-4, KPS 10-100
        _cl(
            "RSRESP",
            "Oncology Response",
            "CR|PR|SD|PD|NE|NON-CR/NON-PD|Y|N",
            "iCR|iPR|iSD|iUPD|iCPD|iNE|NON-iCR/NON-iUPD|0|1|2|3|4|10|20|30|40|50|60|70|80|90|100",
        ),
        _cl("IECAT", "Category for Inclusion/Exclusion", "INCLUSION|EXCLUSION"),
        _cl("DDTESTCD", "Death Details Test Code", "PRCDTH|SECDTH", "AUTOPIND"),
        _cl(
            "DDTEST",
            "Death Details Test Name",
            "Primary Cause of Death|Secondary Cause of Death",
            "Autopsy Indicator",
        ),
        _cl("SSTESTCD", "Subject Status Test Code", "SURVSTAT"),
        _cl("SSTEST", "Subject Status Test Name", "Survival Status"),
        _cl("SSSTRESC", "Subject Status Response", "ALIVE|DEAD|UNKNOWN"),
        _cl("BRDGMOOD", "Mood", "PERFORMED|SCHEDULED"),
        _cl("RELTYPE", "Relationship Type", "ONE|MANY"),
        _cl("EPOCH", "Epoch", "SCREENING|TREATMENT|FOLLOW-UP"),
        _cl("EOSSTT", "End of Study Status", "ONGOING|DISCONTINUED|COMPLETED"),
        _cl("PARAMCD_TTE", "Time-to-Event Parameter Code", "PFS1|PFS2|OS|LC|LCLES", cdisc=False),
        _cl(
            "PARAM_TTE",
            "Time-to-Event Parameter",
            "Progression-free survival from SABR start (days)|"
            "Second progression-free survival (days)|Overall survival from treatment start (days)|"
            "Local control, patient level (days)|Local control per irradiated lesion (days)",
            cdisc=False,
        ),
        _cl("PARAMCD_RS", "Response Parameter Code", "OVRLRESP|OVRNIRR|BOR|CBOR", cdisc=False),
        _cl(
            "PARAM_RS",
            "Response Parameter",
            "Overall Response by Investigator (RECIST 1.1)|"
            "Overall Response, non-irradiated lesions|Best Overall Response (unconfirmed)|"
            "Best Overall Response (confirmed)",
            cdisc=False,
        ),
    )
}


# --- Trial design data sets (TS, TA, TE, TV) and the subject elements and visits (SE, SV) ------------------------

TS = Dataset(
    "TS",
    "Trial Summary",
    "TRIAL DESIGN",
    "One record per trial summary parameter value",
    ("STUDYID", "TSPARMCD", "TSSEQ"),
    (
        STUDYID,
        _domain("TS"),
        V("TSSEQ", "Sequence Number", "integer", 8, "Req", "Assigned"),
        V(
            "TSPARMCD",
            "Trial Summary Parameter Short Name",
            length=8,
            core="Req",
            origin="Assigned",
            codelist="TSPARMCD",
        ),
        V("TSPARM", "Trial Summary Parameter", length=40, core="Req", origin="Assigned"),
        V("TSVAL", "Parameter Value", core="Exp", origin="Protocol"),
        V("TSVALNF", "Parameter Null Flavor", length=8, core="Perm", origin="Assigned"),
        V("TSVCDREF", "Name of the Reference Terminology", length=20, core="Exp", origin="Assigned"),
        V("TSVCDVER", "Version of the Reference Terminology", length=20, core="Exp", origin="Assigned"),
    ),
)

TE = Dataset(
    "TE",
    "Trial Elements",
    "TRIAL DESIGN",
    "One record per planned element",
    ("STUDYID", "ETCD"),
    (
        STUDYID,
        _domain("TE"),
        V("ETCD", "Element Code", length=8, core="Req", origin="Protocol"),
        V("ELEMENT", "Description of Element", length=40, core="Req", origin="Protocol"),
        V("TESTRL", "Rule for Start of Element", core="Req", origin="Protocol"),
        V("TEENRL", "Rule for End of Element", core="Perm", origin="Protocol"),
        V("TEDUR", "Planned Duration of Element", length=20, core="Perm", origin="Protocol"),
    ),
)

TA = Dataset(
    "TA",
    "Trial Arms",
    "TRIAL DESIGN",
    "One record per planned element per arm",
    ("STUDYID", "ARMCD", "TAETORD"),
    (
        STUDYID,
        _domain("TA"),
        V("ARMCD", "Planned Arm Code", length=20, core="Req", origin="Protocol", codelist="ARMCD"),
        V("ARM", "Description of Planned Arm", length=200, core="Req", origin="Protocol", codelist="ARM"),
        V("TAETORD", "Planned Order of Element within Arm", "integer", 8, "Req", "Protocol"),
        V("ETCD", "Element Code", length=8, core="Req", origin="Protocol"),
        V("ELEMENT", "Description of Element", length=40, core="Perm", origin="Protocol"),
        V("TABRANCH", "Branch", length=40, core="Exp", origin="Protocol"),
        V("TATRANS", "Transition Rule", core="Exp", origin="Protocol"),
        V("EPOCH", "Epoch", length=20, core="Req", origin="Protocol", codelist="EPOCH"),
    ),
)

TV = Dataset(
    "TV",
    "Trial Visits",
    "TRIAL DESIGN",
    "One record per planned visit per arm",
    ("STUDYID", "VISITNUM"),
    (
        STUDYID,
        _domain("TV"),
        V("VISITNUM", "Visit Number", "float", 8, "Req", "Protocol"),
        V("VISIT", "Visit Name", length=40, core="Perm", origin="Protocol"),
        V("VISITDY", "Planned Study Day of Visit", "integer", 8, "Perm", "Protocol"),
        V("ARMCD", "Planned Arm Code", length=20, core="Exp", origin="Protocol", codelist="ARMCD"),
        V("TVSTRL", "Visit Start Rule", core="Req", origin="Protocol"),
        V("TVENRL", "Visit End Rule", core="Perm", origin="Protocol"),
    ),
)

SE = Dataset("SE", "Subject Elements", "SPECIAL PURPOSE", "One record per actual element per subject",
             ("STUDYID", "USUBJID", "ETCD", "SESTDTC"), (
    *_ids("SE"),
    V("ETCD", "Element Code", length=8, core="Req", origin="Derived", source="DM reference dates"),
    V("ELEMENT", "Description of Element", length=40, core="Perm", origin="Derived"),
    V("TAETORD", "Planned Order of Element within Arm", "integer", 8, "Exp", "Derived"),
    V("EPOCH", "Epoch", length=20, core="Exp", origin="Derived", codelist="EPOCH"),
    V("SESTDTC", "Start Date/Time of Element", "date", 20, "Req", "Derived", "RFICDTC, RFXSTDTC, RFXENDTC + 1"),
    V("SEENDTC", "End Date/Time of Element", "date", 20, "Exp", "Derived", "next element start - 1, RFPENDTC"),
    V("SESTDY", "Study Day of Start of Element", "integer", 8, "Perm", "Derived", "SESTDTC - RFSTDTC"),
    V("SEENDY", "Study Day of End of Element", "integer", 8, "Perm", "Derived", "SEENDTC - RFSTDTC"),
))  # fmt: skip

SV = Dataset(
    "SV",
    "Subject Visits",
    "SPECIAL PURPOSE",
    "One record per actual visit per subject",
    ("STUDYID", "USUBJID", "VISITNUM"),
    (
        STUDYID,
        _domain("SV"),
        USUBJID,
        V("VISITNUM", "Visit Number", "float", 8, "Req", "Derived", "TV.VISITNUM of the visit"),
        V("VISIT", "Visit Name", length=40, core="Exp", origin="Derived"),
        V("SVPRESP", "Pre-Specified", length=1, core="Perm", origin="Assigned", codelist="NY"),
        V("SVOCCUR", "Occurrence", length=1, core="Perm", origin="Derived", codelist="NY"),
        V("EPOCH", "Epoch", length=20, core="Perm", origin="Derived", codelist="EPOCH"),
        V(
            "SVSTDTC",
            "Start Date/Time of Observation",
            "date",
            20,
            "Exp",
            "Collected",
            "toripalimab.infusion_date; tumour-assessment.scan_date_first",
        ),
        V(
            "SVENDTC",
            "End Date/Time of Observation",
            "date",
            20,
            "Exp",
            "Collected",
            "toripalimab.infusion_date; tumour-assessment.scan_date_last",
        ),
        V(
            "SVSTDY",
            "Study Day of Start of Observation",
            "integer",
            8,
            "Perm",
            "Derived",
            "SVSTDTC - RFSTDTC",
        ),
        V("SVENDY", "Study Day of End of Observation", "integer", 8, "Perm", "Derived", "SVENDTC - RFSTDTC"),
    ),
)

SDTM.update({d.name: d for d in (TS, TA, TE, TV, SE, SV)})
CODELISTS["TSPARMCD"] = _cl(
    "TSPARMCD",
    "Trial Summary Parameter Test Code",
    "TITLE|STYPE|TBLIND|RANDOM|NARMS|ADDON|AGEMIN|SEXPOP|INDIC|TRT|LENGTH|SDTIGVER|"
    "SDTMVER|ACTSUB|SSTDTC|DCUTDTC|REGID|PLANSUB|TDIGRP",
)
