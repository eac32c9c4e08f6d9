"""Generic CRF pages: create, view (with history), edit, lifecycle transitions; error pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sabr_trial import generation as data_generation
from sabr_trial import merge, services
from sabr_trial.crf import CrfBase, CrfSpec, CrfStatus, registry
from sabr_trial.forms import OptionalReasonForm, ReasonForm, SignForm
from sabr_trial.patient_facts import get_patient_for_user
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import audit_events_for, get_crf_for_user, get_spec, history_rows, signatures_for
from sabr_trial.templatetags.ruletext import text as ruletext_text


def apply_errors(form: BaseForm, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the fields it names (others at the top)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field in form.fields:
                for message in errors:
                    form.add_error(field, message)
            else:
                for message in errors:
                    form.add_error(None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _form_kwargs(spec: CrfSpec, patient: Any) -> dict[str, Any]:
    return {"patient": patient} if getattr(spec.form_class, "takes_patient", False) else {}


def crf_create(request: HttpRequest, patient_pk: int, slug: str) -> HttpResponse:
    spec = get_spec(slug)
    patient = get_patient_for_user(request.user, patient_pk)
    # A locked casebook answers "locked" before anything is typed, and names the lock, not the role (issue 19).
    study_locked = services.StudyLock.active() is not None
    services.refuse_if_patient_locked(patient, study_locked=study_locked)
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied
    blocked = spec.can_add(patient) if spec.can_add else None
    if blocked:
        messages.error(request, blocked)
        return redirect("casebook", patient.pk)
    if "create" in spec.views:
        return spec.views["create"](request, patient_pk=patient_pk, spec=spec)
    if not spec.many:
        existing = spec.model.objects.filter(patient=patient).first()
        if existing is not None:
            return redirect(existing.get_absolute_url())
    return crf_form_page(request, spec=spec, patient=patient, study_locked=study_locked)


# --- The one CRF save page: create, update, stale (merge), locked and field errors ------------------------------
FormFactory = Callable[..., BaseForm]
SaveFunction = Callable[..., tuple[CrfBase, int]]


def generic_save(
    *,
    spec: CrfSpec,
    patient: Any,
    instance: CrfBase | None,
    data: dict[str, Any],
    m2m: dict[str, Any],
    reason: str,
    expected_version: int,
    submit: bool,
    acting_user: Any,
) -> tuple[CrfBase, int]:
    """Create or change one CRF row through the pipeline; returns the row and the number of changed fields."""
    if instance is None:
        row = services.crf_create(
            model=spec.model,
            patient=patient,
            data=data,
            m2m=m2m,
            acting_user=acting_user,
            status=CrfStatus.SUBMITTED if submit else CrfStatus.DRAFT,
        )
        return row, 1
    row, changes = services.crf_update(
        instance=instance,
        expected_version=expected_version,
        data=data,
        m2m=m2m,
        reason=reason,
        acting_user=acting_user,
    )
    return row, len(changes)


def _field_text(form: BaseForm, name: str, value: Any) -> str:
    """How a value reads on the form (a choice by its label, a linked row by its name)."""
    field = form.fields.get(name)
    if value in (None, "", [], ()):
        return "—"
    if hasattr(value, "_meta"):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(v) for v in value))
    queryset = getattr(field, "queryset", None)
    if queryset is not None:
        # A link read from the row is its key: name the row it links to (its form's choices are a whole table).
        linked = queryset.model._base_manager.filter(pk=value).first()
        return str(value) if linked is None else str(linked)
    choices = dict(getattr(field, "choices", None) or []) if field is not None else {}
    return str(choices.get(value, choices.get(str(value), value)))


def _raw(form: BaseForm, name: str, value: Any) -> Any:
    """The value as the form's widget posts it."""
    field = form.fields[name]
    prepared = field.prepare_value(value)
    if isinstance(prepared, list | tuple | set | frozenset):
        return [str(getattr(v, "pk", v)) for v in prepared]
    formatted = field.widget.format_value(prepared)
    return "" if formatted is None else formatted


