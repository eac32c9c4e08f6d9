"""The patient casebook PDF: every CRF of one patient with its values, status, signatures and change history.

Built from the CRF registry, so a new CRF appears without a change here; child rows of a CRF (eligibility
answers, lesion results...) are listed under it. History comes from ``sabr_trial.selectors.history_rows``
and signatures from ``signatures_for``: the same reads the casebook pages use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from endpoints.report import css_string, html_to_pdf
from sabr_trial import services
from sabr_trial.crf import CrfBase, registry
from sabr_trial.selectors import audit_events_for, history_rows, signatures_for
from sabr_trial.sitetime import stamp

Progress = Callable[[str, int], None]


def _noop(stage: str, pct: int) -> None:
    return None


def _value(instance: models.Model, f: models.Field[Any, Any]) -> str:
    return services._display(instance, f)


def _children(instance: CrfBase) -> list[dict[str, Any]]:
    """One-to-many rows that belong to this CRF and are not CRFs themselves (answers, lesion results)."""
    out = []
    for rel in type(instance)._meta.related_objects:
        model = rel.related_model
        if not rel.one_to_many or issubclass(model, CrfBase) or model.__name__.startswith("Historical"):
            continue
        if model._meta.app_label in ("sabr_trial", "contenttypes", "auth"):
            continue
        accessor = rel.get_accessor_name()
        if not accessor:
            continue
        rows = list(getattr(instance, accessor).all().order_by("pk"))
        if not rows:
            continue
        fields = [
            f
            for f in model._meta.concrete_fields
            if not f.primary_key and f.name != rel.field.name and f.editable
        ]
        out.append(
            {
                "title": str(model._meta.verbose_name_plural).capitalize(),
                "headers": [str(f.verbose_name) for f in fields],
                "rows": [[_value(r, f) for f in fields] for r in rows],
            }
        )
    return out


def _m2m(instance: CrfBase) -> list[tuple[str, str]]:
    out = []
    for f in type(instance)._meta.many_to_many:
        values = ", ".join(str(v) for v in getattr(instance, f.name).all())
        out.append((str(f.verbose_name), values or "—"))
    return out


def _user(u: Any) -> str:
    if u is None:
        return ""
    return u.get_full_name() or u.get_username()


def casebook_context(patient: Any, *, user: Any, progress: Progress = _noop) -> dict[str, Any]:
    specs = registry.all()
    forms = []
    for i, spec in enumerate(specs):
        progress(_("Reading %(form)s") % {"form": spec.title}, 5 + int(70 * i / max(len(specs), 1)))
        rows = list(spec.model.objects.filter(patient=patient).order_by("pk"))
        for row in rows:
            forms.append(
                {
                    "spec": spec,
                    "row": row,
                    "anchor": f"{spec.slug}-{row.pk}",
                    "title": f"{spec.title}" + (f" #{row.pk}" if spec.many else ""),
                    "status": row.get_status_display(),
                    "meta": [
                        (_("Version"), str(row.version)),
                        (
                            _("Created"),
                            f"{stamp(row.created_at)} {_user(row.created_by)}",
                        ),
                        (
                            _("Last change"),
                            f"{stamp(row.updated_at)} {_user(row.updated_by)}",
                        ),
                        (
                            _("Submitted"),
                            f"{stamp(row.submitted_at)}"
                            if row.submitted_at
                            else "—",
                        ),
                        (
                            _("Source-data verified"),
                            f"{stamp(row.verified_at)} {_user(row.verified_by)}"
                            if row.verified_at
                            else "—",
                        ),
                        (
                            _("Locked"),
                            f"{stamp(row.locked_at)} {_user(row.locked_by)}"
                            if row.locked_at
                            else "—",
                        ),
                    ],  # fmt: skip
                    "values": [(str(f.verbose_name), _value(row, f)) for f in services.data_fields(type(row))]
                    + _m2m(row),
                    "children": _children(row),
                    "signatures": list(signatures_for(row)),
                    "history": history_rows(row),
                    "events": list(audit_events_for(row)[:200]),
                }
            )
    return {
        "patient": patient,
        "forms": forms,
        "study_id": settings.STUDY_ID,
        "study_title": settings.STUDY_TITLE,
        "protocol_version": settings.PROTOCOL_VERSION,
        "generated_by": _user(user),
        "generated_at": timezone.localtime(),
        "css_header_left": css_string(f"{settings.STUDY_ID} · " + _("Casebook %(p)s") % {"p": patient.label}),
        "css_header_right": css_string(_("Printed %(d)s") % {"d": stamp(timezone.now())}),
        "css_footer_left": css_string(_("Patient %(p)s") % {"p": patient.label}),
        "css_page": css_string(_("Page")),
    }


def build_casebook(patient: Any, *, user: Any, progress: Progress = _noop) -> bytes:
    """Return the casebook PDF of ``patient``."""
    html = render_to_string(
        "endpoints/report/casebook.html", casebook_context(patient, user=user, progress=progress)
    )
    progress(_("Laying out the PDF pages"), 80)
    return html_to_pdf(html)
