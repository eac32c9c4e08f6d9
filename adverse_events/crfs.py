"""The AE CRF, its casebook panel, navigation items and patient-date provider."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from adverse_events import rules, selectors, services
from adverse_events.forms import AdverseEventForm
from adverse_events.models import AdverseEvent
from adverse_events.views import SLUG, ae_detail, casebook_panel
from sabr_trial import patient_dates, patient_facts, pipeline
from sabr_trial.crf import Branch, CasebookPanel, CrfSpec, NavItem, registry
from sabr_trial.roles import Perm
from treatment.models import AxitinibPeriod, SabrFraction, ToripalimabInfusion

registry.register(
    CrfSpec(
        slug=SLUG,
        model=AdverseEvent,
        form_class=AdverseEventForm,
        title=_lazy("Adverse event"),
        section=_lazy("Adverse events"),
        order=170,
        many=True,
        feeds_endpoints=True,  # the dashboard's safety summary is part of the endpoint snapshot
        description=_lazy("One row per episode at one grade (CTCAE v5.0); SAEs with the 24 h report clock."),
        views={"detail": ae_detail},
        branching=(
            Branch(fields=("resolution_date",), when=("ongoing", ("N",)), rule="EC-AE-4"),
            Branch(
                fields=("awareness_at", "reported_at", "expected"), when=("serious", ("Y",)), rule="EC-AE-3"
            ),
        ),
    )
)
registry.register_panel(
    CasebookPanel(
        order=70, template="adverse_events/casebook_panel.html", context=casebook_panel, cached=True
    )
)


def _overdue_badge(request: Any) -> int | None:
    from adverse_events.selectors import overdue_count

    return overdue_count() or None


registry.register_nav(
    NavItem(
        order=60,
        label=_lazy("SAEs"),
        url_name="adverse_events:sae_list",
        perm=Perm.VIEW,
        badge=_overdue_badge,
    )
)
registry.register_nav(
    NavItem(order=61, label=_lazy("Safety"), url_name="adverse_events:safety", perm=Perm.VIEW)
)


patient_facts.register("axitinib_aes", selectors.axitinib_aes)
patient_facts.register("axitinib_ae_actions", selectors.axitinib_ae_actions)


@patient_dates.register
def ae_dates(patient: Any) -> Iterable[patient_dates.PatientDate]:
    """AE onsets and resolutions (kind "procedure") for the death and end-of-study checks."""
    for ae in AdverseEvent.objects.filter(patient=patient).select_related("ctcae_term"):
        url = reverse("crf_detail", args=[patient.pk, SLUG, ae.pk])
        form = _("Adverse event %(n)s (%(term)s)") % {"n": ae.ae_number, "term": ae.ctcae_term.term}
        yield patient_dates.PatientDate(
            form=form,
            field=str(AdverseEvent._meta.get_field("onset_date").verbose_name),
            date=ae.onset_date,
            url=url,
        )
        if ae.resolution_date:
            yield patient_dates.PatientDate(
                form=form,
                field=str(AdverseEvent._meta.get_field("resolution_date").verbose_name),
                date=ae.resolution_date,
                url=url,
            )


# --- The write pipeline's hooks (sabr_trial.pipeline) ----------------------------------------------------------
pipeline.rules.register(AdverseEvent, rules.check_adverse_event)
pipeline.derivations.register(AdverseEvent, services.derive_adverse_event)
pipeline.followups.register(AdverseEvent, services.notify_if_new_sae)
for _treatment_model in (SabrFraction, AxitinibPeriod, ToripalimabInfusion):
    # In a batch (import_study) a patient's AEs are re-derived once for all the treatment rows.
    pipeline.followups.register(
        _treatment_model, services.rederive_patient_adverse_events, once_per=lambda row: row.patient_id
    )
