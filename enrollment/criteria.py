"""The eligibility criteria of the protocol, as data (CRF-SPEC form 2).

Draft list of the enrollment issue, to be confirmed against the protocol. Each criterion has an id (IETESTCD),
a category (IECAT), the text the form shows, the answer that qualifies and the protocol version it belongs to.
A new protocol version adds a new tuple here; old checklists keep the version they were answered against.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

INCLUSION = "INCLUSION"
EXCLUSION = "EXCLUSION"

#: Protocol version of the criteria a new checklist is answered against (TI.TIVERS).
CURRENT_VERSION = "1.0"

#: Approved informed-consent form versions, oldest first (form 3, icf_version).
ICF_VERSIONS = ("1.0", "1.1", "2.0")

#: Id of the age criterion: EC-IC-3 accepts age 18 from the birth year only once it is confirmed.
AGE_CRITERION = "INCL01"
#: Id of the prior PD-1/PD-L1 exclusion: a prior therapy with pd1_pdl1 = Y breaks it (EC-PT-3).
PD1_CRITERION = "EXCL01"


@dataclass(frozen=True)
class Criterion:
    id: str
    category: str
    text: str | Promise
    qualifying_answer: str  # "Y" for an inclusion (met), "N" for an exclusion (absent)
    protocol_version: str = CURRENT_VERSION

    @property
    def question(self) -> str | Promise:
        return _("Criterion met?") if self.category == INCLUSION else _("Condition present?")


CRITERIA: tuple[Criterion, ...] = (
    Criterion("INCL01", INCLUSION, _("Age 18 years or older at consent"), "Y"),
    Criterion("INCL02", INCLUSION, _("Histologically confirmed renal cell carcinoma"), "Y"),
    Criterion("INCL03", INCLUSION, _("Recurrent or metastatic disease"), "Y"),
    Criterion("INCL04", INCLUSION, _("Every known lesion amenable to SABR"), "Y"),
    Criterion("INCL05", INCLUSION, _("At least one lesion measurable by RECIST 1.1"), "Y"),
    Criterion("INCL06", INCLUSION, _("ECOG performance status 0-1"), "Y"),
    Criterion("INCL07", INCLUSION, _("Adequate organ function"), "Y"),
    Criterion("EXCL01", EXCLUSION, _("Prior PD-1 or PD-L1 antibody therapy"), "N"),
    Criterion("EXCL02", EXCLUSION, _("Active autoimmune disease needing systemic treatment"), "N"),
    Criterion("EXCL03", EXCLUSION, _("Uncontrolled hypertension"), "N"),
    Criterion("EXCL04", EXCLUSION, _("Untreated brain metastases"), "N"),
    Criterion("EXCL05", EXCLUSION, _("Pregnant or breastfeeding"), "N"),
)


def criteria_for(version: str = CURRENT_VERSION) -> tuple[Criterion, ...]:
    """Return the criteria of one protocol version, in form order."""
    return tuple(c for c in CRITERIA if c.protocol_version == version)


def get(criterion_id: str) -> Criterion:
    """Return the criterion with this id (KeyError if unknown)."""
    for criterion in CRITERIA:
        if criterion.id == criterion_id:
            return criterion
    raise KeyError(criterion_id)


def label(criterion_id: str) -> str:
    """Return "ID text" as refusals name a criterion (EC-RG-1)."""
    try:
        return f"{criterion_id} {get(criterion_id).text}"
    except KeyError:
        return criterion_id


def icf_version_key(version: str) -> tuple[int, ...]:
    """Return a sortable key of a consent form version ("1.10" after "1.9")."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())