def _merge_with_current(
    form: BaseForm, *, instance: CrfBase, base_version: int, data: dict[str, Any], m2m: dict[str, Any]
) -> tuple[CrfBase, merge.MergeResult]:
    """Three-way merge of the user's values (``data``, ``m2m``) into the current row, against ``base_version``."""
    model = type(instance)
    current = model.objects.select_related("patient", "updated_by").get(pk=instance.pk)
    record = current.history.filter(version=base_version).order_by("-history_id").first()
    base = record.instance if record is not None else None
    base_values: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    for name in data:
        field = model._meta.get_field(name)
        theirs[name] = field.value_from_object(current)
        # Without the starting version in the history, every field the user changed counts as theirs too.
        base_values[name] = field.value_from_object(base) if base is not None else object()
    for name in m2m:
        theirs[name] = list(getattr(current, name).all())
        base_values[name] = theirs[name]  # many-to-many links have no history: only the user's change counts
    mine = {**data, **m2m}
    labels = {name: str(form.fields[name].label or name) for name in mine if name in form.fields}

    def shown(name: str) -> tuple[str, str, str]:  # the conflicts' values as the user reads them
        return (
            _field_text(form, name, base_values[name]) if base is not None else "?",
            _field_text(form, name, mine[name]),
            _field_text(form, name, theirs[name]),
        )

    result = merge.three_way(
        names=list(labels), base=base_values, mine=mine, theirs=theirs, labels=labels, shown=shown
    )
    return current, result


def crf_form_page(
    request: HttpRequest,
    *,
    spec: CrfSpec,
    patient: Any,
    instance: CrfBase | None = None,
    form_factory: FormFactory | None = None,
    save: SaveFunction = generic_save,
    template: str = "crf/crf_form.html",
    context: dict[str, Any] | None = None,
    warnings: Callable[[CrfBase], list[str]] | None = None,
    study_locked: bool | None = None,
) -> HttpResponse:
    """Every CRF data-entry page goes through here: permission, the lock (refused before anything is typed,
    naming the lock), field errors next to the fields, a stale save merged with the other person's change
    (conflicts shown with both values and a required choice; nothing saved until the user chooses), and the
    success message with the row's soft-check warnings.

    ``study_locked``: whether the study is locked, when the caller read it already in this request (the save
    itself checks every lock again in its transaction).
    """
    if instance is None:  # answered 403 naming the lock, before anything is typed
        services.refuse_if_patient_locked(patient, study_locked=study_locked)
    elif services.is_locked(instance, study_locked=study_locked):
        messages.error(request, services.lock_message(instance))
        return redirect(instance.get_absolute_url())
    if not has_perm(request.user, Perm.ENTER):
        raise PermissionDenied

    def make_form(data: Any, row: CrfBase) -> BaseForm:
        if form_factory is not None:
            return form_factory(data, row)
        assert spec.form_class is not None
        made = spec.form_class(data, instance=row, **_form_kwargs(spec, patient))
        # The generic save is crf_create/crf_update, which run the rules once in the save's transaction.
        made.defer_rules = save is generic_save  # type: ignore[attr-defined]
        return made

    form = make_form(request.POST or None, instance if instance is not None else spec.model(patient=patient))
    _autofocus(form)
    query = _query_from_request(request, instance) if instance is not None else None
    page = {"spec": spec, "patient": patient, "instance": instance, "answering": query, **(context or {})}
    if request.method != "POST" or not form.is_valid():
        return render(request, template, {**page, "form": form})
    data, m2m = form.crf_data(), form.crf_m2m()  # type: ignore[attr-defined]
    reason = form.cleaned_data.get("change_reason", "")
    expected = form.cleaned_data.get("expected_version") or 0
    merged_from: list[str] = []
    raw_base = request.POST.get("merge_base", "")
    if instance is not None and raw_base.isdigit():
        # The user answers a merge: apply each conflict's choice; a conflict left unanswered saves nothing.
        current, result = _merge_with_current(
            form, instance=instance, base_version=int(raw_base), data=data, m2m=m2m
        )
        unresolved = []
        for conflict in result.conflicts:
            choice = request.POST.get(f"resolve__{conflict.name}", "")
            if choice == "theirs":
                _assign(data, m2m, conflict.name, _current_value(current, conflict.name))
            elif choice != "mine":
                unresolved.append(conflict)
        if unresolved:
            return _conflict_page(
                request, template, page, make_form, form, current, int(raw_base), result, unresolved
            )
    for _attempt in range(3):
        try:
            row, changed = save(
                spec=spec,
                patient=patient,
                instance=instance,
                data=data,
                m2m=m2m,
                reason=reason,
                expected_version=expected,
                submit=request.POST.get("action") == "submit",
                acting_user=request.user,
            )
        except services.StaleVersion as exc:
            assert instance is not None
            current, result = _merge_with_current(
                form, instance=instance, base_version=exc.expected_version, data=data, m2m=m2m
            )
            if result.conflicts:
                page["stale_message"] = str(exc)
                return _conflict_page(
                    request,
                    template,
                    page,
                    make_form,
                    form,
                    current,
                    exc.expected_version,
                    result,
                    result.conflicts,
                )
            for name in result.taken_from_theirs:
                _assign(data, m2m, name, result.values[name])
            merged_from = [str(form.fields[n].label or n) for n in result.taken_from_theirs]
            instance, expected = current, current.version
            continue
        except services.CrfLocked as exc:
            messages.error(request, str(exc))
            return redirect(
                instance.get_absolute_url()
                if instance is not None
                else reverse("casebook", args=[patient.pk])
            )
        except ValidationError as exc:
            apply_errors(form, exc)
            return render(request, template, {**page, "form": form})
        break
    else:  # the row kept moving under this user: show the newest values instead of trying for ever
        return _conflict_page(request, template, page, make_form, form, current, expected, result, [])
    _saved_messages(request, spec, instance, row, changed, merged_from, query, reason, warnings)
    return redirect(after_save_url(request, spec, patient, row))


