"""The enrollment CRFs as the casebook lists them."""

from django.utils.translation import gettext_lazy as _

from enrollment.forms import ScreeningLogForm
from enrollment.models import ScreeningLog
from sabr_trial.crf import CrfSpec, registry

SECTION = _("Enrollment")

registry.register(
    CrfSpec(
        slug="screening", model=ScreeningLog, form_class=ScreeningLogForm, title=_("Screening log"),
        section=SECTION, order=10, many=False,
    )
)  # fmt: skip
