"""The assessment CRFs as the casebook lists them, the response panel and the patient-date provider."""

from django.utils.translation import gettext_lazy as _

from assessments import rules, selectors, services, views
from assessments.forms import LesionForm, TumourAssessmentForm
from assessments.models import Lesion, TumourAssessment
from sabr_trial import patient_dates, patient_facts, pipeline
from sabr_trial.crf import Branch, CasebookPanel, CrfSpec, Missing, registry
from sabr_trial.roles import Perm, has_perm
from treatment.models import SabrTarget

SECTION = _("Tumour assessments")

registry.register(
    CrfSpec(
        slug="lesion",
        model=Lesion,
        form_class=LesionForm,
        title=_("Lesion registry"),
        section=SECTION,
        order=80,
        many=True,
        feeds_endpoints=True,  # a baseline form: its section follows Baseline (issue 19)
        description=_("One row per baseline lesion: target (at most 5, at most 2 per organ) or non-target."),
        branching=(
            Branch(fields=("progressed_since_rt",), when=("previously_irradiated", ("Y",)), rule="R1.4"),
        ),
        # A non-target's slice thickness may be unknown; a target's never (EC-LR-2): it decides measurability.
        missing=(
            Missing(
                fields=("slice_thickness_mm",), codes=("ND", "UNK"), feeds=_("Measurable at baseline (R1.1)")
            ),
        ),
    )
)
registry.register(
    CrfSpec(
        slug="tumour-assessment",
        model=TumourAssessment,
        form_class=TumourAssessmentForm,
        title=_("Tumour assessment"),
        section=SECTION,
        order=85,
        many=True,
        feeds_endpoints=True,
        description=_(
            "One per imaging time point: every registered lesion, new lesions, computed RECIST 1.1."
        ),
        branching=(
            Branch(
                fields=("scan_date_first", "scan_date_last", "modality"),
                when=("imaging_done", ("Y",)),
                rule="EC-TA-2",
            ),
            Branch(fields=("not_done_reason", "visit_date"), when=("imaging_done", ("N",)), rule="EC-TA-2"),
        ),
        views={
            "create": views.assessment_create,
            "update": views.assessment_update,
            "detail": views.assessment_detail,
        },
    )
)

registry.register_panel(
    CasebookPanel(
        order=200,
        template="assessments/response_panel.html",
        context=lambda request, patient: selectors.response_summary(
            patient, can_enter=has_perm(request.user, Perm.ENTER)
        ),
        cached=True,
    )
)
patient_dates.register(selectors.patient_dates)


# --- The write pipeline's hooks (sabr_trial.pipeline) ----------------------------------------------------------
pipeline.rules.register(Lesion, rules.check_lesion)
pipeline.rules.register(TumourAssessment, rules.check_assessment)
pipeline.derivations.register(Lesion, services.derive_lesion_row)
# EC-TA-3: a registry change moves every response; D4: a SABR target makes its lesion irradiated.
# In a batch (import_study) the patient is recomputed once (the hook reads the patient's rows afresh).
pipeline.followups.register(Lesion, services.recompute_after_change, once_per=services.recompute_key)
pipeline.followups.register(SabrTarget, services.recompute_after_change, once_per=services.recompute_key)
patient_facts.register("recist_pd_dates", selectors.pd_dates)
