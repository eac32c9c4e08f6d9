"""Cross-field edit checks of the AE CRF (CRF-SPEC form 17: EC-AE-1 ... EC-AE-6, D8).

Hard checks raise ``ValidationError({field: message})`` naming the field and citing the rule id; soft
checks are returned by ``ae_warnings`` and shown after save. CTCAE grade logic stays in ``ctcae.py``,
seriousness and the reporting clock in ``safety.py``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from adverse_events import ctcae
from adverse_events.exposure import death_date, exposure_for
from adverse_events.safety import (
    AE_WINDOW_DAYS,
    AE_WINDOW_EXTENDED_DAYS,
    Agent,
    SeriousnessCriteria,
    ae_window_end,
)
from ruletext import say

if TYPE_CHECKING:
    from adverse_events.models import AdverseEvent

AGENT_LABELS = {Agent.SABR: "SABR", Agent.AXITINIB: "axitinib", Agent.TORIPALIMAB: "toripalimab"}
OPEN_OUTCOMES = {"RECOVERING/RESOLVING", "NOT RECOVERED/NOT RESOLVED", "UNKNOWN", ""}


def criteria_of(ae: AdverseEvent) -> SeriousnessCriteria:
    """The ICH E2A criteria of the row as the pure module's value object (R7.3)."""
    return SeriousnessCriteria(
        death=ae.aesdth == "Y",
        life_threatening=ae.aeslife == "Y",
        hospitalisation=ae.aeshosp == "Y",
        disability=ae.aesdisab == "Y",
        congenital_anomaly=ae.aescong == "Y",
        important_medical_event=ae.aesmie == "Y",
    )


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def check_term(ae: AdverseEvent, errors: dict[str, list[str]]) -> None:
    """EC-AE-1 (R6.3, R6.4): the grade exists for the term; an 'Other, specify' term needs verbatim."""
    if not ae.ctcae_term_id:
        return
    term = ae.ctcae_term.as_ctcae()
    if ae.grade:
        try:
            ctcae.validate_grade(term, int(ae.grade))
        except ctcae.CtcaeError as exc:
            _add(errors, "grade", _("%(message)s (EC-AE-1)") % {"message": exc})
    try:
        ctcae.validate_verbatim(term, ae.verbatim)
    except ctcae.CtcaeError as exc:
        _add(errors, "verbatim", _("%(message)s (EC-AE-1)") % {"message": exc})


def check_seriousness(ae: AdverseEvent, errors: dict[str, list[str]]) -> None:
    """EC-AE-3 (R7.3, R7.4): serious = Y exactly when >= 1 criterion = Y; serious needs the awareness time."""
    criteria = criteria_of(ae)
    if ae.serious == "Y" and not criteria.any:
        _add(
            errors,
            "serious",
            _("Serious = Yes needs at least one seriousness criterion = Yes (EC-AE-3, R7.3)."),
        )
    if ae.serious == "N" and criteria.any:
        _add(errors, "serious", _("A seriousness criterion is Yes, so Serious must be Yes (EC-AE-3, R7.3)."))
    if ae.serious == "Y" and ae.awareness_at is None:
        _add(
            errors,
            "awareness_at",
            _(
                "A serious AE needs the date and time the site became aware of it: the 24 h clock starts there "
                "(EC-AE-3, R7.4)."
            ),
        )
    # A non-serious AE has no SAE report times nor expectedness: the AE CRF's branching (adverse_events.crfs).
    if ae.awareness_at and ae.reported_at and ae.reported_at < ae.awareness_at:
        _add(errors, "reported_at", _("The report cannot be sent before the site became aware (EC-AE-3)."))