def _autofocus(form: BaseForm) -> None:
    """Keyboard-only entry: the cursor starts in the first field with an error, else the first visible field."""
    names = [n for n in form.fields if not form.fields[n].widget.is_hidden]
    if form.is_bound and form.errors:
        names = [n for n in names if n in form.errors] or names
    if names:
        form.fields[names[0]].widget.attrs.setdefault("autofocus", True)


def after_save_url(request: HttpRequest, spec: CrfSpec, patient: Any, row: CrfBase) -> str:
    """Where a save leads (issue 19): the row's page; with ``?next=continue`` the next expected form of the visit
    (registered by visits), the casebook when nothing is left; with ``?next=another`` a new form of the same
    kind (repeating forms: lesions, AEs, medical history), keeping the page's other query parameters."""
    choice = request.GET.get("next", "")
    if choice == "another" and spec.many:
        query = request.GET.copy()
        query.pop("next", None)
        url = reverse("crf_create", args=[patient.pk, spec.slug])
        return f"{url}?{query.urlencode()}" if query else url
    if choice == "continue":
        url = next_form_url(patient, spec.slug, row)
        if url == reverse("casebook", args=[patient.pk]):
            messages.info(request, _("No other form is due for this patient now: here is the casebook."))
        return url
    return row.get_absolute_url()


def next_form_url(patient: Any, slug: str, row: Any) -> str:
    """The next form to fill after ``row`` (the registered finders decide), else the casebook."""
    for finder in registry.next_form_finders:
        url = finder(patient, slug, row)
        if url:
            return url
    return reverse("casebook", args=[patient.pk])


def _current_value(current: CrfBase, name: str) -> Any:
    field = type(current)._meta.get_field(name)
    if field.many_to_many:
        return list(getattr(current, name).all())
    return getattr(current, name)


def _assign(data: dict[str, Any], m2m: dict[str, Any], name: str, value: Any) -> None:
    (m2m if name in m2m else data)[name] = value


def _conflict_page(
    request: HttpRequest,
    template: str,
    page: dict[str, Any],
    make_form: Callable[[Any, CrfBase], BaseForm],
    form: BaseForm,
    current: CrfBase,
    base_version: int,
    result: merge.MergeResult,
    conflicts: list[merge.Conflict],
) -> HttpResponse:
    """The form again (409): fields only the other person changed show their value, conflicts show both values
    and ask for a choice; the hidden version moves to the current one, the merge base stays."""
    posted = request.POST.copy()
    posted["expected_version"] = str(current.version)
    posted["merge_base"] = str(base_version)
    for name in result.taken_from_theirs:
        value = _raw(form, name, result.values[name])
        if isinstance(value, list):
            posted.setlist(name, value)
        else:
            posted[name] = value
    again = make_form(posted, current)
    again.is_valid()
    who = current.updated_by.get_username() if current.updated_by else "?"
    for conflict in conflicts:
        again.add_error(
            conflict.name,
            _(
                "%(user)s changed this to “%(theirs)s” (it was “%(base)s”) while you entered “%(mine)s”: choose "
                "which value to keep."
            )
            % {"user": who, "theirs": conflict.theirs, "base": conflict.base, "mine": conflict.mine},
        )
    taken = [str(again.fields[n].label or n) for n in result.taken_from_theirs if n in again.fields]
    return render(
        request,
        template,
        {
            **page,
            "form": again,
            "instance": current,
            "merge": {"conflicts": conflicts, "taken": taken, "user": who, "base": base_version},
        },
        status=409,
    )


