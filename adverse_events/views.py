"""Pages of the AE app: term search (JSON), AE page with grade change and SAE reports, SAE list, safety."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from adverse_events import ctcae, reporting, selectors, services, soc_names
from adverse_events.forms import GradeChangeForm, SaeReportForm
from adverse_events.models import AdverseEvent, CtcaeTerm
from adverse_events.rules import ae_warnings
from adverse_events.safety import ActionTaken, Agent
from sabr_trial import generation as data_generation
from sabr_trial import services as crf_services
from sabr_trial.crf import CrfStatus
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import get_crf_for_user
from sabr_trial.templatetags.ruletext import text as ruletext_text
from sabr_trial.views import apply_errors, crf_detail_context

SLUG = "adverse-event"


def _require(request: HttpRequest, perm: str) -> None:
    if not has_perm(request.user, perm):
        raise PermissionDenied


def ctcae_search(request: HttpRequest) -> JsonResponse:
    """GET ?q=fatig -> {"results": [...]} best first (ctcae.search: name, then SOC; digits = MedDRA code)."""
    _require(request, Perm.VIEW)
    query = request.GET.get("q", "")[:100]
    soc = request.GET.get("soc", "").strip()
    try:
        limit = min(max(int(request.GET.get("limit", 20)), 1), 50)
    except ValueError:
        limit = 20
    terms = ctcae.default_terms()
    if soc:
        terms = tuple(t for t in terms if t.soc.casefold() == soc.casefold())
        found = ctcae.search(terms, query, limit=limit) if query.strip() else list(terms[:limit])
    else:
        # A query in Chinese matches the translated organ class (the term names exist in English only).
        found = ctcae.search(terms, query, limit=limit) or soc_names.search_by_translated_soc(
            terms, query, limit
        )
    rows = {
        t.meddra_code: t for t in CtcaeTerm.objects.filter(meddra_code__in=[f.meddra_code for f in found])
    }
    results = [rows[f.meddra_code].as_json() for f in found if f.meddra_code in rows]

    return JsonResponse({"query": query, "version": ctcae.CTCAE_VERSION, "results": results})


def ae_detail(request: HttpRequest, spec: Any, instance: AdverseEvent) -> HttpResponse:
    """The AE page: fields, soft-check warnings, the episode chain, grade change, SAE clock and reports."""
    return render(request, "adverse_events/ae_detail.html", _detail_context(request, spec, instance))


def _detail_context(request: HttpRequest, spec: Any, ae: AdverseEvent, **extra: Any) -> dict[str, Any]:
    context = crf_detail_context(request, spec, ae)
    # The soft checks (they read the patient's treatment: five tables), the episode chain and the steroids given
    # for the AE depend on the patient's data only: read once per (AE, language, patient data version).
    kept = data_generation.patient_fragment(
        ae.patient_id, f"ae-detail:{ae.pk}:{get_language()}", lambda: _patient_parts(ae)
    )
    chain = kept["chain"]
    locked = ae.status == CrfStatus.LOCKED or bool(ae.patient.locked_at)
    can_enter = has_perm(request.user, Perm.ENTER) and not locked
    context.update(
        warnings=kept["warnings"],
        chain=chain if len(chain) > 1 else [],
        worst_grade=max(e.grade for e in chain),
        clock=selectors.clock_for(ae),
        reports=list(ae.sae_reports.all())
        if ae.serious == "Y"
        else [],  # the page shows them for an SAE only
        can_change_grade=can_enter and ae.ongoing == "Y" and chain[-1].pk == ae.pk,
        grade_form=extra.get("grade_form") or GradeChangeForm(ae=ae),
        report_form=extra.get("report_form") or SaeReportForm(initial={"sent_at": timezone.localtime()}),
        can_report=can_enter and ae.serious == "Y",
        immunosuppressants=kept["immunosuppressants"],
    )
    return context


def _patient_parts(ae: AdverseEvent) -> dict[str, Any]:
    """The AE page's parts read from the patient's rows: soft-check warnings, the episode chain (root first: what
    the page shows of each episode), the steroids / immunosuppressants recorded for this AE (as they read)."""
    chain = [ae.root_episode()]
    while True:
        nxt = AdverseEvent.objects.filter(parent_episode=chain[-1]).first()
        if nxt is None:
            break
        chain.append(nxt)
    return {
        "warnings": [ruletext_text(w) for w in ae_warnings(ae)],
        "chain": [
            SimpleNamespace(
                pk=e.pk,
                grade=e.grade,
                onset_date=e.onset_date,
                resolution_date=e.resolution_date,
                url=e.get_absolute_url(),
            )
            for e in chain
        ],
        "immunosuppressants": [str(cm) for cm in ae.immunosuppressants.all()],
    }


@require_POST
def grade_change(request: HttpRequest, patient_pk: int, pk: int) -> HttpResponse:
    spec, ae = get_crf_for_user(request.user, patient_pk=patient_pk, slug=SLUG, pk=pk)
    _require(request, Perm.ENTER)
    form = GradeChangeForm(request.POST, ae=ae)
    if form.is_valid():
        try:
            child = services.record_grade_change(
                ae=ae,
                change_date=form.cleaned_data["change_date"],
                new_grade=form.cleaned_data["new_grade"],
                reason=form.cleaned_data["reason"],
                acting_user=request.user,
            )
        except crf_services.CrfLocked as exc:
            messages.error(request, str(exc))
            return redirect(ae.get_absolute_url())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("Grade changed: episode %(old)s closed on %(d)s; new episode at grade %(g)s opened.")
                % {"old": ae.pk, "d": form.cleaned_data["change_date"], "g": child.grade},
            )
            return redirect(child.get_absolute_url())
    ae.refresh_from_db()
    return render(
        request,
        "adverse_events/ae_detail.html",
        _detail_context(request, spec, ae, grade_form=form),
        status=422,
    )


@require_POST
def sae_report(request: HttpRequest, patient_pk: int, pk: int) -> HttpResponse:
    spec, ae = get_crf_for_user(request.user, patient_pk=patient_pk, slug=SLUG, pk=pk)
    _require(request, Perm.ENTER)
    form = SaeReportForm(request.POST)
    if form.is_valid():
        try:
            services.add_sae_report(ae=ae, acting_user=request.user, **form.cleaned_data)
        except crf_services.CrfLocked as exc:
            messages.error(request, str(exc))
            return redirect(ae.get_absolute_url())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("SAE report recorded."))
            return redirect(ae.get_absolute_url())
    return render(
        request,
        "adverse_events/ae_detail.html",
        _detail_context(request, spec, ae, report_form=form),
        status=422,
    )


def sae_list(request: HttpRequest) -> HttpResponse:
    """Open SAEs with the time left or overdue for the 24 h report, SUSAR deadlines and follow-up reports."""
    _require(request, Perm.VIEW)
    rows = selectors.sae_rows()
    return render(
        request,
        "adverse_events/sae_list.html",
        {
            "open_rows": [r for r in rows if r.is_open],
            "closed_rows": [r for r in rows if not r.is_open],
            "now": timezone.now(),
        },
    )


ACTION_LABELS = {  # lazy: read in each request's language
    ActionTaken.DRUG_INTERRUPTED: gettext_lazy("interruption"),
    ActionTaken.DOSE_REDUCED: gettext_lazy("dose reduction"),
    ActionTaken.DRUG_WITHDRAWN: gettext_lazy("discontinuation"),
}


def safety_page(request: HttpRequest) -> HttpResponse:
    """Study-level safety tables (adverse_events.reporting) over every AE row."""
    _require(request, Perm.VIEW)
    episodes = selectors.episodes()
    n = selectors.safety_population()
    context: dict[str, Any] = {"population_n": n, "has_data": bool(episodes)}
    if episodes:
        context.update(
            overview=reporting.overview(episodes, n),
            by_grade=reporting.patients_by_worst_grade(episodes, n),
            soc_term=reporting.by_soc_and_term(episodes, n),
            related=[
                (row.agent.value.title() if row.agent else _("Any study treatment"), row.counts)
                for row in reporting.related_by_agent(episodes, n)
            ],
            serious=reporting.serious_by_worst_grade(episodes, n),
            serious_soc_term=reporting.serious_by_soc_and_term(episodes, n),
            immune=reporting.immune_related_by_worst_grade(episodes, n),
            immune_soc_term=reporting.immune_related_by_soc_and_term(episodes, n),
            actions=[
                (
                    row.agent.value.title() if row.agent else _("Any study treatment"),
                    ACTION_LABELS.get(row.action, row.action.value),
                    row.count,
                )
                for row in reporting.leading_to_action(episodes, n)
            ],
        )
    context["agents"] = [a.value for a in Agent]
    return render(request, "adverse_events/safety.html", context)


def casebook_panel(request: HttpRequest, patient: Any) -> dict[str, Any] | None:
    """The patient's AEs (grade-change chains merged) by worst grade, for the casebook page."""
    if not has_perm(request.user, Perm.VIEW):
        return None
    episodes = selectors.episodes(patient)
    if not episodes:
        return None
    events = reporting.merge_episodes(episodes)
    rows_by_id = selectors.panel_rows(patient.pk)
    items = []
    for event in sorted(events, key=lambda e: (-e.worst_grade, e.onset_date)):
        members = [rows_by_id[i] for i in event.episode_ids]
        last = members[-1]
        items.append(
            {
                "event": event,
                "root": rows_by_id[event.root_episode_id],
                "last": last,
                "serious": any(m.serious == "Y" for m in members),
                "immune": any(m.immune_related == "Y" for m in members),
                "ongoing": last.ongoing == "Y",
            }
        )
    return {"patient": patient, "items": items, "slug": SLUG}
