"""Pages of the visit schedule: the coordinator's worklist, a patient's expected-forms grid, not-done marks."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from enrollment.selectors import get_patient_for_user
from sabr_trial.crf import registry
from sabr_trial.generation import fragment
from sabr_trial.roles import Perm, has_perm
from sabr_trial.services import CrfLocked, casebook_lock
from sabr_trial.views import apply_errors
from visits import schedule, selectors, services
from visits.forms import CancelMarkForm, NotDoneForm
from visits.models import NotDone
from visits.schedule import ExpectedForm, Reason, State, Visit, VisitKind

#: States a coordinator may still mark not done.
OPEN_STATES = (State.DUE, State.OVERDUE, State.UPCOMING)


def visit_label(visit: Visit) -> str:
    """Return the visit's name as staff say it."""
    n = {"n": visit.number}
    kind = visit.kind  # only this kind's name is translated (the schedule grid asks for every visit)
    if kind == VisitKind.SCREENING:
        return _("Screening")
    if kind == VisitKind.SABR:
        return _("SABR course")
    if kind == VisitKind.CYCLE:
        return _("Cycle %(n)s") % n
    if kind == VisitKind.IMAGING:
        return _("Imaging week %(n)s") % n
    if kind == VisitKind.SURVIVAL:
        return _("Survival follow-up month %(n)s") % n
    raise KeyError(kind)


def form_title(slug: str) -> str:
    if slug == "adverse-event":
        return _("AE review")
    return str(registry.get(slug).title) if slug in registry else slug


STATE_LABELS = {  # lazy: read in each request's language, not the one active at import
    State.DONE: gettext_lazy("done"),
    State.DUE: gettext_lazy("due"),
    State.OVERDUE: gettext_lazy("overdue"),
    State.UPCOMING: gettext_lazy("upcoming"),
    State.NOT_REQUIRED: gettext_lazy("not required"),
}


def reason_text(ef: ExpectedForm) -> str:
    """Return why a form is not required (or the remark of a done form), in words."""
    if ef.reason is Reason.DEATH:
        return _("Not required: the patient died on %(d)s.") % {"d": ef.reason_date}
    if ef.reason is Reason.OFF_STUDY:
        return _("Not required: off study on %(d)s.") % {"d": ef.reason_date}
    if ef.mark is not None and isinstance(ef.mark.ref, NotDone):
        m = ef.mark.ref
        return _("%(code)s: %(reason)s (%(user)s, %(when)s)") % {
            "code": m.get_reason_code_display(),
            "reason": m.reason,
            "user": m.marked_by.get_username(),
            "when": timezone.localtime(m.marked_at).strftime("%Y-%m-%d"),
        }
    if ef.out_of_window:
        return _("Done outside the window.")
    return ""


def present(patient_id: int, ef: ExpectedForm, *, today: datetime.date, can_enter: bool) -> dict[str, Any]:
    """Return what a template shows of one expected form."""
    mark_url = None
    if can_enter and ef.state in OPEN_STATES:
        mark_url = reverse("visits:not_done", args=[patient_id]) + f"?form={ef.slug}&visit={ef.visit.key}"
    cancel_url = None
    if can_enter and ef.mark is not None and isinstance(ef.mark.ref, NotDone):
        cancel_url = reverse("visits:cancel_mark", args=[patient_id, ef.mark.ref.pk])
    return {
        "visit_key": ef.visit.key,
        "visit_label": visit_label(ef.visit),
        "slug": ef.slug,
        "title": form_title(ef.slug),
        "state": ef.state.value,
        "state_label": STATE_LABELS[ef.state],
        "reason": reason_text(ef),
        "window_start": ef.window_start,
        "window_end": ef.window_end,
        "due": ef.due_date,
        "days_overdue": (today - ef.window_end).days if ef.state is State.OVERDUE else None,
        # no link to a new-form page the user may not fill (role or lock); a done form's page stays open
        "url": selectors.form_url(patient_id, ef)
        if ef.state is not State.NOT_REQUIRED and (can_enter or ef.record is not None)
        else None,
        "mark_url": mark_url,
        "cancel_url": cancel_url,
        "out_of_window": ef.out_of_window,
    }


