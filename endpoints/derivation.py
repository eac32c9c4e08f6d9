"""Per-patient endpoint derivation: PFS1, PFS2, OS, local control, BOR, analysis sets (DOMAIN.md 0, 2, 5).

Pure module: standard library plus :mod:`assessments.recist` (BOR is computed there, never here). One
patient's CRF data come in as a frozen :class:`PatientRecord`; every date in it carries the :class:`SourceRef`
of the CRF field that set it, so each derived date (ADTTE ADT) can be traced back to its form. The output is
one frozen :class:`PatientEndpoints` with a :class:`TimeToEvent` per endpoint (ADTTE row: STARTDT, ADT, AVAL,
CNSR, reason), the unconfirmed and confirmed BOR, the best % change of the target sum, the R5.8 analysis-set
flags and a list of data-consistency issues, so the dashboard lists a questionable patient instead of
silently dropping them.

Trial decisions (D1-D9) live in :class:`DerivationSettings`; nothing here reads Django settings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from assessments.recist import (
    BestOverallResponse,
    RecistError,
    Response,
    TimePointResponse,
    best_overall_response,
)
from ruletext import Msg, define, gettext_noop

__all__ = [
    "DEFAULT_SETTINGS",
    "AnalysisFlags",
    "Cnsr",
    "ConsentWithdrawal",
    "DataIssue",
    "DerivationError",
    "DerivationSettings",
    "Endpoint",
    "IrradiatedLesion",
    "IssueCode",
    "OffStudy",
    "OffStudyReason",
    "PatientEndpoints",
    "PatientRecord",
    "SourceRef",
    "SourcedDate",
    "SubsequentTherapy",
    "TherapyReason",
    "TherapyType",
    "TimePoint",
    "TimeToEvent",
    "WithdrawalScope",
    "derive_bor",
    "derive_lc",
    "derive_os",
    "derive_patient",
    "derive_pfs1",
    "derive_pfs2",
    "is_disease_control",
    "is_responder",
]


class DerivationError(ValueError):
    """A patient record or a setting is outside what the derivation can handle."""


# ----------------------------------------------------------------------------------------------------
# Settings (DOMAIN.md section 0)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DerivationSettings:
    """Every trial decision the derivation depends on, with the DOMAIN.md section 0 defaults."""

    # D6: imaging every 8 weeks +/- 7 days; "two or more missed" = gap > 2 x 56 + 7 = 119 days (R5.4).
    assessment_interval_days: int = 56
    assessment_window_days: int = 7
    missed_assessments: int = 2
    # D7: follow-up caps. None = no cap (local control has none in section 0).
    pfs1_cap_days: int | None = 730
    pfs2_cap_days: int | None = 1095
    os_cap_days: int | None = 1095
    lc_cap_days: int | None = None
    # D3, R1.24, R1.25: confirmation interval and SD minimum duration from treatment start.
    sd_min_days: int = 42
    confirm_min_days: int = 28
    # D9, R5.1: months = days / 30.4375.
    days_per_month: Decimal = Decimal("30.4375")
    # D11: the 12-, 24- and 36-month rates are read at these whole days (as the D7 caps), so a PFS1 capped at
    # 730 days has an estimable 24-month rate.
    landmark_days: tuple[int, ...] = (365, 730, 1095)

    def __post_init__(self) -> None:
        for name in ("assessment_interval_days", "missed_assessments", "sd_min_days", "confirm_min_days"):
            if getattr(self, name) <= 0:
                raise DerivationError(f"{name} must be positive")
        if self.assessment_window_days < 0:
            raise DerivationError("assessment_window_days must not be negative")
        for name in ("pfs1_cap_days", "pfs2_cap_days", "os_cap_days", "lc_cap_days"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise DerivationError(f"{name} must be positive or None")
        if self.days_per_month <= 0:
            raise DerivationError("days_per_month must be positive")
        if any(day <= 0 for day in self.landmark_days):
            raise DerivationError("landmark_days must be positive")

    def months(self, days: int) -> float:
        """Return days as months (D9: days / 30.4375); the one conversion for times and landmarks (D11)."""
        return float(Decimal(days) / self.days_per_month)

    @property
    def max_assessment_gap_days(self) -> int:
        """Return the longest gap without adequate assessment that still counts an event (D6: 119 days)."""
        return self.missed_assessments * self.assessment_interval_days + self.assessment_window_days


DEFAULT_SETTINGS = DerivationSettings()


# ----------------------------------------------------------------------------------------------------
# Coded values
# ----------------------------------------------------------------------------------------------------


class Endpoint(enum.StrEnum):
    """ADTTE PARAMCD."""

    PFS1 = "PFS1"
    PFS2 = "PFS2"
    OS = "OS"
    LC = "LC"
    LCLES = "LCLES"


class Cnsr(enum.IntEnum):
    """ADTTE CNSR codes of the CRF-SPEC table: 0 = event, one positive code per censoring reason."""

    EVENT = 0
    NO_ADEQUATE_ASSESSMENT = 1
    NO_EVENT = 2
    NEW_THERAPY_BEFORE_PD = 3
    NEXT_LINE_OTHER_REASON = 4
    MISSED_ASSESSMENTS = 5
    LOST_OR_WITHDRAWN = 6
    CAP_REACHED = 7
    LESION_RETREATED = 8
    COMPETING_DEATH = 9


class TherapyType(enum.StrEnum):
    """Subsequent anticancer therapy type (CRF 16, D2)."""

    SYSTEMIC = "SYSTEMIC"
    RADIOTHERAPY = "RADIOTHERAPY"
    SURGERY = "SURGERY"
    OTHER = "OTHER"


class TherapyReason(enum.StrEnum):
    """Reason for next-line therapy (CRF 16, D2)."""

    PROGRESSION = "PROGRESSION"
    CLINICAL_DETERIORATION = "CLINICAL DETERIORATION"
    TOXICITY = "TOXICITY"
    PATIENT_CHOICE = "PATIENT CHOICE"
    OTHER = "OTHER"


class OffStudyReason(enum.StrEnum):
    """End-of-study reason (CRF 18)."""

    COMPLETED = "COMPLETED"
    PROGRESSIVE_DISEASE = "PROGRESSIVE DISEASE"
    ADVERSE_EVENT = "ADVERSE EVENT"
    WITHDRAWAL_BY_SUBJECT = "WITHDRAWAL BY SUBJECT"
    LOST_TO_FOLLOW_UP = "LOST TO FOLLOW-UP"
    DEATH = "DEATH"
    PHYSICIAN_DECISION = "PHYSICIAN DECISION"
    OTHER = "OTHER"


class WithdrawalScope(enum.StrEnum):
    """What a consent withdrawal covers (CRF 3)."""

    TREATMENT_ONLY = "TREATMENT ONLY"
    VISITS = "VISITS"
    ALL = "ALL CONTACT AND DATA"


class IssueCode(enum.StrEnum):
    """Data-consistency findings listed on the dashboard (never a silent exclusion)."""

    NOT_TREATED = "NOT_TREATED"
    NO_SABR_START = "NO_SABR_START"
    NO_BASELINE_ASSESSMENT = "NO_BASELINE_ASSESSMENT"
    AFTER_CUTOFF = "AFTER_CUTOFF"
    AFTER_DEATH = "AFTER_DEATH"
    AFTER_WITHDRAWAL = "AFTER_WITHDRAWAL"
    AFTER_OFF_STUDY = "AFTER_OFF_STUDY"
    ASSESSMENT_BEFORE_SABR = "ASSESSMENT_BEFORE_SABR"
    PD_BEFORE_SABR = "PD_BEFORE_SABR"
    PD_DATE_AFTER_ASSESSMENT = "PD_DATE_AFTER_ASSESSMENT"
    THERAPY_BEFORE_TREATMENT = "THERAPY_BEFORE_TREATMENT"
    PROGRESSION_THERAPY_WITHOUT_PD = "PROGRESSION_THERAPY_WITHOUT_PD"
    DEATH_BEFORE_ORIGIN = "DEATH_BEFORE_ORIGIN"
    LESION_ORIGIN_BEFORE_SABR = "LESION_ORIGIN_BEFORE_SABR"
    LF_BEFORE_LESION_ORIGIN = "LF_BEFORE_LESION_ORIGIN"
    LAST_ALIVE_MISSING = "LAST_ALIVE_MISSING"
    LAST_ALIVE_TOO_EARLY = "LAST_ALIVE_TOO_EARLY"
    WITHDRAWAL_NOT_RECORDED = "WITHDRAWAL_NOT_RECORDED"
    BOR_NOT_DERIVABLE = "BOR_NOT_DERIVABLE"


# ----------------------------------------------------------------------------------------------------
# Texts: data issues and time-to-event reasons as message ids with parameters (issue 18, item 3)
# ----------------------------------------------------------------------------------------------------

# What a datum dropped at the cut-off was (the subject of AFTER_CUTOFF).
_ITEM_TUMOUR_ASSESSMENT = define("derivation.item.tumour_assessment", gettext_noop("tumour assessment"))
_ITEM_FIRST_FRACTION = define(
    "derivation.item.first_fraction", gettext_noop("first fraction of lesion %(lesion)s")
)
_ITEM_LESION_SCAN = define("derivation.item.lesion_scan", gettext_noop("scan of lesion %(lesion)s"))
_ITEM_LOCAL_FAILURE = define(
    "derivation.item.local_failure", gettext_noop("local failure of lesion %(lesion)s")
)
_ITEM_RETREATMENT = define("derivation.item.retreatment", gettext_noop("re-treatment of lesion %(lesion)s"))
_ITEM_SUBSEQUENT_THERAPY = define("derivation.item.subsequent_therapy", gettext_noop("subsequent therapy"))
_ITEM_END_OF_STUDY = define("derivation.item.end_of_study", gettext_noop("end of study"))
_ITEM_CONSENT_WITHDRAWAL = define("derivation.item.consent_withdrawal", gettext_noop("consent withdrawal"))
_ITEM_TREATMENT_START = define("derivation.item.treatment_start", gettext_noop("treatment start"))
_ITEM_SABR_START = define("derivation.item.sabr_start", gettext_noop("SABR start"))
_ITEM_DEATH = define("derivation.item.death", gettext_noop("death"))

# Data issues (DataIssue.message).
_AFTER_CUTOFF = define(
    "derivation.issue.after_cutoff",
    gettext_noop("%(item)s on %(date)s is after the data cut-off %(cutoff)s and was not used"),
)
_LAST_ALIVE_MISSING = define(
    "derivation.issue.last_alive_missing",
    gettext_noop("no last known alive date: the latest dated record (%(date)s) is used"),
)
_LAST_ALIVE_TOO_EARLY = define(
    "derivation.issue.last_alive_too_early",
    gettext_noop(
        "last known alive date %(given)s is before a later record on %(later)s; the later date is used"
    ),
)
_NOT_TREATED = define(
    "derivation.issue.not_treated", gettext_noop("not treated by the data cut-off: no time-to-event data")
)
_NO_SABR_START = define(
    "derivation.issue.no_sabr_start",
    gettext_noop("treated but no protocol SABR fraction: PFS1, PFS2 and LC have no origin"),
)
_NO_BASELINE_ASSESSMENT = define(
    "derivation.issue.no_baseline_assessment",
    gettext_noop("no baseline tumour assessment: PFS1 censored at origin"),
)
_ASSESSMENT_AFTER_DEATH = define(
    "derivation.issue.assessment_after_death", gettext_noop("tumour assessment on %(date)s after death")
)
_ASSESSMENT_BEFORE_SABR = define(
    "derivation.issue.assessment_before_sabr",
    gettext_noop(
        "%(response)s assessment on %(date)s is on or before SABR start %(sabr)s and is not used for PFS"
    ),
)
_PD_DATE_BEFORE_SABR = define(
    "derivation.issue.pd_date_before_sabr",
    gettext_noop("PD date %(date)s is on or before SABR start %(sabr)s"),
)
_PD_DATE_AFTER_ASSESSMENT = define(
    "derivation.issue.pd_date_after_assessment",
    gettext_noop("PD date %(date)s is after its assessment date %(assessment)s"),
)
_THERAPY_AFTER_DEATH = define(
    "derivation.issue.therapy_after_death", gettext_noop("subsequent therapy on %(date)s after death")
)
_THERAPY_BEFORE_TREATMENT = define(
    "derivation.issue.therapy_before_treatment",
    gettext_noop("subsequent therapy on %(date)s before treatment start (EC-SU-1)"),
)
_PROGRESSION_THERAPY_WITHOUT_PD = define(
    "derivation.issue.progression_therapy_without_pd",
    gettext_noop("therapy for progression on %(date)s without a prior RECIST PD (EC-SU-3)"),
)
_DEATH_BEFORE_ORIGIN = define("derivation.issue.death_before_origin", gettext_noop("death before %(date)s"))
_LAST_ALIVE_AFTER_DEATH = define(
    "derivation.issue.last_alive_after_death",
    gettext_noop("last known alive %(alive)s is after death %(death)s"),
)
_LESION_ORIGIN_BEFORE_SABR = define(
    "derivation.issue.lesion_origin_before_sabr",
    gettext_noop("lesion %(lesion)s first fraction %(date)s is before SABR start"),
)
_LF_BEFORE_LESION_ORIGIN = define(
    "derivation.issue.lf_before_lesion_origin",
    gettext_noop("local failure of lesion %(lesion)s on %(date)s is not after its first fraction"),
)
_LESION_DATA_AFTER_DEATH = define(
    "derivation.issue.lesion_data_after_death", gettext_noop("lesion %(lesion)s data on %(date)s after death")
)
_AFTER_OFF_STUDY = define(
    "derivation.issue.after_off_study",
    gettext_noop("tumour assessment on %(date)s after end of study %(off)s"),
)
_WITHDRAWAL_NOT_RECORDED = define(
    "derivation.issue.withdrawal_not_recorded",
    gettext_noop(
        "off study for withdrawal by subject without a consent withdrawal (EC-DS-3): read as full withdrawal"
    ),
)
_AFTER_WITHDRAWAL = define(
    "derivation.issue.after_withdrawal",
    gettext_noop("data on %(date)s after consent withdrawal %(withdrawal)s: not used for %(endpoints)s"),
)
_SCOPE_IMAGING = define("derivation.scope.imaging", gettext_noop("PFS1 and local control"))
_SCOPE_SURVIVAL = define("derivation.scope.survival", gettext_noop("PFS2 and OS"))
_BOR_NOT_DERIVABLE = define(
    "derivation.issue.bor_not_derivable", gettext_noop("best overall response not derivable: %(error)s")
)
_BOR_NONIRR_NOT_DERIVABLE = define(
    "derivation.issue.bor_nonirr_not_derivable",
    gettext_noop("best overall response of the non-irradiated lesions not derivable: %(error)s"),
)

# Subsequent therapy in words (SubsequentTherapy.describe).
_THERAPY = define("derivation.therapy", gettext_noop("%(kind)s for %(reason)s started %(date)s"))
_THERAPY_KIND = {
    TherapyType.SYSTEMIC: define("derivation.therapy.systemic", gettext_noop("systemic therapy")),
    TherapyType.RADIOTHERAPY: define("derivation.therapy.radiotherapy", gettext_noop("radiotherapy therapy")),
    TherapyType.SURGERY: define("derivation.therapy.surgery", gettext_noop("surgery therapy")),
    TherapyType.OTHER: define("derivation.therapy.other", gettext_noop("other therapy")),
}
_THERAPY_ON_PROTOCOL = define("derivation.therapy.on_protocol", gettext_noop("local therapy on protocol"))
_THERAPY_REASON = {
    TherapyReason.PROGRESSION: define("derivation.therapy_reason.progression", gettext_noop("progression")),
    TherapyReason.CLINICAL_DETERIORATION: define(
        "derivation.therapy_reason.clinical_deterioration", gettext_noop("clinical deterioration")
    ),
    TherapyReason.TOXICITY: define("derivation.therapy_reason.toxicity", gettext_noop("toxicity")),
    TherapyReason.PATIENT_CHOICE: define(
        "derivation.therapy_reason.patient_choice", gettext_noop("patient choice")
    ),
    TherapyReason.OTHER: define("derivation.therapy_reason.other", gettext_noop("other")),
}

# Time-to-event reasons (TimeToEvent.reason), and their parts.
_CAP_EVENT = define(
    "derivation.tte.cap_event",
    gettext_noop(
        "censored: follow-up cap of %(cap)s days reached on %(date)s (D7); the event on %(adt)s falls after it"
    ),
)
_CAP_CENSORING = define(
    "derivation.tte.cap_censoring",
    gettext_noop(
        "censored: follow-up cap of %(cap)s days reached on %(date)s (D7); the censoring on %(adt)s falls after it"
    ),
)
_NOTE_DEATH_AFTER_CUTOFF = define(
    "derivation.note.death_after_cutoff", gettext_noop("death reported after the data cut-off")
)
_NOTE_ALIVE_CAPPED = define(
    "derivation.note.alive_capped", gettext_noop("last known alive date capped at the data cut-off")
)
_NOTE_ALIVE_WITHDRAWAL = define(
    "derivation.note.alive_withdrawal",
    gettext_noop("last known alive date limited to the consent withdrawal"),
)
_LOST_TO_FOLLOW_UP = define("derivation.lost.lost_to_follow_up", gettext_noop("lost to follow-up"))
_CONSENT_WITHDRAWN = define("derivation.lost.consent_withdrawn", gettext_noop("consent withdrawn"))
_NO_ADEQUATE_ASSESSMENT = define(
    "derivation.detail.no_adequate_assessment",
    gettext_noop("no adequate assessment, censored at origin %(date)s"),
)
_LAST_ADEQUATE_ASSESSMENT = define(
    "derivation.detail.last_adequate_assessment", gettext_noop("last adequate assessment %(date)s")
)
_LAST_ALIVE = define("derivation.detail.last_alive", gettext_noop("last known alive %(date)s"))
_LAST_ALIVE_NOTE = define(
    "derivation.detail.last_alive_note", gettext_noop("last known alive %(date)s (%(note)s)")
)
_LAST_LESION_SCAN = define(
    "derivation.detail.last_lesion_scan", gettext_noop("last scan evaluating the lesion %(date)s")
)
_NO_LESION_SCAN = define(
    "derivation.detail.no_lesion_scan",
    gettext_noop("no scan evaluated the lesion, censored at origin %(date)s"),
)
_KM_LAST_LESION_SCAN = define(
    "derivation.km.last_lesion_scan", gettext_noop("the last scan evaluating the lesion %(date)s")
)
_KM_ORIGIN = define("derivation.km.origin", gettext_noop("origin %(date)s (no scan evaluated the lesion)"))
_WHAT_PD = define("derivation.what.pd", gettext_noop("progressive disease (RECIST 1.1)"))
_WHAT_DEATH = define("derivation.what.death", gettext_noop("death"))
_WHAT_NEXT_LINE_OR_DEATH = define("derivation.what.next_line_or_death", gettext_noop("a next line or death"))
_NO_BASELINE_CENSORED = define(
    "derivation.tte.no_baseline",
    gettext_noop("censored: no baseline tumour assessment; censored at origin"),
)
_NO_POST_BASELINE_CENSORED = define(
    "derivation.tte.no_post_baseline",
    gettext_noop("censored: no adequate post-baseline assessment and no death; censored at origin"),
)
_NEW_LOCAL_THERAPY = define(
    "derivation.tte.new_local_therapy",
    gettext_noop("censored: new local therapy before progression (%(therapy)s); %(detail)s"),
)
_NEW_ANTICANCER_THERAPY = define(
    "derivation.tte.new_anticancer_therapy",
    gettext_noop("censored: new anticancer therapy before progression (%(therapy)s); %(detail)s"),
)
_MISSED_ASSESSMENTS = define(
    "derivation.tte.missed_assessments",
    gettext_noop(
        "censored: %(what)s on %(date)s after %(gap)s days without adequate assessment (> %(max)s, D6); %(detail)s"
    ),
)
_EVENT_ON = define("derivation.tte.event_on", gettext_noop("event: %(what)s on %(date)s"))
_CENSORED_LOST = define("derivation.tte.censored_lost", gettext_noop("censored: %(why)s; %(detail)s"))
_ALIVE_WITHOUT_PROGRESSION = define(
    "derivation.tte.alive_without_progression",
    gettext_noop("censored: alive without progression; %(detail)s"),
)
_ALIVE_WITHOUT = define(
    "derivation.tte.alive_without", gettext_noop("censored: alive without %(what)s; %(detail)s")
)
_NEXT_LINE_EVENT = define("derivation.tte.next_line_event", gettext_noop("event: next line (%(therapy)s)"))
_NEXT_LINE_OTHER = define(
    "derivation.tte.next_line_other",
    gettext_noop("censored: next line for another reason (%(therapy)s); not a PFS2 event"),
)
_DEATH_EVENT = define("derivation.tte.death_event", gettext_noop("event: death on %(date)s"))
_LESION = define("derivation.tte.lesion", gettext_noop("lesion %(lesion)s: %(reason)s"))
_LOCAL_FAILURE_EVENT = define(
    "derivation.tte.local_failure_event", gettext_noop("event: local failure on %(date)s")
)
_LESION_RETREATED = define(
    "derivation.tte.lesion_retreated",
    gettext_noop("censored: re-irradiated or resected for a reason other than local failure on %(date)s"),
)
_COMPETING_DEATH = define(
    "derivation.tte.competing_death",
    gettext_noop("competing event: death without local failure on %(date)s; 1-KM censors at %(km)s"),
)
_ALIVE_WITHOUT_LF = define(
    "derivation.tte.alive_without_lf", gettext_noop("censored: alive without local failure; %(detail)s")
)


# ----------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------


# SourceRef and SourcedDate are named tuples, not frozen dataclasses: a 5,000-patient study reads ~160,000 of
# them, and a frozen dataclass's __init__ costs five times as much (the benchmark). Immutable and hashable alike.


class SourceRef(NamedTuple):
    """The CRF field a date came from, so the UI can link a derived value back to its form."""

    form: str
    object_id: int | str
    field: str

    def __str__(self) -> str:
        return f"{self.form}#{self.object_id}.{self.field}"

    def to_dict(self) -> dict[str, Any]:
        return {"form": self.form, "object_id": self.object_id, "field": self.field}


class SourcedDate(NamedTuple):
    """A clinical date and the CRF field that set it."""

    value: date
    source: SourceRef


@dataclass(frozen=True)
class TimePoint:
    """One post-baseline tumour assessment (RS OVRLRESP, all lesions)."""

    assessment_date: date
    response: Response
    source: SourceRef
    # R5.3: PD date (earliest scan supporting PD, or a new lesion's first_seen_date); None = assessment_date.
    pd_date: SourcedDate | None = None
    # Target SOD % change from baseline (CRF 9 pct_chg_baseline); None when not computable.
    pct_change_baseline: Decimal | None = None
    # R1.22: a time point without imaging is NE; it is not an "assessment" for RSEVFL (R5.8).
    imaging_done: bool = True
    # D4, R1.41 (b): the time-point response of the lesions not treated with protocol SABR (CRF 9
    # overall_resp_nonirr); None when not computed.
    response_nonirr: Response | None = None

    @property
    def is_adequate(self) -> bool:
        """Return True for an adequate assessment: a response other than NE (R5.4)."""
        return self.response is not Response.NE

    @property
    def progression(self) -> SourcedDate:
        """Return the R5.3 PD date of a PD time point (the assessment date when no earlier scan is given)."""
        if self.pd_date is not None:
            return self.pd_date
        return SourcedDate(self.assessment_date, self.source)


@dataclass(frozen=True)
class IrradiatedLesion:
    """One lesion treated with protocol SABR and its local-control data (D4, D5, R2.1-R2.3)."""

    lesion_code: str
    first_fraction: SourcedDate  # D1: the lesion's LC origin
    evaluations: tuple[SourcedDate, ...] = ()  # scans that evaluated this lesion (R2.3 censoring)
    local_failure: SourcedDate | None = None  # D5: first scan showing LF
    retreated_other_reason: SourcedDate | None = None  # R2.3: re-irradiation or resection not for LF


@dataclass(frozen=True)
class SubsequentTherapy:
    """One subsequent anticancer therapy (CRF 16)."""

    start: SourcedDate
    therapy_type: TherapyType
    reason: TherapyReason
    local_on_protocol: bool = False  # D2: local therapy while axitinib/toripalimab continue

    @property
    def is_local(self) -> bool:
        """Return True for local therapy (radiotherapy or surgery), R1.43."""
        return self.therapy_type in (TherapyType.RADIOTHERAPY, TherapyType.SURGERY)

    @property
    def is_next_line(self) -> bool:
        """Return True for a next line of treatment (D2: local therapy on protocol is not one)."""
        return not self.local_on_protocol

    @property
    def is_pfs2_event(self) -> bool:
        """Return True if starting this therapy is a PFS2 event (D2, R5.5, EC-SU-2)."""
        return self.is_next_line and self.reason in (
            TherapyReason.PROGRESSION,
            TherapyReason.CLINICAL_DETERIORATION,
        )

    def describe(self) -> Msg:
        kind = _THERAPY_ON_PROTOCOL() if self.local_on_protocol else _THERAPY_KIND[self.therapy_type]()
        return _THERAPY(kind=kind, reason=_THERAPY_REASON[self.reason](), date=self.start.value.isoformat())


@dataclass(frozen=True)
class OffStudy:
    """End of study (CRF 18)."""

    off_date: date
    reason: OffStudyReason
    source: SourceRef


@dataclass(frozen=True)
class ConsentWithdrawal:
    """Withdrawal of consent (CRF 3)."""

    withdrawal_date: date
    scope: WithdrawalScope
    source: SourceRef


@dataclass(frozen=True)
class PatientRecord:
    """Everything the derivation needs about one patient, as plain data read from the CRFs."""

    patient_id: int | str
    study_number: str
    data_cutoff: date  # D7: data after it are dropped before derivation
    treatment_start: SourcedDate | None = None  # D1: OS origin; None = not treated
    sabr_start: SourcedDate | None = None  # D1: PFS1, PFS2 and patient-level LC origin
    baseline_assessment: bool = False
    measurable_disease: bool = False
    timepoints: tuple[TimePoint, ...] = ()
    lesions: tuple[IrradiatedLesion, ...] = ()
    subsequent_therapies: tuple[SubsequentTherapy, ...] = ()
    death: SourcedDate | None = None
    last_known_alive: SourcedDate | None = None  # R5.6, as derived from every contact (CRF-SPEC)
    off_study: OffStudy | None = None
    consent_withdrawal: ConsentWithdrawal | None = None
    # D4: at least one baseline lesion is not treated with protocol SABR (the non-irradiated response set), and
    # at least one of them is a target lesion (else that series is read by Table 2, non-target disease only).
    nonirradiated_baseline: bool = False
    nonirradiated_target: bool = False


# ----------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeToEvent:
    """One ADTTE row: origin (STARTDT), date used (ADT), time (AVAL, days), CNSR and the reason in words."""

    param: Endpoint
    origin: date
    origin_source: SourceRef
    adt: date
    days: int
    months: float
    cnsr: Cnsr
    reason: str
    source: SourceRef
    lesion_code: str | None = None
    # D12: a competing death (CNSR 9) is censored in the 1-KM sensitivity analysis at the last scan that evaluated
    # the lesion (R2.3), not at death: that date, its time and its source. None for every other row.
    km_adt: date | None = None
    km_days: int | None = None
    km_months: float | None = None
    km_source: SourceRef | None = None

    @property
    def event(self) -> bool:
        return self.cnsr is Cnsr.EVENT

    @property
    def competing(self) -> bool:
        """Return True for a competing event (CRSKFL = Y): death without local failure (R2.4)."""
        return self.cnsr is Cnsr.COMPETING_DEATH

    def to_dict(self) -> dict[str, Any]:
        out = {
            "param": str(self.param),
            "lesion_code": self.lesion_code,
            "origin": self.origin.isoformat(),
            "origin_source": self.origin_source.to_dict(),
            "adt": self.adt.isoformat(),
            "days": self.days,
            "months": self.months,
            "event": self.event,
            "cnsr": int(self.cnsr),
            "competing": self.competing,
            "reason": _text_data(self.reason),
            "source": self.source.to_dict(),
        }
        if self.km_adt is not None:  # D12: only a competing death carries its 1-KM censoring date
            out.update(
                km_adt=self.km_adt.isoformat(),
                km_days=self.km_days,
                km_months=self.km_months,
                km_source=self.km_source.to_dict() if self.km_source else None,
            )
        return out

    @property
    def sensitivity_months(self) -> float:
        """Return the time the 1-KM sensitivity analysis uses: the D12 censoring date of a competing death."""
        return self.km_months if self.km_months is not None else self.months


@dataclass(frozen=True)
class DataIssue:
    """A data-consistency finding with the CRF field to open."""

    code: IssueCode
    message: str
    source: SourceRef | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": str(self.code),
            "message": _text_data(self.message),
            "source": self.source.to_dict() if self.source else None,
        }


@dataclass(frozen=True)
class AnalysisFlags:
    """R5.8 analysis sets (ADSL flags)."""

    saffl: bool  # >= 1 dose of any study treatment
    mdisfl: bool  # treated with measurable disease at baseline: the primary response set
    rsevfl: bool  # MDISFL and >= 1 post-baseline assessment: the sensitivity set

    def to_dict(self) -> dict[str, bool]:
        return {"saffl": self.saffl, "mdisfl": self.mdisfl, "rsevfl": self.rsevfl}


@dataclass(frozen=True)
class PatientEndpoints:
    """Everything derived for one patient at one data cut-off."""

    patient_id: int | str
    study_number: str
    data_cutoff: date
    pfs1: TimeToEvent | None
    pfs2: TimeToEvent | None
    os: TimeToEvent | None
    lc: TimeToEvent | None
    lc_lesions: tuple[TimeToEvent, ...]
    bor: BestOverallResponse | None
    cbor: BestOverallResponse | None
    best_pct_change: Decimal | None
    best_pct_change_source: SourceRef | None
    flags: AnalysisFlags
    issues: tuple[DataIssue, ...]
    # D4, R1.41 (b): BOR of the non-irradiated lesions (unconfirmed, confirmed); None outside that set.
    bor_nonirr: BestOverallResponse | None = None
    cbor_nonirr: BestOverallResponse | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.issues)

    def to_dict(self) -> dict[str, Any]:
        def tte(value: TimeToEvent | None) -> dict[str, Any] | None:
            return value.to_dict() if value else None

        def bor(value: BestOverallResponse | None) -> dict[str, Any] | None:
            if value is None:
                return None
            return {
                "response": str(value.response) if value.response is not None else None,
                "date": value.date.isoformat() if value.date else None,
                "rule": _text_data(value.rule),
            }

        return {
            "patient_id": self.patient_id,
            "study_number": self.study_number,
            "data_cutoff": self.data_cutoff.isoformat(),
            "pfs1": tte(self.pfs1),
            "pfs2": tte(self.pfs2),
            "os": tte(self.os),
            "lc": tte(self.lc),
            "lc_lesions": [item.to_dict() for item in self.lc_lesions],
            "bor": bor(self.bor),
            "cbor": bor(self.cbor),
            "best_pct_change": str(self.best_pct_change) if self.best_pct_change is not None else None,
            "best_pct_change_source": (
                self.best_pct_change_source.to_dict() if self.best_pct_change_source else None
            ),
            "flags": self.flags.to_dict(),
            "issues": [issue.to_dict() for issue in self.issues],
        }


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------


def _iso(value: date) -> str:
    return value.isoformat()


def _text_data(value: str) -> Any:
    """A text for the JSON of ``to_dict``: a message as its id and parameters (``ruletext``), else the text."""
    return value.data() if isinstance(value, Msg) else value


def _make(
    param: Endpoint,
    origin: SourcedDate,
    used: SourcedDate,
    cnsr: Cnsr,
    reason: str,
    settings: DerivationSettings,
    lesion_code: str | None = None,
) -> TimeToEvent:
    # D9, R5.1: time = date - origin (origin = day 0, no +1); months = days / 30.4375.
    days = (used.value - origin.value).days
    return TimeToEvent(
        param=param,
        origin=origin.value,
        origin_source=origin.source,
        adt=used.value,
        days=days,
        months=settings.months(days),
        cnsr=cnsr,
        reason=reason,
        source=used.source,
        lesion_code=lesion_code,
    )


def _apply_cap(result: TimeToEvent, cap_days: int | None, settings: DerivationSettings) -> TimeToEvent:
    # D7: an event or a censoring that falls after STARTDT + cap becomes CNSR 7 at STARTDT + cap.
    if cap_days is None or result.days <= cap_days:
        return result
    capped = SourcedDate(result.origin + timedelta(days=cap_days), result.origin_source)
    cap = _CAP_EVENT if result.event else _CAP_CENSORING
    reason = cap(cap=cap_days, date=_iso(capped.value), adt=_iso(result.adt))
    origin = SourcedDate(result.origin, result.origin_source)
    return _make(result.param, origin, capped, Cnsr.CAP_REACHED, reason, settings, result.lesion_code)


def _on_or_before(value: date, limit: date | None) -> bool:
    return limit is None or value <= limit


def _latest(dates: Iterable[SourcedDate]) -> SourcedDate | None:
    result: SourcedDate | None = None
    for item in dates:
        if result is None or item.value > result.value:
            result = item
    return result


# ----------------------------------------------------------------------------------------------------
# Cut-off, withdrawal and last known alive
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """A record with post-cut-off data dropped, its derived last-known-alive date and the issues found."""

    record: PatientRecord
    last_alive: SourcedDate | None
    last_alive_note: str
    issues: tuple[DataIssue, ...]


def _after_cutoff_issue(what: Msg, value: date, cutoff: date, source: SourceRef) -> DataIssue:
    return DataIssue(
        IssueCode.AFTER_CUTOFF, _AFTER_CUTOFF(item=what, date=_iso(value), cutoff=_iso(cutoff)), source
    )


def _apply_cutoff(record: PatientRecord) -> tuple[PatientRecord, list[DataIssue]]:
    """Drop every datum dated after the data cut-off (D7; CRF-SPEC ADTTE: dropped before derivation)."""
    cutoff = record.data_cutoff
    issues: list[DataIssue] = []

    def keep(item: SourcedDate | None, what: Msg) -> SourcedDate | None:
        if item is None or item.value <= cutoff:
            return item
        issues.append(_after_cutoff_issue(what, item.value, cutoff, item.source))
        return None

    timepoints = []
    for tp in record.timepoints:
        if tp.assessment_date <= cutoff:
            timepoints.append(tp)
        else:
            issues.append(
                _after_cutoff_issue(_ITEM_TUMOUR_ASSESSMENT(), tp.assessment_date, cutoff, tp.source)
            )

    lesions = []
    for lesion in record.lesions:
        if lesion.first_fraction.value > cutoff:
            issues.append(
                _after_cutoff_issue(
                    _ITEM_FIRST_FRACTION(lesion=lesion.lesion_code),
                    lesion.first_fraction.value,
                    cutoff,
                    lesion.first_fraction.source,
                )
            )
            continue
        evaluations = tuple(
            scan for scan in lesion.evaluations if keep(scan, _ITEM_LESION_SCAN(lesion=lesion.lesion_code))
        )
        lesions.append(
            replace(
                lesion,
                evaluations=evaluations,
                local_failure=keep(lesion.local_failure, _ITEM_LOCAL_FAILURE(lesion=lesion.lesion_code)),
                retreated_other_reason=keep(
                    lesion.retreated_other_reason, _ITEM_RETREATMENT(lesion=lesion.lesion_code)
                ),
            )
        )

    therapies = tuple(t for t in record.subsequent_therapies if keep(t.start, _ITEM_SUBSEQUENT_THERAPY()))

    off_study = record.off_study
    if off_study is not None and off_study.off_date > cutoff:
        issues.append(_after_cutoff_issue(_ITEM_END_OF_STUDY(), off_study.off_date, cutoff, off_study.source))
        off_study = None
    withdrawal = record.consent_withdrawal
    if withdrawal is not None and withdrawal.withdrawal_date > cutoff:
        issues.append(
            _after_cutoff_issue(
                _ITEM_CONSENT_WITHDRAWAL(), withdrawal.withdrawal_date, cutoff, withdrawal.source
            )
        )
        withdrawal = None

    prepared = replace(
        record,
        treatment_start=keep(record.treatment_start, _ITEM_TREATMENT_START()),
        sabr_start=keep(record.sabr_start, _ITEM_SABR_START()),
        timepoints=tuple(sorted(timepoints, key=lambda tp: tp.assessment_date)),
        lesions=tuple(lesions),
        subsequent_therapies=tuple(sorted(therapies, key=lambda t: t.start.value)),
        death=keep(record.death, _ITEM_DEATH()),
        off_study=off_study,
        consent_withdrawal=withdrawal,
    )
    # last_known_alive is capped, not dropped (R5.6): see _last_alive.
    return prepared, issues


def _withdrawal_date(record: PatientRecord, *, imaging: bool) -> date | None:
    """Return the date after which this endpoint ignores the patient's data, or None.

    Consent withdrawn for visits stops imaging (PFS1, LC); withdrawn for all contact and data also stops
    next-line and survival follow-up (PFS2, OS). Withdrawal of treatment only changes nothing (R5.4, R5.6).
    An off-study WITHDRAWAL BY SUBJECT without a consent form entry is read as full withdrawal (EC-DS-3).
    """
    withdrawal = record.consent_withdrawal
    if withdrawal is not None:
        if withdrawal.scope is WithdrawalScope.ALL or (
            imaging and withdrawal.scope is WithdrawalScope.VISITS
        ):
            return withdrawal.withdrawal_date
        return None
    off = record.off_study
    if off is not None and off.reason is OffStudyReason.WITHDRAWAL_BY_SUBJECT:
        return off.off_date
    return None


def _lost_or_withdrawn(record: PatientRecord, *, imaging: bool) -> Msg | None:
    """Return why censoring is CNSR 6 (lost to follow-up, or a withdrawal that ends this follow-up), or None."""
    off = record.off_study
    if off is not None and off.reason is OffStudyReason.LOST_TO_FOLLOW_UP:
        return _LOST_TO_FOLLOW_UP()
    if _withdrawal_date(record, imaging=imaging) is not None:
        return _CONSENT_WITHDRAWN()
    return None


def _last_alive(
    original: PatientRecord, record: PatientRecord
) -> tuple[SourcedDate | None, str, list[DataIssue]]:
    """Return the last known alive date capped at the cut-off (R5.6), a note for the reason, and issues."""
    cutoff = record.data_cutoff
    issues: list[DataIssue] = []
    if record.death is not None:
        # R5.6: the last known alive date only matters for patients alive at the cut-off.
        return original.last_known_alive, "", issues
    if original.death is not None and original.death.value > cutoff:
        # A death after the cut-off means the patient was alive on the cut-off date.
        return SourcedDate(cutoff, original.death.source), _NOTE_DEATH_AFTER_CUTOFF(), issues

    evidence: list[SourcedDate] = []
    evidence += [SourcedDate(tp.assessment_date, tp.source) for tp in record.timepoints]
    evidence += [t.start for t in record.subsequent_therapies]
    for lesion in record.lesions:
        evidence.append(lesion.first_fraction)
        evidence += list(lesion.evaluations)
    evidence += [item for item in (record.treatment_start, record.sabr_start) if item is not None]
    other = _latest(evidence)

    given = original.last_known_alive
    if given is not None and given.value > cutoff:
        return SourcedDate(cutoff, given.source), _NOTE_ALIVE_CAPPED(), issues
    if given is None:
        if other is not None:
            issues.append(
                DataIssue(
                    IssueCode.LAST_ALIVE_MISSING,
                    _LAST_ALIVE_MISSING(date=_iso(other.value)),
                    other.source,
                )
            )
        return other, "", issues
    if other is not None and other.value > given.value:
        issues.append(
            DataIssue(
                IssueCode.LAST_ALIVE_TOO_EARLY,
                _LAST_ALIVE_TOO_EARLY(given=_iso(given.value), later=_iso(other.value)),
                given.source,
            )
        )
        return other, "", issues
    return given, "", issues


def _consistency(record: PatientRecord) -> list[DataIssue]:
    """Find contradictions that the derivation works around and the dashboard must list."""
    issues: list[DataIssue] = []
    sabr = record.sabr_start
    death = record.death
    treated = record.treatment_start

    if treated is None:
        issues.append(DataIssue(IssueCode.NOT_TREATED, _NOT_TREATED()))
    elif sabr is None:
        issues.append(
            DataIssue(
                IssueCode.NO_SABR_START,
                _NO_SABR_START(),
            )
        )
    if treated is not None and not record.baseline_assessment:
        issues.append(DataIssue(IssueCode.NO_BASELINE_ASSESSMENT, _NO_BASELINE_ASSESSMENT()))

    for tp in record.timepoints:
        if death is not None and tp.assessment_date > death.value:
            issues.append(
                DataIssue(
                    IssueCode.AFTER_DEATH,
                    _ASSESSMENT_AFTER_DEATH(date=_iso(tp.assessment_date)),
                    tp.source,
                )
            )
        if sabr is not None and tp.assessment_date <= sabr.value:
            code = (
                IssueCode.PD_BEFORE_SABR if tp.response is Response.PD else IssueCode.ASSESSMENT_BEFORE_SABR
            )
            issues.append(
                DataIssue(
                    code,
                    _ASSESSMENT_BEFORE_SABR(
                        response=str(tp.response), date=_iso(tp.assessment_date), sabr=_iso(sabr.value)
                    ),
                    tp.source,
                )
            )
        elif sabr is not None and tp.response is Response.PD and tp.progression.value <= sabr.value:
            issues.append(
                DataIssue(
                    IssueCode.PD_BEFORE_SABR,
                    _PD_DATE_BEFORE_SABR(date=_iso(tp.progression.value), sabr=_iso(sabr.value)),
                    tp.progression.source,
                )
            )
        if tp.pd_date is not None and tp.pd_date.value > tp.assessment_date:
            issues.append(
                DataIssue(
                    IssueCode.PD_DATE_AFTER_ASSESSMENT,
                    _PD_DATE_AFTER_ASSESSMENT(
                        date=_iso(tp.pd_date.value), assessment=_iso(tp.assessment_date)
                    ),
                    tp.pd_date.source,
                )
            )

    first_pd = next((tp.progression.value for tp in record.timepoints if tp.response is Response.PD), None)
    for therapy in record.subsequent_therapies:
        start = therapy.start
        if death is not None and start.value > death.value:
            issues.append(
                DataIssue(
                    IssueCode.AFTER_DEATH,
                    _THERAPY_AFTER_DEATH(date=_iso(start.value)),
                    start.source,
                )
            )
        if treated is not None and start.value < treated.value:
            issues.append(
                DataIssue(
                    IssueCode.THERAPY_BEFORE_TREATMENT,
                    _THERAPY_BEFORE_TREATMENT(date=_iso(start.value)),
                    start.source,
                )
            )
        if therapy.reason is TherapyReason.PROGRESSION and (first_pd is None or first_pd > start.value):
            issues.append(
                DataIssue(
                    IssueCode.PROGRESSION_THERAPY_WITHOUT_PD,
                    _PROGRESSION_THERAPY_WITHOUT_PD(date=_iso(start.value)),
                    start.source,
                )
            )

    if death is not None:
        for origin in (treated, sabr):
            if origin is not None and death.value < origin.value:
                issues.append(
                    DataIssue(
                        IssueCode.DEATH_BEFORE_ORIGIN,
                        _DEATH_BEFORE_ORIGIN(date=_iso(origin.value)),
                        death.source,
                    )
                )
                break
        alive = record.last_known_alive
        if alive is not None and alive.value > death.value:
            issues.append(
                DataIssue(
                    IssueCode.AFTER_DEATH,
                    _LAST_ALIVE_AFTER_DEATH(alive=_iso(alive.value), death=_iso(death.value)),
                    alive.source,
                )
            )

    for lesion in record.lesions:
        origin = lesion.first_fraction
        if sabr is not None and origin.value < sabr.value:
            issues.append(
                DataIssue(
                    IssueCode.LESION_ORIGIN_BEFORE_SABR,
                    _LESION_ORIGIN_BEFORE_SABR(lesion=lesion.lesion_code, date=_iso(origin.value)),
                    origin.source,
                )
            )
        lf = lesion.local_failure
        if lf is not None and lf.value <= origin.value:
            issues.append(
                DataIssue(
                    IssueCode.LF_BEFORE_LESION_ORIGIN,
                    _LF_BEFORE_LESION_ORIGIN(lesion=lesion.lesion_code, date=_iso(lf.value)),
                    lf.source,
                )
            )
        if death is not None:
            for item in (lf, *lesion.evaluations):
                if item is not None and item.value > death.value:
                    issues.append(
                        DataIssue(
                            IssueCode.AFTER_DEATH,
                            _LESION_DATA_AFTER_DEATH(lesion=lesion.lesion_code, date=_iso(item.value)),
                            item.source,
                        )
                    )

    off = record.off_study
    if off is not None:
        for tp in record.timepoints:
            if tp.assessment_date > off.off_date:
                issues.append(
                    DataIssue(
                        IssueCode.AFTER_OFF_STUDY,
                        _AFTER_OFF_STUDY(date=_iso(tp.assessment_date), off=_iso(off.off_date)),
                        tp.source,
                    )
                )
        if off.reason is OffStudyReason.WITHDRAWAL_BY_SUBJECT and record.consent_withdrawal is None:
            issues.append(
                DataIssue(
                    IssueCode.WITHDRAWAL_NOT_RECORDED,
                    _WITHDRAWAL_NOT_RECORDED(),
                    off.source,
                )
            )

    for imaging, what in ((True, _SCOPE_IMAGING()), (False, _SCOPE_SURVIVAL())):
        limit = _withdrawal_date(record, imaging=imaging)
        if limit is None:
            continue
        late: list[SourcedDate] = [
            SourcedDate(tp.assessment_date, tp.source)
            for tp in record.timepoints
            if tp.assessment_date > limit
        ]
        late += [t.start for t in record.subsequent_therapies if t.start.value > limit]
        if imaging:
            for lesion in record.lesions:
                late += [
                    item
                    for item in (lesion.local_failure, *lesion.evaluations)
                    if item and item.value > limit
                ]
        for item in late:
            issues.append(
                DataIssue(
                    IssueCode.AFTER_WITHDRAWAL,
                    _AFTER_WITHDRAWAL(date=_iso(item.value), withdrawal=_iso(limit), endpoints=what),
                    item.source,
                )
            )
    return issues


def _prepare(record: PatientRecord) -> _Prepared:
    prepared, issues = _apply_cutoff(record)
    last_alive, note, alive_issues = _last_alive(record, prepared)
    issues += alive_issues
    issues += _consistency(prepared)
    return _Prepared(prepared, last_alive, note, tuple(issues))


# ----------------------------------------------------------------------------------------------------
# PFS1 (R5.2-R5.4, D6, D7)
# ----------------------------------------------------------------------------------------------------


def _last_adequate(timepoints: Sequence[TimePoint], *, before: date, inclusive: bool) -> TimePoint | None:
    result: TimePoint | None = None
    for tp in timepoints:
        within = tp.assessment_date <= before if inclusive else tp.assessment_date < before
        if within and tp.is_adequate:
            result = tp
    return result


def _pfs1(prepared: _Prepared, settings: DerivationSettings) -> TimeToEvent | None:
    record = prepared.record
    origin = record.sabr_start  # D1
    if origin is None:
        return None
    cap = settings.pfs1_cap_days
    limit = _withdrawal_date(record, imaging=True)
    cap_date = origin.value + timedelta(days=cap) if cap is not None else None

    def make(used: SourcedDate, cnsr: Cnsr, reason: str) -> TimeToEvent:
        return _apply_cap(_make(Endpoint.PFS1, origin, used, cnsr, reason, settings), cap, settings)

    def assessment(tp: TimePoint | None) -> SourcedDate:
        return SourcedDate(tp.assessment_date, tp.source) if tp is not None else origin

    def describe(tp: TimePoint | None) -> Msg:
        if tp is None:
            return _NO_ADEQUATE_ASSESSMENT(date=_iso(origin.value))
        return _LAST_ADEQUATE_ASSESSMENT(date=_iso(tp.assessment_date))

    # Assessments after SABR start only (those before it are flagged), up to a withdrawal of consent.
    timepoints = [
        tp
        for tp in record.timepoints
        if tp.assessment_date > origin.value and _on_or_before(tp.assessment_date, limit)
    ]
    death = record.death if record.death is not None and _on_or_before(record.death.value, limit) else None
    # A therapy that starts after the cap cannot censor PFS1 within it (D7).
    therapies = [
        t
        for t in record.subsequent_therapies
        if _on_or_before(t.start.value, limit) and _on_or_before(t.start.value, cap_date)
    ]

    # R5.4 row 1: no baseline tumour assessment.
    if not record.baseline_assessment:
        return make(origin, Cnsr.NO_ADEQUATE_ASSESSMENT, _NO_BASELINE_CENSORED())

    first_pd = next((tp for tp in timepoints if tp.response is Response.PD), None)
    candidates: list[tuple[SourcedDate, Msg]] = []
    if first_pd is not None:
        progression = first_pd.progression
        if progression.value <= origin.value:  # flagged PD_BEFORE_SABR: fall back to the assessment date
            progression = SourcedDate(first_pd.assessment_date, first_pd.source)
        candidates.append((progression, _WHAT_PD()))
    if death is not None:
        candidates.append((death, _WHAT_DEATH()))
    event = min(candidates, key=lambda item: item[0].value) if candidates else None
    adequate = [tp for tp in timepoints if tp.is_adequate]

    # R5.4 row 2: no (adequate) post-baseline assessment and no death.
    if not adequate and death is None:
        return make(
            origin,
            Cnsr.NO_ADEQUATE_ASSESSMENT,
            _NO_POST_BASELINE_CENSORED(),
        )

    # R5.4 row 5, R1.43: new anticancer therapy (incl. local therapy) before PD or death.
    new_therapy = next(
        (t for t in therapies if event is None or t.start.value < event[0].value),
        None,
    )
    if new_therapy is not None:
        last = _last_adequate(timepoints, before=new_therapy.start.value, inclusive=True)
        new = (
            _NEW_LOCAL_THERAPY
            if new_therapy.is_local or new_therapy.local_on_protocol
            else _NEW_ANTICANCER_THERAPY
        )
        return make(
            assessment(last),
            Cnsr.NEW_THERAPY_BEFORE_PD,
            new(therapy=new_therapy.describe(), detail=describe(last)),
        )

    if event is not None:
        event_date, what = event
        # D6: PD or death after >= 2 missed assessments: censored at the last adequate assessment before it.
        last = _last_adequate(timepoints, before=event_date.value, inclusive=False)
        reference = last.assessment_date if last is not None else origin.value
        gap = (event_date.value - reference).days
        if gap > settings.max_assessment_gap_days:
            return make(
                assessment(last),
                Cnsr.MISSED_ASSESSMENTS,
                _MISSED_ASSESSMENTS(
                    what=what,
                    date=_iso(event_date.value),
                    gap=gap,
                    max=settings.max_assessment_gap_days,
                    detail=describe(last),
                ),
            )
        # R5.4 rows 3, 7, 8: documented PD, death before the first assessment or between assessments.
        return make(event_date, Cnsr.EVENT, _EVENT_ON(what=what, date=_iso(event_date.value)))

    last = adequate[-1]
    lost = _lost_or_withdrawn(record, imaging=True)
    if lost is not None:
        # R5.4 last row: lost to follow-up / withdrew consent.
        return make(assessment(last), Cnsr.LOST_OR_WITHDRAWN, _CENSORED_LOST(why=lost, detail=describe(last)))
    # R5.4 rows 4 and 6: no PD and no death (treatment stopped for toxicity or other reasons included).
    return make(assessment(last), Cnsr.NO_EVENT, _ALIVE_WITHOUT_PROGRESSION(detail=describe(last)))


# ----------------------------------------------------------------------------------------------------
# PFS2 (D2, R5.5) and OS (R5.6)
# ----------------------------------------------------------------------------------------------------


def _censor_alive(
    param: Endpoint,
    origin: SourcedDate,
    prepared: _Prepared,
    limit: date | None,
    what: Msg,
    settings: DerivationSettings,
) -> TimeToEvent:
    """Censor at the last known alive date (R5.5, R5.6): CNSR 6 if lost or withdrawn, else CNSR 2."""
    alive = prepared.last_alive or origin
    note = prepared.last_alive_note
    if limit is not None and alive.value > limit:
        alive = SourcedDate(limit, alive.source)
        note = _NOTE_ALIVE_WITHDRAWAL()
    if alive.value < origin.value:
        alive = origin
    detail = (
        _LAST_ALIVE_NOTE(date=_iso(alive.value), note=note) if note else _LAST_ALIVE(date=_iso(alive.value))
    )
    lost = _lost_or_withdrawn(prepared.record, imaging=False)
    if lost is not None:
        reason = _CENSORED_LOST(why=lost, detail=detail)
        return _make(param, origin, alive, Cnsr.LOST_OR_WITHDRAWN, reason, settings)
    return _make(param, origin, alive, Cnsr.NO_EVENT, _ALIVE_WITHOUT(what=what, detail=detail), settings)


def _pfs2(prepared: _Prepared, settings: DerivationSettings) -> TimeToEvent | None:
    record = prepared.record
    origin = record.sabr_start  # D1
    if origin is None:
        return None
    limit = _withdrawal_date(record, imaging=False)
    death = record.death if record.death is not None and _on_or_before(record.death.value, limit) else None
    next_line = next(
        (t for t in record.subsequent_therapies if t.is_next_line and _on_or_before(t.start.value, limit)),
        None,
    )
    result: TimeToEvent
    if next_line is not None and (death is None or next_line.start.value <= death.value):
        if next_line.is_pfs2_event:
            # D2: next line given because of progression or clinical deterioration.
            result = _make(
                Endpoint.PFS2,
                origin,
                next_line.start,
                Cnsr.EVENT,
                _NEXT_LINE_EVENT(therapy=next_line.describe()),
                settings,
            )
        else:
            # D2, R5.5: next line for any other reason censors at its start.
            result = _make(
                Endpoint.PFS2,
                origin,
                next_line.start,
                Cnsr.NEXT_LINE_OTHER_REASON,
                _NEXT_LINE_OTHER(therapy=next_line.describe()),
                settings,
            )
    elif death is not None:
        result = _make(
            Endpoint.PFS2, origin, death, Cnsr.EVENT, _DEATH_EVENT(date=_iso(death.value)), settings
        )
    else:
        result = _censor_alive(Endpoint.PFS2, origin, prepared, limit, _WHAT_NEXT_LINE_OR_DEATH(), settings)
    return _apply_cap(result, settings.pfs2_cap_days, settings)  # D7


def _os(prepared: _Prepared, settings: DerivationSettings) -> TimeToEvent | None:
    record = prepared.record
    origin = record.treatment_start  # D1
    if origin is None:
        return None
    death = record.death
    result: TimeToEvent
    if death is not None:
        # R5.6: death from any cause. A recorded death counts even after consent withdrawal (vital status).
        result = _make(Endpoint.OS, origin, death, Cnsr.EVENT, _DEATH_EVENT(date=_iso(death.value)), settings)
    else:
        limit = _withdrawal_date(record, imaging=False)
        result = _censor_alive(Endpoint.OS, origin, prepared, limit, _WHAT_DEATH(), settings)
    return _apply_cap(result, settings.os_cap_days, settings)  # D7


# ----------------------------------------------------------------------------------------------------
# Local control (D5, R2.1-R2.4)
# ----------------------------------------------------------------------------------------------------


def _lesion_lc(
    lesion: IrradiatedLesion, prepared: _Prepared, settings: DerivationSettings, *, capped: bool = True
) -> TimeToEvent:
    record = prepared.record
    origin = lesion.first_fraction  # D1: the lesion's first fraction
    limit = _withdrawal_date(record, imaging=True)
    code = lesion.lesion_code

    def make(used: SourcedDate, cnsr: Cnsr, reason: Msg) -> TimeToEvent:
        result = _make(
            Endpoint.LCLES, origin, used, cnsr, _LESION(lesion=code, reason=reason), settings, code
        )
        return _apply_cap(result, settings.lc_cap_days, settings) if capped else result

    def usable(item: SourcedDate | None) -> SourcedDate | None:
        return item if item is not None and _on_or_before(item.value, limit) else None

    failure = usable(lesion.local_failure)
    retreated = usable(lesion.retreated_other_reason)
    death = usable(record.death)
    # R2.3: LC is followed after distant PD, so distant progression never stops the lesion's follow-up.
    scans = [
        scan for scan in lesion.evaluations if scan.value > origin.value and _on_or_before(scan.value, limit)
    ]

    if failure is not None and (retreated is None or failure.value <= retreated.value):
        return make(failure, Cnsr.EVENT, _LOCAL_FAILURE_EVENT(date=_iso(failure.value)))  # D5
    if retreated is not None:
        return make(
            retreated,
            Cnsr.LESION_RETREATED,
            _LESION_RETREATED(date=_iso(retreated.value)),
        )
    last = _latest(scans)
    detail = (
        _LAST_LESION_SCAN(date=_iso(last.value))
        if last is not None
        else _NO_LESION_SCAN(date=_iso(origin.value))
    )
    used = last or origin
    if death is not None:
        # D12, R2.4: death without LF is the competing event at the death (Aalen-Johansen, CRSKFL = Y); the 1-KM
        # sensitivity analysis censors the lesion at its last evaluating scan (R2.3), not at death.
        result = make(
            death,
            Cnsr.COMPETING_DEATH,
            _COMPETING_DEATH(
                date=_iso(death.value),
                km=(
                    _KM_LAST_LESION_SCAN(date=_iso(last.value))
                    if last is not None
                    else _KM_ORIGIN(date=_iso(origin.value))
                ),
            ),
        )
        return _with_km(result, used, settings)
    lost = _lost_or_withdrawn(record, imaging=True)
    if lost is not None:
        return make(used, Cnsr.LOST_OR_WITHDRAWN, _CENSORED_LOST(why=lost, detail=detail))
    return make(used, Cnsr.NO_EVENT, _ALIVE_WITHOUT_LF(detail=detail))


def _with_km(result: TimeToEvent, used: SourcedDate, settings: DerivationSettings) -> TimeToEvent:
    """Return a competing-death row with its D12 1-KM censoring date (never later than the row's own date)."""
    if used.value > result.adt:
        used = SourcedDate(result.adt, result.source)
    days = (used.value - result.origin).days
    return replace(
        result, km_adt=used.value, km_days=days, km_months=settings.months(days), km_source=used.source
    )


def _patient_lc(prepared: _Prepared, settings: DerivationSettings) -> TimeToEvent | None:
    origin = prepared.record.sabr_start
    # Uncapped lesion rows: the D7 cap is applied once, against the patient-level origin.
    lesions = [_lesion_lc(lesion, prepared, settings, capped=False) for lesion in prepared.record.lesions]
    if origin is None or not lesions:
        return None
    # R2.2: patient-level LF = LF in >= 1 irradiated lesion; the first one dates it.
    events = [item for item in lesions if item.event]
    chosen: TimeToEvent
    if events:
        chosen = min(events, key=lambda item: item.adt)
    else:
        competing = [item for item in lesions if item.competing]
        # The patient stays at risk until the last lesion stops being followed.
        chosen = competing[0] if competing else max(lesions, key=lambda item: item.adt)
    used = SourcedDate(chosen.adt, chosen.source)
    result = _make(Endpoint.LC, origin, used, chosen.cnsr, chosen.reason, settings)
    if result.competing:
        # D12: in 1-KM the patient is censored when the last of the lesions stopped being followed.
        last = max(
            (
                SourcedDate(item.km_adt, item.km_source)
                if item.km_adt is not None and item.km_source is not None
                else SourcedDate(item.adt, item.source)
                for item in lesions
            ),
            key=lambda item: item.value,
        )
        result = _with_km(result, last if last.value >= origin.value else origin, settings)
    return _apply_cap(result, settings.lc_cap_days, settings)


# ----------------------------------------------------------------------------------------------------
# Response (R1.23-R1.26, D3, R5.7, R5.8)
# ----------------------------------------------------------------------------------------------------


def _response_window(record: PatientRecord) -> tuple[list[TimePoint], date | None]:
    """Return the post-baseline time points used for BOR and the next-therapy stop date (R1.23)."""
    start = record.treatment_start
    if start is None:
        return [], None
    limit = _withdrawal_date(record, imaging=True)
    timepoints = [
        tp
        for tp in record.timepoints
        if tp.assessment_date > start.value and _on_or_before(tp.assessment_date, limit)
    ]
    stop = record.subsequent_therapies[0].start.value if record.subsequent_therapies else None
    return timepoints, stop


def _bor(
    record: PatientRecord, settings: DerivationSettings, *, nonirradiated: bool = False
) -> tuple[BestOverallResponse | None, BestOverallResponse | None, tuple[DataIssue, ...]]:
    """Return (unconfirmed, confirmed) BOR on all lesions, or on the non-irradiated lesions only (D3, D4)."""
    start = record.treatment_start
    if start is None:
        return None, None, ()
    timepoints, stop = _response_window(record)
    # Table 2 patients (no target lesion at baseline) get NON-CR/NON-PD, never SD, even when their series holds
    # only CR, PD or NE (R1.26 footnote; recist.best_overall_response cannot infer it from such labels).
    has_target = record.nonirradiated_target if nonirradiated else record.measurable_disease
    nontarget_only = (not has_target) if record.baseline_assessment else None
    if nonirradiated:
        responses = [
            TimePointResponse(tp.assessment_date, tp.response_nonirr)
            for tp in timepoints
            if tp.response_nonirr is not None
        ]
    else:
        responses = [TimePointResponse(tp.assessment_date, tp.response) for tp in timepoints]
    results: list[BestOverallResponse] = []
    try:
        # D3: both unconfirmed and confirmed BOR; the stop date is the first subsequent therapy (R1.23).
        for confirm in (False, True):
            results.append(
                best_overall_response(
                    responses,
                    treatment_start=start.value,
                    confirm=confirm,
                    sd_min_days=settings.sd_min_days,
                    confirm_min_days=settings.confirm_min_days,
                    stop_date=stop,
                    nontarget_only=nontarget_only,
                )
            )
    except RecistError as error:
        # Contradictory time points (e.g. two on one date): list the patient, never crash the whole run.
        # The RECIST error keeps its id when assessments.recist gives one (its first argument).
        detail = error.args[0] if error.args and isinstance(error.args[0], Msg) else str(error)
        not_derivable = _BOR_NONIRR_NOT_DERIVABLE if nonirradiated else _BOR_NOT_DERIVABLE
        issue = DataIssue(IssueCode.BOR_NOT_DERIVABLE, not_derivable(error=detail))
        return None, None, (issue,)
    return results[0], results[1], ()


def _best_change(record: PatientRecord) -> TimePoint | None:
    # Same window as BOR: post-baseline, before the first subsequent therapy (R1.23).
    timepoints, stop = _response_window(record)
    candidates = [
        (tp.pct_change_baseline, tp)
        for tp in timepoints
        if tp.pct_change_baseline is not None and (stop is None or tp.assessment_date < stop)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda item: item[0])[1]


def _flags(record: PatientRecord) -> AnalysisFlags:
    # R5.8: SAFFL = treated; MDISFL = treated with measurable disease (primary set); RSEVFL = MDISFL with
    # >= 1 post-baseline assessment (the sensitivity set).
    treated = record.treatment_start is not None
    mdisfl = treated and record.measurable_disease
    timepoints, _ = _response_window(record)
    assessed = any(tp.imaging_done for tp in timepoints)
    return AnalysisFlags(saffl=treated, mdisfl=mdisfl, rsevfl=mdisfl and assessed)


def is_responder(bor: BestOverallResponse | None) -> bool:
    """Return True for an objective response, CR or PR (R5.7); no assessment is a non-responder (R5.8)."""
    return bor is not None and bor.response in (Response.CR, Response.PR)


def is_disease_control(bor: BestOverallResponse | None, *, include_non_cr_non_pd: bool = False) -> bool:
    """Return True for disease control, CR + PR + SD (SD already meets sd_min_days, R1.25), R5.7, D3.

    Non-CR/non-PD is reported apart and counts only if the SAP says so (``include_non_cr_non_pd``).
    """
    if bor is None or bor.response is None:
        return False
    allowed = {Response.CR, Response.PR, Response.SD}
    if include_non_cr_non_pd:
        allowed.add(Response.NON_CR_NON_PD)
    return bor.response in allowed


# ----------------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------------


def derive_pfs1(record: PatientRecord, settings: DerivationSettings = DEFAULT_SETTINGS) -> TimeToEvent | None:
    """Return PFS1 (R5.2-R5.4, D6, D7), or None when the patient has no SABR start (D1)."""
    return _pfs1(_prepare(record), settings)


def derive_pfs2(record: PatientRecord, settings: DerivationSettings = DEFAULT_SETTINGS) -> TimeToEvent | None:
    """Return PFS2 (D2, R5.5, D7), or None when the patient has no SABR start (D1)."""
    return _pfs2(_prepare(record), settings)


def derive_os(record: PatientRecord, settings: DerivationSettings = DEFAULT_SETTINGS) -> TimeToEvent | None:
    """Return OS (R5.6, D7), or None when the patient was not treated (D1)."""
    return _os(_prepare(record), settings)


def derive_lc(
    record: PatientRecord, settings: DerivationSettings = DEFAULT_SETTINGS
) -> tuple[TimeToEvent | None, tuple[TimeToEvent, ...]]:
    """Return patient-level LC and one LCLES row per irradiated lesion (D5, R2.1-R2.4)."""
    prepared = _prepare(record)
    lesions = tuple(_lesion_lc(lesion, prepared, settings) for lesion in prepared.record.lesions)
    return _patient_lc(prepared, settings), lesions


def derive_bor(
    record: PatientRecord, settings: DerivationSettings = DEFAULT_SETTINGS
) -> tuple[BestOverallResponse | None, BestOverallResponse | None]:
    """Return (unconfirmed, confirmed) BOR through :func:`assessments.recist.best_overall_response` (D3)."""
    unconfirmed, confirmed, _ = _bor(_prepare(record).record, settings)
    return unconfirmed, confirmed


def derive_patient(
    record: PatientRecord, settings: DerivationSettings = DEFAULT_SETTINGS
) -> PatientEndpoints:
    """Derive every endpoint of one patient at the record's data cut-off."""
    prepared = _prepare(record)
    clean = prepared.record
    lesions = tuple(_lesion_lc(lesion, prepared, settings) for lesion in clean.lesions)
    bor, cbor, bor_issues = _bor(clean, settings)
    bor_nonirr = cbor_nonirr = None
    if clean.nonirradiated_baseline:
        bor_nonirr, cbor_nonirr, nonirr_issues = _bor(clean, settings, nonirradiated=True)
        bor_issues += nonirr_issues
    best = _best_change(clean)
    return PatientEndpoints(
        patient_id=record.patient_id,
        study_number=record.study_number,
        data_cutoff=record.data_cutoff,
        pfs1=_pfs1(prepared, settings),
        pfs2=_pfs2(prepared, settings),
        os=_os(prepared, settings),
        lc=_patient_lc(prepared, settings),
        lc_lesions=lesions,
        bor=bor,
        cbor=cbor,
        best_pct_change=best.pct_change_baseline if best is not None else None,
        best_pct_change_source=best.source if best is not None else None,
        flags=_flags(clean),
        issues=prepared.issues + bor_issues,
        bor_nonirr=bor_nonirr,
        cbor_nonirr=cbor_nonirr,
    )
