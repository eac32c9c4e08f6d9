"""The assessment CRFs as the casebook lists them, the response panel and the patient-date provider."""

from django.utils.translation import gettext_lazy as _

from assessments import selectors, views
from assessments.forms import LesionForm, TumourAssessmentForm
from assessments.models import Lesion, TumourAssessment
from sabr_trial import patient_dates
from sabr_trial.crf import CasebookPanel, CrfSpec, registry
from sabr_trial.roles import Perm, has_perm

SECTION = _("Tumour assessments")

registry.register(
    CrfSpec(
        slug="lesion", model=Lesion, form_class=LesionForm, title=_("Lesion registry"), section=SECTION,
        order=200, many=True, feeds_endpoints=True,
        description=_("One row per baseline lesion: target (at most 5, at most 2 per organ) or non-target."),
    )
)  # fmt: skip
registry.register(
    CrfSpec(
        slug="tumour-assessment", model=TumourAssessment, form_class=TumourAssessmentForm,
        title=_("Tumour assessment"), section=SECTION, order=210, many=True, feeds_endpoints=True,
        description=_("One per imaging time point: every registered lesion, new lesions, computed RECIST 1.1."),
        views={
            "create": views.assessment_create,
            "update": views.assessment_update,
            "detail": views.assessment_detail,
        },
    )
)  # fmt: skip

registry.register_panel(
    CasebookPanel(
        order=200,
        template="assessments/response_panel.html",
        context=lambda request, patient: selectors.response_summary(
            patient, can_enter=has_perm(request.user, Perm.ENTER)
        ),
    )
)
patient_dates.register(selectors.patient_dates)