def _saved_messages(
    request: HttpRequest,
    spec: CrfSpec,
    instance: CrfBase | None,
    row: CrfBase,
    changed: int,
    merged_from: list[str],
    query: Any,
    reason: str,
    warnings: Callable[[CrfBase], list[str]] | None,
) -> None:
    if instance is None:
        messages.success(request, _("%(title)s saved.") % {"title": spec.title})
    elif changed:
        messages.success(request, _("Saved: %(n)s field(s) changed.") % {"n": changed})
        if merged_from:
            messages.info(
                request,
                _("Merged with a change saved meanwhile by another user; kept their value of: %(fields)s.")
                % {"fields": ", ".join(merged_from)},
            )
        if query is not None:
            from sabr_trial.queries import answer_query

            answer_query(query=query, acting_user=request.user, text=reason or _("Corrected."))
            messages.success(request, _("Query Q%(n)s answered with the correction.") % {"n": query.pk})
    else:
        messages.info(request, _("No value changed: nothing was saved."))
    for warning in warnings(row) if warnings is not None else []:
        messages.warning(
            request, ruletext_text(warning)
        )  # a soft check said as a message id reads translated


def crf_detail(request: HttpRequest, patient_pk: int, slug: str, pk: int) -> HttpResponse:
    spec, instance = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    if "detail" in spec.views:
        return spec.views["detail"](request, spec=spec, instance=instance)
    return render(request, "crf/crf_detail.html", crf_detail_context(request, spec, instance))


def crf_detail_context(request: HttpRequest, spec: CrfSpec, instance: CrfBase) -> dict[str, Any]:
    """Context shared by the generic detail page and custom CRF pages."""
    from sabr_trial import queries
    from sabr_trial.dm_views import field_choices
    from sabr_trial.forms import RaiseQueryForm

    all_queries = list(queries.queries_for_row(instance).select_related("raised_by"))
    by_field = queries.open_queries_by_field(instance, all_queries)
    shown_values = [(f, services._display(instance, f)) for f in services.data_fields(type(instance))]
    fields = [(f.verbose_name, value, f.help_text) for f, value in shown_values]

    def shown(name: str) -> bool:
        """A field the CRF's branching says does not apply is left out (it holds nothing), unless a query is on it."""
        branch = spec.branch_of(name)
        return branch is None or branch.applies(instance) or bool(by_field.get(name))

    field_rows = [
        {
            "name": f.name,
            "label": f.verbose_name,
            "value": value,
            "queries": by_field.get(f.name, []),
        }
        for f, value in shown_values
        if shown(f.name)
    ]
    user = request.user
    status = instance.status
    study_locked = services.StudyLock.active() is not None
    locked = services.is_locked(instance, study_locked=study_locked)
    return {
        "field_rows": field_rows,
        "form_queries": by_field.get("", []),
        "all_queries": all_queries,
        "can_raise_query": has_perm(user, Perm.RAISE_QUERY) and not locked,
        "can_answer_query": has_perm(user, Perm.ANSWER_QUERY) and not locked,
        "raise_form": RaiseQueryForm(fields=field_choices(type(instance))),
        "changed_since_sdv": _changed_since_sdv(instance),
        "study_locked": study_locked,
        "spec": spec,
        "patient": instance.patient,
        "instance": instance,
        "fields": fields,
        "history_html": crf_history_html(instance),
        "events": audit_events_for(instance)[:50],
        "signatures": signatures_for(instance),
        "can_edit": has_perm(user, Perm.ENTER) and not locked,
        "locked": locked,
        "can_submit": has_perm(user, Perm.ENTER) and status == CrfStatus.DRAFT and not locked,
        "can_verify": has_perm(user, Perm.VERIFY)
        and status in (CrfStatus.SUBMITTED, CrfStatus.SIGNED)
        and not instance.verified_at
        and (not locked or services.may_verify_under_lock(instance)),
        "can_sign": has_perm(user, Perm.SIGN)
        and status in (CrfStatus.SUBMITTED, CrfStatus.VERIFIED)
        and not locked,
        "can_lock": has_perm(user, Perm.LOCK)
        and status in (CrfStatus.SUBMITTED, CrfStatus.VERIFIED, CrfStatus.SIGNED)
        and not locked,
        "can_unlock": has_perm(user, Perm.LOCK)
        and status == CrfStatus.LOCKED
        and not instance.patient.locked_at,
        "sign_form": SignForm(),
        "reason_form": ReasonForm(),
        "optional_reason_form": OptionalReasonForm(),
    }