def _grid(ps: selectors.PatientSchedule, *, today: datetime.date, can_enter: bool, open_only: bool = False):
    """Group a patient's expected forms by visit, in date order."""
    visits: dict[str, dict[str, Any]] = {}
    for ef in ps.forms:
        entry = visits.setdefault(
            ef.visit.key,
            {
                "key": ef.visit.key,
                "label": visit_label(ef.visit),
                "target": ef.visit.target,
                "window_start": ef.window_start,
                "window_end": ef.window_end,
                "forms": [],
            },
        )
        entry["forms"].append(present(ps.patient_id, ef, today=today, can_enter=can_enter))
    rows = list(visits.values())
    week_end = today + datetime.timedelta(days=6)
    if open_only:
        rows = [
            r
            for r in rows
            if any(f["state"] in ("due", "overdue") for f in r["forms"])
            or any(f["state"] == "upcoming" for f in r["forms"])
            and r["window_start"] <= week_end
        ]
    return rows


def _counts(ps: selectors.PatientSchedule) -> dict[str, int]:
    return {state.value: sum(1 for f in ps.forms if f.state is state) for state in State}


def casebook_panel(request: HttpRequest, patient: Any) -> dict[str, Any] | None:
    """The casebook's expected-forms panel: counts and the visits with something to do."""
    if not patient.is_registered:
        return None
    ps = selectors.patient_schedule(request.user, patient)
    if ps is None:
        return None
    today = timezone.localdate()
    can_enter = has_perm(request.user, Perm.ENTER) and not casebook_lock(patient)
    return {
        "patient": patient,
        "counts": _counts(ps),
        "rows": _grid(ps, today=today, can_enter=can_enter, open_only=True),
        "error": ps.error,
        "today": today,
    }


def missing_for_lock(patient: Any) -> list[str]:
    """The pre-lock report's section: expected forms not entered (window closed or open today, not marked not done)."""
    if not patient.is_registered:
        return []
    found = selectors.collect(today=timezone.localdate(), patient_ids=[patient.pk])
    if not found:
        return []
    return [
        _("%(visit)s: %(form)s (window %(start)s to %(end)s, %(state)s)")
        % {
            "visit": visit_label(ef.visit),
            "form": form_title(ef.slug),
            "start": ef.window_start,
            "end": ef.window_end,
            "state": STATE_LABELS[ef.state],
        }
        for ef in found[0].forms
        if ef.state in (State.OVERDUE, State.DUE)
    ]


def patient_grid(request: HttpRequest, pk: int) -> HttpResponse:
    """A patient's whole schedule: every visit with its window and the state of each expected form."""
    patient = get_patient_for_user(request.user, pk)
    ps = selectors.patient_schedule(request.user, patient)
    if ps is None:
        raise Http404(_("The schedule starts at registration."))
    today = timezone.localdate()
    can_enter = has_perm(request.user, Perm.ENTER) and not casebook_lock(patient)
    return render(
        request,
        "visits/patient_grid.html",
        {
            "patient": patient,
            "rows": _grid(ps, today=today, can_enter=can_enter),
            "counts": _counts(ps),
            "anchors": ps.anchors,
            "error": ps.error,
            "today": today,
        },
    )


SORTS = {
    "patient": lambda r: (r["patient"], r["due"], r["visit_key"]),
    "form": lambda r: (r["title"], r["due"], r["patient"]),
    "due": lambda r: (r["due"], r["patient"], r["title"]),
}
#: Worklist rows per page: a study with many missing forms lists hundreds (763 rows took 0.38 s to render, issue 20).
WORKLIST_PAGE_SIZE = 100