def check_grade_five(ae: AdverseEvent, errors: dict[str, list[str]], died_on: datetime.date | None) -> None:
    """EC-AE-2 (D8): grade 5 <=> fatal: serious with death criterion, outcome FATAL, dated on the death
    report's date. Seriousness is otherwise never derived from grade (R7.3)."""
    if ae.grade == 5:
        if ae.serious != "Y" or ae.aesdth != "Y":
            _add(
                errors,
                "aesdth",
                _("Grade 5 means death: Serious = Yes with 'Results in death' = Yes (EC-AE-2, D8)."),
            )
        if ae.outcome != "FATAL":
            _add(errors, "outcome", _("A grade 5 AE has outcome FATAL (EC-AE-2)."))
        if ae.patient_id and died_on is None:
            _add(
                errors,
                "grade",
                _(
                    "Grade 5 needs the patient's death report (form 19) dated on this AE's resolution date: "
                    "record the death report first (EC-AE-2, D8)."
                ),
            )
        elif ae.patient_id and ae.resolution_date != died_on:
            _add(
                errors,
                "resolution_date",
                _("A grade 5 AE resolves on the date of death %(d)s of the death report (EC-AE-2).")
                % {"d": died_on},
            )
    else:
        if ae.aesdth == "Y":
            _add(
                errors,
                "aesdth",
                _("'Results in death' requires grade 5, not grade %(g)s (EC-AE-2).") % {"g": ae.grade},
            )
        if ae.outcome == "FATAL":
            _add(errors, "outcome", _("Outcome FATAL requires grade 5 (EC-AE-2)."))


def check_dates(ae: AdverseEvent, errors: dict[str, list[str]], died_on: datetime.date | None) -> None:
    """EC-AE-4, EC-G2: resolution >= onset; ongoing = Y <=> no resolution; nothing after death."""
    if ae.onset_date and ae.resolution_date and ae.resolution_date < ae.onset_date:
        _add(
            errors,
            "resolution_date",
            _("The resolution date %(r)s is before the onset date %(o)s (EC-AE-4).")
            % {"r": ae.resolution_date, "o": ae.onset_date},
        )
    # An ongoing AE has no resolution date: the AE CRF's branching (adverse_events.crfs).
    if ae.ongoing == "N" and not ae.resolution_date:
        _add(
            errors, "resolution_date", _("Not ongoing: give the date it resolved or changed grade (EC-AE-4).")
        )
    if ae.ongoing == "N" and not ae.outcome:
        _add(errors, "outcome", _("A resolved AE needs its outcome (EC-AE-4)."))
    if ae.ongoing == "Y" and ae.outcome not in OPEN_OUTCOMES:
        _add(errors, "outcome", _("An ongoing AE is recovering, not recovered or unknown (EC-AE-4)."))
    if died_on is not None:
        if ae.onset_date and ae.onset_date > died_on:
            _add(
                errors,
                "onset_date",
                _(
                    "Onset %(o)s is after the date of death %(d)s: nothing is dated after death (EC-AE-4, EC-G2)."
                )
                % {"o": ae.onset_date, "d": died_on},
            )
        if ae.resolution_date and ae.resolution_date > died_on:
            _add(
                errors,
                "resolution_date",
                _("Resolution %(r)s is after the date of death %(d)s (EC-AE-4, EC-G2).")
                % {"r": ae.resolution_date, "d": died_on},
            )
    parent = ae.parent_episode if ae.parent_episode_id else None
    if parent is not None:
        if parent.resolution_date and ae.onset_date and ae.onset_date != parent.resolution_date:
            _add(
                errors,
                "onset_date",
                _("A grade change starts on the day the previous episode closed, %(d)s (EC-AE-4).")
                % {"d": parent.resolution_date},
            )
        if ae.grade == parent.grade:
            _add(errors, "grade", _("A new episode needs a different grade from the previous one (EC-AE-4)."))
        if ae.ctcae_term_id and ae.ctcae_term_id != parent.ctcae_term_id:
            _add(errors, "ctcae_term", _("A grade change keeps the term of the first episode (EC-AE-4)."))


def check_attribution(ae: AdverseEvent, errors: dict[str, list[str]]) -> None:
    """EC-AE-5 (hard; R7.1, R7.2, R4.7): NOT APPLICABLE only for an agent not received by the onset date;
    DOSE REDUCED only for axitinib."""
    for name in ("acn_sabr", "acn_toripalimab"):
        if getattr(ae, name) == "DOSE REDUCED":
            _add(errors, name, _("Only axitinib can be dose-reduced: use interrupted or withdrawn (R4.7)."))
    if not ae.onset_date or not ae.patient_id:
        return
    exposure = exposure_for(ae.patient)
    fields = {
        Agent.SABR: ("rel_sabr", "acn_sabr"),
        Agent.AXITINIB: ("rel_axitinib", "acn_axitinib"),
        Agent.TORIPALIMAB: ("rel_toripalimab", "acn_toripalimab"),
    }
    for agent, names in fields.items():
        if not exposure.received_by(agent, ae.onset_date):
            continue
        for name in names:
            if getattr(ae, name) == "NOT APPLICABLE":
                _add(
                    errors,
                    name,
                    _(
                        "The patient received %(agent)s on %(d)s, before this onset: give the %(what)s; NOT "
                        "APPLICABLE is only for an agent not received by onset (EC-AE-5)."
                    )
                    % {
                        "agent": AGENT_LABELS[agent],
                        "d": exposure.first_dose[agent],
                        "what": _("relationship") if name.startswith("rel_") else _("action taken"),
                    },
                )


