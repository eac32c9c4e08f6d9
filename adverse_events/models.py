"""Adverse events: the CTCAE v5.0 dictionary (reference data) and the AE CRF (CRF-SPEC form 17)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from adverse_events import ctcae
from sabr_trial.crf import CrfBase
from sabr_trial.validators import not_in_future


class YesNo(models.TextChoices):
    """NY codelist."""

    Y = "Y", _("Yes")
    N = "N", _("No")


class CtcaeTerm(models.Model):
    """One CTCAE v5.0 term (R6.1); a grade text left empty (NULL) = grade not available (R6.3).

    Loaded from ``adverse_events/data/ctcae_v5.0.csv`` by migration 0002 (idempotent); read-only afterwards.
    """

    meddra_code = models.PositiveIntegerField(_("MedDRA LLT code"), unique=True)
    soc = models.CharField(_("system organ class"), max_length=120, db_index=True)
    term = models.CharField(_("CTCAE term"), max_length=200, unique=True)
    grade_1 = models.TextField(_("grade 1"), null=True, blank=True)
    grade_2 = models.TextField(_("grade 2"), null=True, blank=True)
    grade_3 = models.TextField(_("grade 3"), null=True, blank=True)
    grade_4 = models.TextField(_("grade 4"), null=True, blank=True)
    grade_5 = models.TextField(_("grade 5"), null=True, blank=True)
    definition = models.TextField(_("definition"), blank=True)
    navigational_note = models.TextField(_("navigational note"), blank=True)
    is_other_specify = models.BooleanField(_("'Other, specify' term"), default=False)
    version = models.CharField(_("CTCAE version"), max_length=5, default=ctcae.CTCAE_VERSION)

    class Meta:
        ordering = ["term"]
        verbose_name = _("CTCAE term")
        verbose_name_plural = _("CTCAE terms")

    def __str__(self) -> str:
        return f"{self.term} ({self.meddra_code})"

    def grade_texts(self) -> tuple[str | None, ...]:
        return (self.grade_1, self.grade_2, self.grade_3, self.grade_4, self.grade_5)

    def as_ctcae(self) -> ctcae.CtcaeTerm:
        """Return the pure-module term, for ctcae.validate_grade and friends."""
        g1, g2, g3, g4, g5 = self.grade_texts()
        return ctcae.CtcaeTerm(
            meddra_code=self.meddra_code,
            soc=self.soc,
            term=self.term,
            grades=(g1, g2, g3, g4, g5),
            definition=self.definition or None,
            navigational_note=self.navigational_note or None,
            is_other_specify=self.is_other_specify,
        )

    def allowed_grades(self) -> tuple[int, ...]:
        return ctcae.allowed_grades(self.as_ctcae())

    def as_json_text(self) -> str:
        import json

        return json.dumps(self.as_json())

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.pk,
            "code": self.meddra_code,
            "term": self.term,
            "soc": gettext(
                self.soc
            ),  # the organ class in the reader's language (adverse_events/soc_names.py)
            "other_specify": self.is_other_specify,
            "grades": {str(g): text for g, text in enumerate(self.grade_texts(), start=1)},
            "allowed": list(self.allowed_grades()),
            "definition": self.definition,
            "navigational_note": self.navigational_note,
        }


class Relationship(models.TextChoices):
    """NCI CTEP 5-point attribution (R7.1) + NOT APPLICABLE (EC-AE-5); values = reporting.Relationship."""

    UNRELATED = "UNRELATED", _("Unrelated")
    UNLIKELY = "UNLIKELY", _("Unlikely")
    POSSIBLE = "POSSIBLE", _("Possible")
    PROBABLE = "PROBABLE", _("Probable")
    DEFINITE = "DEFINITE", _("Definite")
    NOT_APPLICABLE = "NOT APPLICABLE", _("Not applicable (not received by onset)")


class ActionTaken(models.TextChoices):
    """AEACN per drug; DOSE REDUCED is for axitinib only (R4.4, R4.7)."""

    DOSE_NOT_CHANGED = "DOSE NOT CHANGED", _("Dose not changed")
    DOSE_REDUCED = "DOSE REDUCED", _("Dose reduced (axitinib only)")
    DRUG_INTERRUPTED = "DRUG INTERRUPTED", _("Interrupted")
    DRUG_WITHDRAWN = "DRUG WITHDRAWN", _("Withdrawn")
    NOT_APPLICABLE = "NOT APPLICABLE", _("Not applicable")


class Outcome(models.TextChoices):
    RECOVERED = "RECOVERED/RESOLVED", _("Recovered/resolved")
    RECOVERING = "RECOVERING/RESOLVING", _("Recovering/resolving")
    NOT_RECOVERED = "NOT RECOVERED/NOT RESOLVED", _("Not recovered/not resolved")
    SEQUELAE = "RECOVERED/RESOLVED WITH SEQUELAE", _("Recovered/resolved with sequelae")
    FATAL = "FATAL", _("Fatal")
    UNKNOWN = "UNKNOWN", _("Unknown")


def _grade_label(grade: int) -> str:
    return gettext("Grade %(g)s") % {"g": grade}


#: Labels built lazily, so each request reads them in its own language (a plain % would fix them at import).
GRADE_CHOICES = [(g, lazy(_grade_label, str)(g)) for g in ctcae.GRADES]

SERIOUSNESS_FIELDS = ("aesdth", "aeslife", "aeshosp", "aesdisab", "aescong", "aesmie")
RELATIONSHIP_FIELDS = {"SABR": "rel_sabr", "AXITINIB": "rel_axitinib", "TORIPALIMAB": "rel_toripalimab"}
ACTION_FIELDS = {"SABR": "acn_sabr", "AXITINIB": "acn_axitinib", "TORIPALIMAB": "acn_toripalimab"}


def _yes_no(label: str, help_text: str = "", default: str | None = None) -> models.CharField:
    kwargs: dict[str, object] = {"max_length": 1, "choices": YesNo.choices, "help_text": help_text}
    if default is not None:
        kwargs["default"] = default
    return models.CharField(label, **kwargs)


class AdverseEvent(CrfBase):
    """CRF 17: one AE episode at one grade. A grade change closes the row and opens a child (EC-AE-4)."""

    ae_number = models.PositiveIntegerField(_("AE number"), editable=False, null=True)
    parent_episode = models.OneToOneField(
        "self",
        verbose_name=_("previous episode (grade change)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="next_episode",
    )
    ctcae_term = models.ForeignKey(
        CtcaeTerm,
        verbose_name=_("CTCAE term"),
        on_delete=models.PROTECT,
        related_name="adverse_events",
        help_text=_("Type part of the term, its MedDRA code or its system organ class (R6.1)."),
    )
    verbatim = models.CharField(
        _("Reported term"),
        max_length=200,
        blank=True,
        help_text=_("Required for an 'Other, specify' term (R6.4)."),
    )
    soc = models.CharField(_("System organ class"), max_length=120, editable=False, blank=True)
    ctcae_version = models.CharField(
        _("CTCAE version"), max_length=5, editable=False, default=ctcae.CTCAE_VERSION
    )
    grade = models.PositiveSmallIntegerField(
        _("CTCAE grade"),
        choices=GRADE_CHOICES,
        help_text=_("Only the grades that exist for the term can be chosen (R6.3)."),
    )
    onset_date = models.DateField(_("Onset date"), validators=[not_in_future])
    ongoing = _yes_no(_("Ongoing?"))
    resolution_date = models.DateField(
        _("Resolved / grade changed on"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("Blank while the AE is ongoing (EC-AE-4)."),
    )
    serious = _yes_no(
        _("Serious?"),
        _("Serious = Yes exactly when at least one criterion below is Yes (ICH E2A, R7.3)."),
    )
    aesdth = _yes_no(_("Results in death"), default=YesNo.N)
    aeslife = _yes_no(_("Life-threatening"), default=YesNo.N)
    aeshosp = _yes_no(_("Requires or prolongs hospitalisation"), default=YesNo.N)
    aesdisab = _yes_no(_("Persistent or significant disability/incapacity"), default=YesNo.N)
    aescong = _yes_no(_("Congenital anomaly/birth defect"), default=YesNo.N)
    aesmie = _yes_no(_("Important medical event"), default=YesNo.N)
    rel_sabr = models.CharField(_("Relationship to SABR"), max_length=14, choices=Relationship.choices)
    rel_axitinib = models.CharField(
        _("Relationship to axitinib"), max_length=14, choices=Relationship.choices
    )
    rel_toripalimab = models.CharField(
        _("Relationship to toripalimab"), max_length=14, choices=Relationship.choices
    )
    immune_related = _yes_no(_("Immune-related AE (investigator)?"))
    acn_axitinib = models.CharField(_("Action with axitinib"), max_length=16, choices=ActionTaken.choices)
    acn_toripalimab = models.CharField(
        _("Action with toripalimab"), max_length=16, choices=ActionTaken.choices
    )
    acn_sabr = models.CharField(_("Action with SABR"), max_length=16, choices=ActionTaken.choices)
    treatment_given = _yes_no(
        _("Treatment given for this AE?"),
        _("Record steroids or immunosuppressants on the concomitant steroid log (form 15)."),
    )
    outcome = models.CharField(
        _("Outcome"),
        max_length=32,
        choices=Outcome.choices,
        blank=True,
        help_text=_("Required once resolved; FATAL exactly for grade 5 (EC-AE-2)."),
    )
    awareness_at = models.DateTimeField(
        _("Site aware of the SAE"),
        null=True,
        blank=True,
        validators=[not_in_future],
        help_text=_("Required for a serious AE: the 24 h report clock starts here (R7.4)."),
    )
    reported_at = models.DateTimeField(
        _("Report sent to sponsor"), null=True, blank=True, validators=[not_in_future]
    )
    expected = models.CharField(
        _("Expected per reference safety information?"),
        max_length=1,
        choices=YesNo.choices,
        blank=True,
        help_text=_("Blank until assessed; a related unexpected SAE is a SUSAR (R7.4)."),
    )
    sae_due_at = models.DateTimeField(_("Site report due"), null=True, blank=True, editable=False)
    susar_due_at = models.DateTimeField(_("SUSAR report due"), null=True, blank=True, editable=False)
    treatment_emergent = models.CharField(
        _("Treatment-emergent"), max_length=1, choices=YesNo.choices, blank=True, editable=False
    )

    class Meta:
        ordering = ["patient", "ae_number", "onset_date", "id"]
        verbose_name = _("adverse event")
        verbose_name_plural = _("adverse events")
        constraints = [
            models.CheckConstraint(condition=models.Q(grade__gte=1, grade__lte=5), name="ae_grade_1_to_5"),
            models.CheckConstraint(
                condition=models.Q(resolution_date__isnull=True)
                | models.Q(resolution_date__gte=models.F("onset_date")),
                name="ae_resolution_not_before_onset",
            ),
            models.CheckConstraint(
                condition=models.Q(ongoing="Y", resolution_date__isnull=True)
                | models.Q(ongoing="N", resolution_date__isnull=False),
                name="ae_ongoing_iff_no_resolution",
            ),
            models.CheckConstraint(
                condition=~models.Q(acn_sabr="DOSE REDUCED") & ~models.Q(acn_toripalimab="DOSE REDUCED"),
                name="ae_dose_reduced_axitinib_only",
            ),
            models.CheckConstraint(
                condition=models.Q(serious="N", sae_due_at__isnull=True) | models.Q(serious="Y"),
                name="ae_due_only_when_serious",
            ),
        ]

    str_related = ("ctcae_term",)

    def __str__(self) -> str:
        name = self.verbatim if self.verbatim else (self.ctcae_term.term if self.ctcae_term_id else "?")
        return _("AE %(n)s: %(term)s, grade %(g)s") % {
            "n": self.ae_number or "-",
            "term": name,
            "g": self.grade,
        }

    @property
    def display_term(self) -> str:
        if not self.ctcae_term_id:
            return ""
        return self.term_text(self.ctcae_term.term, self.ctcae_term.is_other_specify, self.verbatim)

    @staticmethod
    def term_text(term: str | None, is_other_specify: bool, verbatim: str) -> str:
        """The term as shown: an "Other, specify" term with the reported term after it; "" without a term."""
        if term is None:
            return ""
        if is_other_specify and verbatim:
            return f"{term}: {verbatim}"
        return term

    @property
    def is_serious(self) -> bool:
        return self.serious == YesNo.Y

    def root_episode(self) -> AdverseEvent:
        node = self
        while node.parent_episode_id is not None:
            node = node.parent_episode  # type: ignore[assignment]
        return node


class SaeReport(models.Model):
    """A report of an SAE sent to the sponsor: the initial 24 h report or a follow-up (R7.4)."""

    class Kind(models.TextChoices):
        INITIAL = "INITIAL", _("Initial report")
        FOLLOW_UP = "FOLLOW-UP", _("Follow-up report")

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="sae_reports")
    kind = models.CharField(_("Report"), max_length=10, choices=Kind.choices, default=Kind.FOLLOW_UP)
    sent_at = models.DateTimeField(_("Sent to sponsor at"), validators=[not_in_future])
    summary = models.TextField(_("New information"), max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["adverse_event", "sent_at", "id"]
        verbose_name = _("SAE report")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sent_at:%Y-%m-%d %H:%M}"