def crf_history_html(instance: CrfBase) -> str:
    """The detail page's change history table, rendered once per (row, language, data generation): it reads only
    the row's history records (written with the row, so every change bumps the generation) and the users'
    names (a change of name bumps it too, ``visits.apps``)."""
    key = f"crf-history:{instance._meta.label_lower}:{instance.pk}:{get_language()}"
    html = data_generation.patient_fragment(
        instance.patient_id,
        key,
        lambda: render_to_string("crf/_history.html", {"history": history_rows(instance)}),
    )
    return mark_safe(html)


def _changed_since_sdv(instance: CrfBase) -> list[dict[str, Any]]:
    """After a change dropped the SDV: the last verification and every change made since (who, what, reason)."""
    from sabr_trial.models import AuditEvent
    from sabr_trial.selectors import audit_events_for

    if instance.verified_at:
        return []
    last = audit_events_for(instance).filter(action=AuditEvent.Action.VERIFY).select_related("user").first()
    if last is None:
        return []
    rows = [h for h in history_rows(instance) if h["when"] > last.at and h["changes"]]
    return [{"verified": last, "rows": rows}] if rows else []


def _query_from_request(request: HttpRequest, instance: CrfBase) -> Any:
    """The open query a correction answers (``?query=<id>`` on the edit page), or None."""
    from sabr_trial.models import Query
    from sabr_trial.queries import queries_for_row

    raw = request.POST.get("query") or request.GET.get("query") or ""
    if not raw.isdigit() or not has_perm(request.user, Perm.ANSWER_QUERY):
        return None
    return queries_for_row(instance).filter(pk=int(raw), query_status=Query.Status.OPEN).first()


def crf_update(request: HttpRequest, patient_pk: int, slug: str, pk: int) -> HttpResponse:
    spec, instance = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    # The page refuses a locked row before anything is typed. A POST is a save, which reads every lock (study,
    # casebook, form) again in its transaction and answers a lock with the same message and redirect: it does not
    # read the study lock here first (the row's own and its casebook's lock are in hand).
    study_locked = False if request.method == "POST" else services.StudyLock.active() is not None
    if services.is_locked(instance, study_locked=study_locked):
        messages.error(request, services.lock_message(instance))
        return redirect(instance.get_absolute_url())
    if "update" in spec.views:
        return spec.views["update"](request, spec=spec, instance=instance)
    return crf_form_page(
        request, spec=spec, patient=instance.patient, instance=instance, study_locked=study_locked
    )


@require_POST
def crf_transition(request: HttpRequest, patient_pk: int, slug: str, pk: int, action: str) -> HttpResponse:
    spec, instance = get_crf_for_user(request.user, patient_pk=patient_pk, slug=slug, pk=pk)
    version = request.POST.get("expected_version")
    expected = int(version) if version and version.isdigit() else None
    try:
        if action == "submit":
            services.crf_submit(instance=instance, acting_user=request.user, expected_version=expected)
            messages.success(request, _("Submitted."))
        elif action == "verify":
            services.crf_verify(instance=instance, acting_user=request.user, expected_version=expected)
            messages.success(request, _("Marked as source-data verified."))
        elif action == "sign":
            form = SignForm(request.POST)
            password = request.POST.get("password", "")
            services.crf_sign(
                instance=instance,
                acting_user=request.user,
                password=password,
                request=request,
                expected_version=expected,
            )
            del form
            messages.success(request, _("Signed."))
        elif action == "lock":
            services.crf_lock(
                instance=instance, acting_user=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Locked."))
        elif action == "unlock":
            services.crf_unlock(
                instance=instance, acting_user=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Unlocked."))
        else:
            return HttpResponseNotAllowed(["POST"])
    except services.StaleVersion as exc:
        messages.error(request, str(exc))
        return redirect(instance.get_absolute_url())
    except services.CrfLocked as exc:
        messages.error(request, str(exc))
        return render(request, "crf/crf_detail.html", crf_detail_context(request, spec, instance), status=409)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return render(request, "crf/crf_detail.html", crf_detail_context(request, spec, instance), status=422)
    return redirect(reverse("crf_detail", args=[instance.patient_id, spec.slug, instance.pk]))


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A lock is not a missing right: say which lock refused, never "your role" (issue 19).
    locked = str(exception) if isinstance(exception, services.CrfLocked) else ""
    return render(request, "403.html", {"locked": locked}, status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