def check_adverse_event(ae: AdverseEvent) -> None:
    """Run every hard check of form 17; raise one ValidationError naming each offending field."""
    errors: dict[str, list[str]] = {}
    death = death_date(ae.patient) if ae.patient_id else None
    check_term(ae, errors)
    check_seriousness(ae, errors)
    check_grade_five(ae, errors, death)
    check_dates(ae, errors, death)
    check_attribution(ae, errors)
    if errors:
        raise ValidationError(errors)


def ae_warnings(ae: AdverseEvent) -> list[str]:
    """Soft checks (saved, shown with a warning): the D8 collection window (EC-AE-5) and EC-AE-6.

    Each warning is a ``ruletext`` message (its English text, with its id and parameters): the edit check stores
    it as a system query that reads in each reader's language; pages show it with ``|ruletext``.
    """
    warnings: list[str] = []
    exposure = exposure_for(ae.patient)
    start = exposure.treatment_start
    if start is None:
        warnings.append(
            say(
                gettext_noop(
                    "No study treatment is recorded yet: an AE before treatment belongs in medical history "
                    "(EC-AE-5, D8)."
                )
            )
        )
    elif start is not None and ae.onset_date < start:
        warnings.append(
            say(
                gettext_noop(
                    "Onset %(o)s is before the first study treatment %(s)s: this belongs in medical history "
                    "(EC-AE-5, D8)."
                ),
                o=ae.onset_date,
                s=start,
            )
        )
    last = exposure.last_any_dose
    if start is not None and last is not None and ae.onset_date >= start:
        extended = ae.serious == "Y" or ae.immune_related == "Y"
        end = ae_window_end(last, serious=ae.serious == "Y", immune_related=ae.immune_related == "Y")
        if ae.onset_date > end:
            warnings.append(
                say(
                    gettext_noop(
                        "Onset %(o)s is after the collection window: last dose %(l)s + %(n)s days = %(e)s "
                        "(EC-AE-5, D8)."
                    ),
                    o=ae.onset_date,
                    l=last,
                    n=AE_WINDOW_EXTENDED_DAYS if extended else AE_WINDOW_DAYS,
                    e=end,
                )
            )
    if ae.immune_related == "Y" and ae.rel_toripalimab in ("UNRELATED", "UNLIKELY"):
        with translation.override("en"):  # the choice's label, said so that each reader sees their own
            label = say(str(ae.get_rel_toripalimab_display()))
        warnings.append(
            say(
                gettext_noop(
                    "Immune-related = Yes while the relationship to toripalimab is %(r)s: please confirm (EC-AE-6)."
                ),
                r=label,
            )
        )
    term = ae.ctcae_term.term if ae.ctcae_term_id else ""
    if term == "Disease progression":
        warnings.append(
            say(
                gettext_noop(
                    "Disease progression is an efficacy endpoint, not an AE, unless the protocol says otherwise "
                    "(EC-AE-6, R7.5)."
                )
            )
        )
    if (
        term in ("Alanine aminotransferase increased", "Aspartate aminotransferase increased")
        and ae.grade >= 2
    ):
        held = {"DOSE REDUCED", "DRUG INTERRUPTED", "DRUG WITHDRAWN"}
        pair = (ae.acn_axitinib, ae.acn_toripalimab)
        if (pair[0] in held and pair[1] == "DOSE NOT CHANGED") or (
            pair[1] in held and pair[0] == "DOSE NOT CHANGED"
        ):
            warnings.append(
                say(
                    gettext_noop(
                        "Transaminases grade %(g)s with one drug held and the other unchanged: with the combination "
                        "both are usually held (EC-AE-6, R4.5)."
                    ),
                    g=ae.grade,
                )
            )
    return warnings