def worklist(request: HttpRequest) -> HttpResponse:
    """What is overdue and what is due this week, across patients; sortable by patient, form or due date."""
    if not has_perm(request.user, Perm.VIEW):
        raise PermissionDenied
    today = timezone.localdate()
    can_enter = has_perm(request.user, Perm.ENTER)
    show = request.GET.get("show", "all")
    if show not in ("all", "overdue", "week"):
        show = "all"
    sort = request.GET.get("sort", "due")
    if sort not in SORTS:
        sort = "due"
    desc = request.GET.get("dir") == "desc"
    try:
        page_number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page_number = 1
    # The table depends on the data (generation), the day, the language, the view's parameters and whether the
    # reader may enter data (the links); nothing of the session: it is kept as a fragment (issue 20: 100 rows took
    # ~40 ms to present and render on every view).
    key = (
        f"visits:worklist-body:{today.isoformat()}:{translation.get_language()}:{show}:{sort}:{int(desc)}:"
        f"{page_number}:{WORKLIST_PAGE_SIZE}:{int(can_enter)}"
    )
    body = fragment(
        key,
        lambda: _worklist_body(
            request, today, show=show, sort=sort, desc=desc, page_number=page_number, can_enter=can_enter
        ),
    )
    return render(
        request,
        "visits/worklist.html",
        {"today": today, "week_end": today + datetime.timedelta(days=6), "body": mark_safe(body)},
    )


def _worklist_body(
    request: HttpRequest,
    today: datetime.date,
    *,
    show: str,
    sort: str,
    desc: bool,
    page_number: int,
    can_enter: bool,
) -> str:
    lists = selectors.cached_worklist(request, today=today)
    titles: dict[str, str] = {}  # each form's title translated once, not once per row of the whole list
    # sort on what the sort keys read, then present only the rows of the page shown
    keyed = [
        (
            {
                "patient": item.patient_label,
                "due": item.form.due_date,
                "visit_key": item.form.visit.key,
                "title": titles.get(item.form.slug)
                or titles.setdefault(item.form.slug, form_title(item.form.slug)),
            },
            item,
            group,
        )
        for group in ("overdue", "week")
        if show in ("all", group)
        for item in lists[group]
    ]
    keyed.sort(key=lambda k: SORTS[sort](k[0]), reverse=desc)
    page = Paginator(keyed, WORKLIST_PAGE_SIZE).get_page(page_number)
    rows = []
    for _key, item, group in page.object_list:
        row = present(item.patient_id, item.form, today=today, can_enter=can_enter)
        row.update(patient=item.patient_label, patient_id=item.patient_id, group=group)
        rows.append(row)
    return render_to_string(
        "visits/_worklist_body.html",
        {
            "rows": rows,
            "rows_html": _worklist_rows_html(rows),
            "page": page,
            "show": show,
            "sort": sort,
            "desc": desc,
            "n_overdue": len(lists["overdue"]),
            "n_week": len(lists["week"]),
        },
    )


def _day(value: datetime.date | None) -> str:
    return value.isoformat() if value else ""  # the template's date:"Y-m-d"


def _worklist_rows_html(rows: list[dict[str, Any]]) -> SafeString:
    """The worklist table's rows, written in Python: a hundred rows through the template's loop were most of the
    page's time after each change to the study (issue 20). Each patient's two links are reversed once; every value
    is escaped (``conditional_escape``) where it is put in."""
    e = conditional_escape
    links: dict[int, tuple[str, str]] = {}
    due_now, window_opens, not_done = e(_("due now")), e(_("window opens")), e(_("not done…"))
    out = []
    for r in rows:
        pid = r["patient_id"]
        if pid not in links:
            links[pid] = (e(reverse("casebook", args=[pid])), e(reverse("visits:patient_grid", args=[pid])))
        casebook_url, grid_url = links[pid]
        title = f'<a href="{e(r["url"])}">{e(r["title"])}</a>' if r["url"] else e(r["title"])
        if r["state"] == "overdue":
            n = r["days_overdue"]
            label = e(ngettext("overdue %(n)s day", "overdue %(n)s days", n) % {"n": n})
            state = f'<span class="badge text-bg-danger">{label}</span>'
        elif r["state"] == "due":
            state = f'<span class="badge text-bg-warning">{due_now}</span>'
        else:
            state = (
                f'<span class="badge text-bg-light border">{window_opens} {_day(r["window_start"])}</span>'
            )
        mark = f'<a class="small" href="{e(r["mark_url"])}">{not_done}</a>' if r["mark_url"] else ""
        patient = e(r["patient"])
        out.append(
            f'<tr data-testid="work-item" data-patient="{patient}" data-visit="{e(r["visit_key"])}" '
            f'data-form="{e(r["slug"])}" data-state="{e(r["state"])}">'
            f'<td><a href="{casebook_url}">{patient}</a></td>'
            f'<td><a class="text-decoration-none" href="{grid_url}">{e(r["visit_label"])}</a></td>'
            f"<td>{title}</td><td>{_day(r['due'])}</td>"
            f'<td class="small">{_day(r["window_start"])} – {_day(r["window_end"])}</td>'
            f'<td>{state}</td><td class="text-end">{mark}</td></tr>'
        )
    return mark_safe("".join(out))  # every value above is escaped where it is put in


def nav_badge(request: HttpRequest) -> int | None:
    """The worklist count in the navigation: overdue forms plus those due this week.

    Shown on every page, so it comes from the shared cache (``selectors.cached_worklist_count``): computed once
    per day and data generation, not once per page view (issue 7: the dashboard must not grow with the study).
    """
    if not has_perm(request.user, Perm.VIEW):
        return None
    count = selectors.cached_worklist_count(request)
    return count or None


def _expected(request: HttpRequest, patient: Any, slug: str, visit_key: str) -> ExpectedForm:
    ps = selectors.patient_schedule(request.user, patient)
    found = next((f for f in (ps.forms if ps else []) if f.slug == slug and f.visit.key == visit_key), None)
    if found is None:
        raise Http404(_("This form is not expected at this visit."))
    return found


def not_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one expected form of one visit as not done, with the reason."""
    patient = get_patient_for_user(request.user, pk)
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    slug = request.POST.get("form") or request.GET.get("form", "")
    visit_key = request.POST.get("visit") or request.GET.get("visit", "")
    ef = _expected(request, patient, slug, visit_key)
    today = timezone.localdate()
    form = NotDoneForm(request.POST or None)
    if ef.state not in OPEN_STATES:
        form.is_valid()
        form.add_error(
            None, _("This form is %(state)s: there is nothing to mark.") % {"state": STATE_LABELS[ef.state]}
        )
        status = 422 if request.method == "POST" else 200
    elif request.method == "POST" and form.is_valid():
        try:
            services.not_done_mark(
                patient=patient,
                form_slug=slug,
                visit_key=visit_key,
                acting_user=request.user,
                reason_code=form.cleaned_data["reason_code"],
                reason=form.cleaned_data["reason"],
                form_title=form_title(slug),
                visit_label=visit_label(ef.visit),
            )
        except CrfLocked as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(form)s, %(visit)s: marked.")
                % {"form": form_title(slug), "visit": visit_label(ef.visit)},
            )
            if request.GET.get("next") == "continue":  # from the form page of a review: the visit's next form
                return redirect(next_form_url(patient, slug, None) or reverse("casebook", args=[patient.pk]))
            return redirect("visits:patient_grid", patient.pk)
        status = 422
    else:
        status = 422 if request.method == "POST" else 200
    return render(
        request,
        "visits/not_done.html",
        {
            "patient": patient,
            "form": form,
            "item": present(patient.pk, ef, today=today, can_enter=False),
            "slug": slug,
            "visit_key": visit_key,
        },
        status=status,
    )


@require_POST
def cancel_mark(request: HttpRequest, pk: int, mark_pk: int) -> HttpResponse:
    """Cancel a not-done mark given by mistake: the form is expected again."""
    patient = get_patient_for_user(request.user, pk)
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    mark = get_object_or_404(NotDone, pk=mark_pk, patient=patient)
    form = CancelMarkForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the mark is cancelled."))
        return redirect("visits:patient_grid", patient.pk)
    try:
        services.not_done_cancel(
            mark=mark, reason=form.cleaned_data["cancel_reason"], acting_user=request.user
        )
    except (CrfLocked, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("Mark cancelled: the form is expected again."))
    return redirect("visits:patient_grid", patient.pk)


#: Forms a coordinator fills before registration, in this order (the schedule starts at registration).
PRE_REGISTRATION = ("screening", "consent", "eligibility")


def next_form_url(patient: Any, saved_slug: str, row: Any) -> str | None:
    """Where "save and continue" goes (issue 19): before registration the next missing screening form, then the
    registration page; after it the forms that follow the one just saved (medical history and prior therapy after
    the baseline, the targets and treatment days of a SABR course), then the next open form (due or overdue) of the
    visit the saved form belongs to, then the next open form of the earliest visit with one. None when nothing is
    open."""
    from enrollment.models import Patient

    patient = Patient.objects.get(pk=patient.pk)
    if not patient.is_registered:
        for slug in PRE_REGISTRATION:
            if slug in registry and not registry.get(slug).model.objects.filter(patient=patient).exists():
                return reverse("crf_create", args=[patient.pk, slug])
        return reverse("patient_register", args=[patient.pk])
    follow = _following(patient, saved_slug, row)
    if follow:
        return follow
    found = selectors.collect(today=timezone.localdate(), patient_ids=[patient.pk])
    if not found:
        return None
    forms = found[0].forms
    open_forms = [ef for ef in forms if ef.state in (State.DUE, State.OVERDUE) and ef.slug in registry]
    saved_visit = next(
        (
            ef.visit.key
            for ef in forms
            if ef.slug == saved_slug and ef.record is not None and ef.record.ref == getattr(row, "pk", None)
        ),
        None,
    )
    same_visit = [ef for ef in open_forms if ef.visit.key == saved_visit]
    for ef in same_visit + open_forms:
        url = _open_form_url(patient, ef)
        if url:
            return url
    return None


def _create(patient: Any, slug: str, **query: Any) -> str | None:
    if slug not in registry:
        return None
    url = reverse("crf_create", args=[patient.pk, slug])
    return f"{url}?{urlencode(query)}" if query else url


def _following(patient: Any, saved_slug: str, row: Any) -> str | None:
    """The form that follows the one just saved, where the schedule tracks only the first of a kind: medical
    history and prior therapy with the baseline (R1.3, EC-PT-3), each target of a SABR course and its treatment
    days until every target has its fractions (EC-FX-1)."""
    from enrollment.models import Baseline, MedicalHistory, PriorTherapy

    if saved_slug == "baseline" and not MedicalHistory.objects.filter(patient=patient).exists():
        return _create(patient, "medical-history")
    if (
        saved_slug in ("baseline", "medical-history")
        and not PriorTherapy.objects.filter(patient=patient).exists()
    ):
        lines = (
            Baseline.objects.filter(patient=patient).values_list("prior_systemic_lines", flat=True).first()
        )
        if lines:
            return _create(patient, "prior-therapy")
    course = _course_of(saved_slug, row)
    if course is not None:
        if not course.targets.exists():
            return _create(patient, "sabr-target", course=course.pk)
        if saved_slug != "sabr-course" and _fractions_left(course):
            return reverse("treatment:fraction_day", args=[patient.pk, course.pk])
    return None


def _course_of(saved_slug: str, row: Any) -> Any:
    if row is None:
        return None
    if saved_slug == "sabr-course":
        return row
    if saved_slug == "sabr-target":
        return row.course
    if saved_slug == "sabr-fraction":
        return row.target.course
    return None


def _fractions_left(course: Any) -> bool:
    """Some target of the course has fewer fractions recorded than prescribed."""
    from django.db.models import Count

    targets = course.targets.annotate(recorded=Count("fractions")).values_list("recorded", "n_fractions")
    return any(recorded < planned for recorded, planned in targets)


def _open_form_url(patient: Any, ef: ExpectedForm) -> str | None:
    """The page that fills an open expected form, with what the visit already says: the cycle of a toripalimab
    form, the course of a SABR target, the treatment-day grid for fractions, and the visit of an AE review (so
    the page can record "nothing to report")."""
    from treatment.models import SabrCourse

    if ef.slug not in registry:
        return None
    if ef.slug == schedule.TORIPALIMAB and ef.visit.number:
        return _create(patient, ef.slug, cycle_number=ef.visit.number)
    if ef.slug in ("sabr-target", "sabr-fraction"):
        course = SabrCourse.objects.filter(patient=patient).order_by("-pk").first()
        if course is None:
            return _create(patient, "sabr-course")
        if ef.slug == "sabr-target" or not course.targets.exists():
            return _create(patient, "sabr-target", course=course.pk)
        return reverse("treatment:fraction_day", args=[patient.pk, course.pk])
    if ef.slug == schedule.AE_REVIEW:
        return _create(patient, ef.slug, visit=ef.visit.key)
    return selectors.form_url(patient.pk, ef)
