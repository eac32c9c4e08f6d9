"""API views: patients, the CRFs of the registry (one set of operations per CRF), responses, CTCAE, endpoints, tokens.

Reads go through the same selectors as the pages; writes through the CRF's form (its rules) and the services.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import ruletext
from adverse_events import ctcae
from adverse_events.models import CtcaeTerm
from api import serializers as s
from api.models import TokenRecord
from api.problems import ApiProblem, PreconditionRequired
from api.writes import bound_form, current_values, form_data, form_errors
from assessments import grid_merge
from endpoints.services import figures_in
from enrollment import services as enrollment_services
from enrollment.models import Patient
from enrollment.selectors import get_patient_for_user, patients_for_user
from sabr_trial import services
from sabr_trial.crf import CrfBase, CrfSpec, CrfStatus, registry
from sabr_trial.roles import Perm
from sabr_trial.templatetags.ruletext import text as rule_text

ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag of your last read (the CRF version, e.g. "3"). Missing: 428; stale: 412, nothing changed.',
)
TRANSITIONS = ("submit", "verify", "sign", "lock", "unlock")
TRANSITION_PERMS = {
    "submit": Perm.ENTER,
    "verify": Perm.VERIFY,
    "sign": Perm.SIGN,
    "lock": Perm.LOCK,
    "unlock": Perm.LOCK,
    "confirm": Perm.ENTER,
}
#: CRFs whose page is a custom grid: the API writes them through their app's service (own input serializer).
CUSTOM_WRITES = {"tumour-assessment", "eligibility"}


def etag(instance: CrfBase) -> str:
    return f'"{instance.version}"'


def if_match(request: Request) -> int:
    """The version the client last read, from ``If-Match`` (428 when absent, 412 when unreadable)."""
    raw = request.headers.get("If-Match")
    if raw is None or not raw.strip():
        raise PreconditionRequired()
    match = ETAG_RE.match(raw)
    if not match or len(match.group(1)) > 9:
        raise ApiProblem(
            412,
            _('If-Match must be the ETag of the form (its version, e.g. "3").'),
            title=_("Precondition failed"),
            errors=[{"field": None, "message": _("Unreadable If-Match header."), "code": "if_match_invalid"}],
        )
    return int(match.group(1))


def with_etag(response: Response, instance: CrfBase) -> Response:
    response["ETag"] = etag(instance)
    return response


def raise_for_form(form: Any, prefix: str = "") -> None:
    if not form.is_valid():
        raise form_errors(form, prefix)


# --- API root -------------------------------------------------------------------------------------------------


class ApiRoot(APIView):
    """Where things are: the CRF catalogue, patients, CTCAE, endpoints, queries, jobs, SAEs, the schema and the docs."""

    @extend_schema(
        responses=inline_serializer(
            "ApiRoot", {"links": serializers.DictField(child=serializers.CharField())}
        )
    )
    def get(self, request: Request) -> Response:
        base = request.build_absolute_uri("/api/v1/")
        names = [
            "patients/",
            "crfs/",
            "ctcae-terms/",
            "endpoints/snapshot/",
            "queries/",
            "jobs/",
            "saes/",
            "schema/",
            "docs/",
            "tokens/",
        ]
        return Response({"links": {n.rstrip("/"): base + n for n in names}})


# --- Patients ---------------------------------------------------------------------------------------------------


class PatientList(generics.ListCreateAPIView):
    """List and search patients (``q`` matches screening or study number); ``POST`` screens a new patient."""

    serializer_class = s.PatientSerializer
    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW, "post": Perm.ENTER}

    def get_queryset(self) -> QuerySet[Patient]:
        qs = patients_for_user(self.request.user, search=self.request.query_params.get("q", "")[:20])
        registered = self.request.query_params.get("registered")
        if registered in ("true", "false"):
            qs = qs.filter(study_number__isnull=registered == "false")
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Part of a screening or study number."),
            OpenApiParameter("registered", str, enum=["true", "false"]),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.PatientScreenSerializer, responses={201: s.PatientSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.PatientScreenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        patient = enrollment_services.patient_screen(
            screening_date=body.validated_data["screening_date"], acting_user=request.user
        )
        return Response(s.PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetail(APIView):
    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW}

    @extend_schema(responses=s.PatientSerializer)
    def get(self, request: Request, patient_pk: int) -> Response:
        return Response(s.PatientSerializer(get_patient_for_user(request.user, patient_pk)).data)


class PatientRegister(APIView):
    """Register a screened patient: the next study number (EC-RG-1 consent + confirmed eligibility, EC-RG-2)."""

    required_perms: ClassVar[dict[str, str]] = {"post": Perm.ENTER}

    @extend_schema(request=s.PatientRegisterSerializer, responses={200: s.PatientSerializer})
    def post(self, request: Request, patient_pk: int) -> Response:
        patient = get_patient_for_user(request.user, patient_pk)
        body = s.PatientRegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        patient = enrollment_services.patient_register(
            patient=patient,
            registration_date=body.validated_data["registration_date"],
            acting_user=request.user,
        )
        return Response(s.PatientSerializer(patient).data)


class PatientResponses(APIView):
    """The patient's RECIST 1.1 results: time points, BOR (unconfirmed/confirmed), iBOR, first PD, local control."""

    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW}

    @extend_schema(
        responses=inline_serializer(
            "PatientResponses",
            {
                "treatment_start": serializers.DateField(allow_null=True),
                "treatment_start_is_placeholder": serializers.BooleanField(),
                "best_overall_response": serializers.CharField(allow_null=True),
                "confirmed_best_overall_response": serializers.CharField(allow_null=True),
                "irecist_best_overall_response": serializers.CharField(allow_null=True),
                "first_pd_date": serializers.DateField(allow_null=True),
                "error": serializers.CharField(allow_blank=True),
                "timepoints": serializers.ListField(child=serializers.DictField()),
                "local_control": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request: Request, patient_pk: int) -> Response:
        from assessments.selectors import response_summary

        patient = get_patient_for_user(request.user, patient_pk)
        ctx = response_summary(patient) or {}
        timeline = ctx.get("timeline", [])
        first_pd = ctx.get("first_pd")

        def label(value: Any) -> str | None:
            if value is None:
                return None
            response = getattr(value, "response", value)
            return str(getattr(response, "value", response))

        return Response(
            {
                "treatment_start": ctx.get("treatment_start"),
                "treatment_start_is_placeholder": bool(ctx.get("placeholder_start")),
                "best_overall_response": label(ctx.get("bor")),
                "confirmed_best_overall_response": label(ctx.get("cbor")),
                "irecist_best_overall_response": label(ctx.get("ibor")),
                "first_pd_date": first_pd.assessment_date if first_pd else None,
                "error": rule_text(ctx.get("error", "")),
                "timepoints": [
                    {
                        "id": a.pk,
                        "date": a.assessment_date,
                        "visit_label": a.visit_label,
                        "sum_mm": a.sum_mm,
                        "pct_chg_baseline": a.pct_chg_baseline,
                        "pct_chg_nadir": a.pct_chg_nadir,
                        "target_resp": a.target_resp,
                        "nontarget_resp": a.nontarget_resp,
                        "new_lesion_ind": a.new_lesion_ind,
                        "overall_resp": a.overall_resp,
                        # the rule in the request's language, and as stored (message id and parameters, ruletext)
                        "deciding_rule": rule_text(a.deciding_rule),
                        "deciding_rule_data": ruletext.loads(a.deciding_rule),
                        "irecist_resp": a.irecist_resp,
                    }
                    for a in timeline
                ],
                "local_control": [
                    {
                        "lesion_code": r.lesion_code,
                        "local_failure": getattr(r, "local_failure", None),
                        "failure_date": getattr(r, "failure_date", None),
                    }
                    for r in ctx.get("local_control", []) or []
                ],
            }
        )


# --- CRF catalogue and per-CRF operations --------------------------------------------------------------------------


class CrfCatalogue(APIView):
    """Every CRF of the casebook: slug, title, the fields the API writes and the derived (read-only) ones."""

    @extend_schema(responses=s.CrfTypeSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = [
            {
                "slug": spec.slug,
                "title": str(spec.title),
                "section": str(spec.section),
                "many": spec.many,
                "writable": True,
                "fields": s.form_field_names(spec),
                "derived_fields": s.derived_field_names(spec),
                "missing_codes": {name: list(spec.missing_codes_for(name)) for name in spec.missing_fields()},
            }
            for spec in registry.all()
        ]
        return Response(s.CrfTypeSerializer(rows, many=True).data)


class CrfViewMixin:
    spec: ClassVar[CrfSpec]
    request: Request

    def patient(self, patient_pk: int) -> Patient:
        return get_patient_for_user(self.request.user, patient_pk)

    def row(self, patient_pk: int, pk: int, *, for_update: bool = False) -> CrfBase:
        get_patient_for_user(self.request.user, patient_pk)
        qs = self.spec.model.objects.select_related("patient")
        if for_update:
            qs = qs.select_for_update()
        try:
            return qs.get(pk=pk, patient_id=patient_pk)
        except self.spec.model.DoesNotExist:
            raise Http404(_("No such form")) from None

    def out(self, instance: CrfBase, code: int = 200) -> Response:
        data = s.crf_serializer(self.spec)(instance, context={"patient": instance.patient}).data
        return with_etag(Response(data, status=code), instance)


def _filter_rows(qs: QuerySet[Any], params: Any) -> QuerySet[Any]:
    status_ = params.get("status")
    if status_:
        if status_ not in CrfStatus.values:
            raise ValidationError({"status": _("Unknown status '%(s)s'.") % {"s": status_[:20]}})
        qs = qs.filter(status=status_)
    since = params.get("updated_since")
    if since:
        when = None
        try:
            when = parse_datetime(since)
        except ValueError:
            when = None
        if when is None:
            raise ValidationError(
                {"updated_since": _("Use an ISO 8601 date-time, e.g. 2025-01-31T08:00:00Z.")}
            )
        try:
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
            # In UTC: PostgreSQL refuses offsets beyond 15:59 that Python accepts (up to 23:59).
            when = when.astimezone(datetime.UTC)
        except (OverflowError, ValueError):
            raise ValidationError({"updated_since": _("This date-time is out of range.")}) from None
        qs = qs.filter(updated_at__gte=when)
    return qs


LIST_FILTERS = [
    OpenApiParameter("status", str, enum=list(CrfStatus.values)),
    OpenApiParameter(
        "updated_since", OpenApiTypes.DATETIME, description="Rows changed at or after this time."
    ),
]


def _create(spec: CrfSpec, patient: Patient, data: dict[str, Any], user: Any) -> CrfBase:
    """Create one CRF row through the form (rules) and the service (write), as the generic create page does."""
    blocked = spec.can_add(patient) if spec.can_add else None
    if blocked:
        raise ApiProblem(
            409,
            str(blocked),
            title=_("Conflict"),
            errors=[{"field": None, "message": str(blocked), "code": "cannot_add"}],
        )
    if not spec.many and spec.model.objects.filter(patient=patient).exists():
        message = _("This patient already has this form: change it instead of adding one.")
        raise ApiProblem(
            409, message, title=_("Conflict"), errors=[{"field": None, "message": message, "code": "exists"}]
        )
    if spec.slug == "tumour-assessment":
        return _save_assessment(patient, None, data, user)
    if spec.slug == "eligibility":
        return _save_eligibility(spec, patient, None, data, user)
    blank = spec.model(patient=patient)
    # A field left out takes the model's default, as the browser posts the initial value the form shows.
    defaults = {
        name: getattr(blank, name)
        for name in s.form_field_names(spec)
        if name not in data and spec.model._meta.get_field(name).has_default()
    }
    form = bound_form(spec, blank, {**defaults, **data})
    raise_for_form(form)
    return services.crf_create(
        model=spec.model,
        patient=patient,
        data=form.crf_data(),
        m2m=form.crf_m2m(),
        acting_user=user,
    )


def _update(spec: CrfSpec, instance: CrfBase, data: dict[str, Any], user: Any, version: int) -> CrfBase:
    reason = data.pop("change_reason", "") or ""
    if spec.slug == "tumour-assessment":
        return _save_assessment(instance.patient, instance, data, user, version=version, reason=reason)
    if spec.slug == "eligibility":
        return _save_eligibility(spec, instance.patient, instance, data, user, version=version, reason=reason)
    names = s.form_field_names(spec)
    values = {**current_values(instance, names), **data}
    if "missing_codes" not in data:  # kept, except on a field this request gives a value
        values["missing_codes"] = {k: v for k, v in instance.missing_codes.items() if k not in data}
    form = bound_form(spec, instance, values, expected_version=version, reason=reason)
    raise_for_form(form)
    row, _changes = services.crf_update(
        instance=instance,
        expected_version=version,
        data=form.crf_data(),
        m2m=form.crf_m2m(),
        reason=reason,
        acting_user=user,
    )
    return row


def _refuse_locked(instance: CrfBase) -> None:
    if instance.status == CrfStatus.LOCKED or instance.patient.locked_at:
        raise services.CrfLocked(_("This form is locked by data management: no change is possible."))


def _save_assessment(
    patient: Patient, instance: Any, data: dict[str, Any], user: Any, *, version: int = 0, reason: str = ""
) -> CrfBase:
    """Tumour assessment with its lesion grid: the grid page's forms, then ``assessments.services.save_assessment``."""
    from assessments import selectors as a_selectors
    from assessments.forms import LesionRowForm, NewLesionForm, TumourAssessmentForm
    from assessments.models import TumourAssessment
    from assessments.services import save_assessment

    results = data.pop("results", None)
    new_lesions = data.pop("new_lesions", None)
    data.pop("change_reason", None)
    header_names = s.TumourAssessmentInput.Meta.fields[:9]
    base = instance or TumourAssessment(patient=patient)
    values = {**(current_values(instance, header_names) if instance else {}), **data}
    header_data = form_data(TumourAssessmentForm, values, instance=base)
    if instance is not None:
        header_data["expected_version"] = str(version)
        if reason:
            header_data["change_reason"] = reason
    header = TumourAssessmentForm(header_data, instance=base)
    raise_for_form(header)
    imaging = header.cleaned_data.get("imaging_done") == "Y"
    lesions = a_selectors.lesions_of(patient)
    rows: list[dict[str, Any]] = []
    if imaging:
        if not lesions.exists():
            raise ValidationError(_("Register the baseline lesions before a follow-up assessment (EC-TA-1)."))
        if results is None and instance is not None:
            results = [
                {
                    "lesion": r.lesion_id,
                    "result_status": r.result_status,
                    "value_mm": r.value_mm,
                    "split_merge": r.split_merge,
                    "merged_into": r.merged_into_id,
                    "nontarget_state": r.nontarget_state,
                    "further_increase": r.further_increase,
                    "infield_progression": r.infield_progression,
                    "lf_confirmation": r.lf_confirmation,
                }
                for r in instance.results.all()
            ]
        by_id = {lesion.pk: lesion for lesion in lesions}
        errors: dict[str, list[str]] = {}
        for index, item in enumerate(results or []):
            lesion = by_id.get(item.get("lesion"))
            if lesion is None:
                errors[f"results.{index}.lesion"] = [_("Not a registered lesion of this patient.")]
                continue
            prefix = f"l{lesion.pk}"
            row_form = LesionRowForm(
                form_data(
                    LesionRowForm,
                    {k: v for k, v in item.items() if k != "lesion"},
                    prefix=prefix,
                    lesion=lesion,
                    lesions=lesions,
                ),
                prefix=prefix,
                lesion=lesion,
                lesions=lesions,
            )
            if row_form.is_valid():
                rows.append(row_form.row_data())
            else:
                for name, messages in row_form.errors.items():
                    errors.setdefault(
                        f"results.{index}.{name}" if name != "__all__" else f"results.{index}", []
                    ).extend(messages)
        new_rows = []
        for index, item in enumerate(new_lesions or []):
            new_form = NewLesionForm(form_data(NewLesionForm, item))
            if new_form.is_valid():
                new_rows.append(
                    {k: v for k, v in new_form.cleaned_data.items() if k not in ("id", "assessment")}
                )
            else:
                for name, messages in new_form.errors.items():
                    errors.setdefault(f"new_lesions.{index}.{name}", []).extend(messages)
        if errors:
            raise ValidationError(errors)
    else:
        new_rows = []
    row, _changed = save_assessment(
        patient=patient,
        instance=instance,
        data=header.crf_data(),
        rows=rows,
        new_lesions=new_rows,
        acting_user=user,
        reason=reason,
        expected_version=version,
    )
    return row


def _save_eligibility(
    spec: CrfSpec,
    patient: Patient,
    instance: Any,
    data: dict[str, Any],
    user: Any,
    *,
    version: int = 0,
    reason: str = "",
) -> CrfBase:
    from enrollment.forms import EligibilityForm

    base = instance or spec.model(patient=patient)
    answers = data.get("answers")
    if answers is None and instance is not None:
        from enrollment.rules import parse_answers

        answers = parse_answers(instance.answers_summary)
    probe = EligibilityForm(instance=base)
    known = {name[len("answer_") :] for name in probe.fields if name.startswith("answer_")}
    unknown = sorted(set(answers or {}) - known)
    if unknown:
        raise ValidationError({f"answers.{u}": [_("Unknown criterion '%(c)s'.") % {"c": u}] for u in unknown})
    post = {f"answer_{k}": v for k, v in (answers or {}).items()}
    if instance is not None:
        post["expected_version"] = str(version)
        if reason:
            post["change_reason"] = reason
    form = EligibilityForm(post, instance=base)
    raise_for_form(form)
    if instance is None:
        return enrollment_services.eligibility_create(
            patient=patient, data=form.crf_data(), acting_user=user, status=CrfStatus.DRAFT
        )
    row, _changes = enrollment_services.eligibility_update(
        instance=instance, expected_version=version, data=form.crf_data(), reason=reason, acting_user=user
    )
    return row


def _input_serializer(spec: CrfSpec) -> type[serializers.Serializer]:
    if spec.slug == "tumour-assessment":
        return s.TumourAssessmentInput
    if spec.slug == "eligibility":
        return s.EligibilityInput
    return s.crf_serializer(spec)


def _parse(spec: CrfSpec, request: Request, *, partial: bool, patient: Patient) -> dict[str, Any]:
    body = _input_serializer(spec)(data=request.data, partial=partial, context={"patient": patient})
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def crf_views(spec: CrfSpec) -> tuple[type[APIView], type[APIView], type[APIView]]:
    """Build the list/create, read/update and transition views of one registered CRF."""
    out_serializer = s.crf_serializer(spec)
    in_serializer = _input_serializer(spec)
    tag = f"CRF {spec.slug}"
    title = str(spec.title)

    class ListCreate(CrfViewMixin, generics.GenericAPIView):
        required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW, "post": Perm.ENTER}
        serializer_class = out_serializer

        @extend_schema(
            tags=[tag],
            summary=f"List: {title}",
            parameters=LIST_FILTERS,
            responses=out_serializer(many=True),
            operation_id=f"crf_{spec.slug}_list",
        )
        def get(self, request: Request, patient_pk: int) -> Response:
            patient = self.patient(patient_pk)
            qs = _filter_rows(spec.model.objects.filter(patient=patient).order_by("pk"), request.query_params)
            page = self.paginate_queryset(s.for_output(spec, qs))
            data = out_serializer(page, many=True, context={"patient": patient}).data
            return self.get_paginated_response(data)

        @extend_schema(
            tags=[tag],
            summary=f"Create (draft): {title}",
            request=in_serializer,
            responses={201: out_serializer},
            operation_id=f"crf_{spec.slug}_create",
        )
        def post(self, request: Request, patient_pk: int) -> Response:
            patient = self.patient(patient_pk)
            data = _parse(spec, request, partial=False, patient=patient)
            data.pop("change_reason", None)
            with transaction.atomic():
                row = _create(spec, patient, data, request.user)
            row.refresh_from_db()
            return self.out(row, status.HTTP_201_CREATED)

    class Detail(CrfViewMixin, generics.GenericAPIView):
        required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW, "patch": Perm.ENTER}
        serializer_class = out_serializer

        @extend_schema(
            tags=[tag],
            summary=f"Read: {title}",
            responses=out_serializer,
            operation_id=f"crf_{spec.slug}_read",
        )
        def get(self, request: Request, patient_pk: int, pk: int) -> Response:
            return self.out(self.row(patient_pk, pk))

        @extend_schema(
            tags=[tag],
            summary=f"Change: {title}",
            request=in_serializer,
            parameters=[IF_MATCH],
            responses=out_serializer,
            operation_id=f"crf_{spec.slug}_update",
        )
        def patch(self, request: Request, patient_pk: int, pk: int) -> Response:
            instance = self.row(patient_pk, pk)
            version = if_match(request)
            _refuse_locked(instance)
            if instance.version != version:
                stale = services.StaleVersion(instance, version, services._changes_since(instance, version))
                stale.submitted = request.data if isinstance(request.data, dict) else {}
                if (
                    spec.slug == "tumour-assessment"
                ):  # the grid's cells too: each lesion result and new lesion
                    stale.changes = [*stale.changes, *grid_merge.changes_since(instance, version)]
                    stale.submitted = {
                        **stale.submitted,
                        **grid_merge.submitted_cells(instance, request.data),
                    }
                raise stale
            data = _parse(spec, request, partial=True, patient=instance.patient)
            with transaction.atomic():
                row = _update(spec, instance, data, request.user, version)
            row.refresh_from_db()
            return self.out(row)

    class Transition(CrfViewMixin, APIView):
        required_perms: ClassVar[dict[str, str | None]] = {"post": None}  # per action, below

        @extend_schema(
            tags=[tag],
            summary=f"Lifecycle step: {title}",
            request=s.TransitionSerializer,
            responses=out_serializer,
            operation_id=f"crf_{spec.slug}_transition",
            parameters=[
                IF_MATCH,
                OpenApiParameter(
                    "action",
                    str,
                    OpenApiParameter.PATH,
                    enum=[*TRANSITIONS, *(["confirm"] if spec.slug == "eligibility" else [])],
                ),
            ],
        )
        def post(self, request: Request, patient_pk: int, pk: int, action: str) -> Response:
            allowed = [*TRANSITIONS, *(["confirm"] if spec.slug == "eligibility" else [])]
            if action not in allowed:
                raise Http404(_("Unknown lifecycle step."))
            services.require_perm(request.user, TRANSITION_PERMS[action])
            instance = self.row(patient_pk, pk)
            body = s.TransitionSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            version = if_match(request)
            user = request.user
            reason = body.validated_data.get("reason", "")
            with transaction.atomic():
                if action == "submit":
                    row = services.crf_submit(instance=instance, acting_user=user, expected_version=version)
                elif action == "verify":
                    row = services.crf_verify(instance=instance, acting_user=user, expected_version=version)
                elif action == "sign":
                    row = services.crf_sign(
                        instance=instance,
                        acting_user=user,
                        password=body.validated_data.get("password", ""),
                        request=request._request,
                        expected_version=version,
                    )
                elif action == "confirm":
                    row = enrollment_services.eligibility_confirm(
                        instance=instance, expected_version=version, acting_user=user
                    )
                else:
                    # lock/unlock take no version in the service: check it under the row lock first.
                    current = self.row(patient_pk, pk, for_update=True)
                    if current.version != version:
                        raise services.StaleVersion(
                            current, version, services._changes_since(current, version)
                        )
                    if action == "lock":
                        row = services.crf_lock(instance=current, acting_user=user, reason=reason)
                    else:
                        row = services.crf_unlock(instance=current, acting_user=user, reason=reason)
            row.refresh_from_db()
            return self.out(row)

    for cls, kind in ((ListCreate, "List"), (Detail, "Detail"), (Transition, "Transition")):
        cls.spec = spec
        cls.__name__ = cls.__qualname__ = f"{out_serializer.__name__}{kind}"
    return ListCreate, Detail, Transition


class CrfRows(generics.GenericAPIView):
    """Rows of one CRF across all patients (``patient``, ``status``, ``updated_since`` filters): for analysis."""

    serializer_class = (
        s.PatientSerializer
    )  # replaced per CRF in the schema by the catalogue; rows are per-CRF

    @extend_schema(
        parameters=[*LIST_FILTERS, OpenApiParameter("patient", int)],
        responses=inline_serializer(
            "CrfRowsPage",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request, slug: str) -> Response:
        if slug not in registry:
            raise Http404(_("Unknown form"))
        spec = registry.get(slug)
        patients_for_user(request.user)  # the view permission, as the casebook
        qs = _filter_rows(
            spec.model.objects.select_related("patient").order_by("patient_id", "pk"), request.query_params
        )
        patient = request.query_params.get("patient")
        if patient:
            if not patient.isdigit() or len(patient) > 9:
                raise ValidationError({"patient": _("A patient id is a number.")})
            qs = qs.filter(patient_id=int(patient))
        page = self.paginate_queryset(s.for_output(spec, qs))
        data = s.crf_serializer(spec)(page, many=True).data
        return self.get_paginated_response(data)


class EligibilityCriteria(APIView):
    """The eligibility criteria of the current protocol version: id, text and the answer that qualifies."""

    @extend_schema(
        responses=inline_serializer(
            "Criterion",
            {
                "id": serializers.CharField(),
                "category": serializers.CharField(),
                "text": serializers.CharField(),
                "qualifying_answer": serializers.CharField(),
            },
            many=True,
        )
    )
    def get(self, request: Request) -> Response:
        from enrollment import criteria

        return Response(
            [
                {
                    "id": c.id,
                    "category": str(c.category),
                    "text": str(c.text),
                    "qualifying_answer": c.qualifying_answer,
                }
                for c in criteria.criteria_for(criteria.CURRENT_VERSION)
            ]
        )


# --- CTCAE -------------------------------------------------------------------------------------------------------


class CtcaeSearch(generics.GenericAPIView):
    """CTCAE v5.0 terms best first (``q``: part of a term, its MedDRA code or SOC); ``allowed_grades`` per term."""

    serializer_class = s.CtcaeTermSerializer
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str),
            OpenApiParameter("soc", str),
            OpenApiParameter("limit", int, description="1-50, default 20"),
        ],
        responses=s.CtcaeTermSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "")[:100]
        soc = request.query_params.get("soc", "").strip()[:120]
        try:
            limit = min(max(int(request.query_params.get("limit", 20)), 1), 50)
        except ValueError:
            raise ValidationError({"limit": _("A number between 1 and 50.")}) from None
        terms = ctcae.default_terms()
        if soc:
            terms = tuple(t for t in terms if t.soc.casefold() == soc.casefold())
        found = ctcae.search(terms, query, limit=limit) if query.strip() else list(terms[:limit])
        rows = {
            t.meddra_code: t for t in CtcaeTerm.objects.filter(meddra_code__in=[f.meddra_code for f in found])
        }
        return Response(
            s.CtcaeTermSerializer(
                [rows[f.meddra_code] for f in found if f.meddra_code in rows], many=True
            ).data
        )


class CtcaeDetail(APIView):
    @extend_schema(responses=s.CtcaeTermSerializer)
    def get(self, request: Request, code: int) -> Response:
        return Response(s.CtcaeTermSerializer(get_object_or_404(CtcaeTerm, meddra_code=code)).data)


# --- Endpoint snapshot (read-only) ---------------------------------------------------------------------------------


def _snapshot(request: Request) -> Any:
    from endpoints import services as endpoint_services

    raw = request.query_params.get("cutoff")
    cutoff = None
    if raw:
        try:
            cutoff = datetime.date.fromisoformat(raw)
        except ValueError:
            raise ValidationError({"cutoff": _("Use YYYY-MM-DD.")}) from None
    snap = endpoint_services.latest_snapshot(cutoff)
    if snap is None:
        message = _(
            "No endpoint results have been computed yet (open the endpoint dashboard or wait for the task)."
        )
        raise ApiProblem(404, message, title=_("Not found"))
    return snap


CUTOFF = OpenApiParameter(
    "cutoff", OpenApiTypes.DATE, description="Data cut-off (default: the latest snapshot)."
)


class EndpointSnapshotView(APIView):
    """The latest endpoint results (PFS1, PFS2, OS, local control, BOR...) as computed by the endpoint task."""

    @extend_schema(
        parameters=[CUTOFF],
        responses=inline_serializer(
            "EndpointSnapshot",
            {
                "id": serializers.IntegerField(),
                "created_at": serializers.DateTimeField(),
                "data_cutoff": serializers.DateField(),
                "data_as_of": serializers.DateTimeField(allow_null=True),
                "stale": serializers.BooleanField(),
                "n_patients": serializers.IntegerField(),
                "results": serializers.DictField(),
                "figures": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        from endpoints import services as endpoint_services

        snap = _snapshot(request)
        results = {k: v for k, v in (snap.results or {}).items() if k != "patients"}
        for row in (results.get("headline") or {}).values():  # landmark rates in the client's language
            if isinstance(row, dict) and isinstance(row.get("landmarks"), dict):
                row["landmarks"] = {t: rule_text(v) for t, v in row["landmarks"].items()}
        return Response(
            {
                "id": snap.pk,
                "created_at": snap.created_at,
                "data_cutoff": snap.data_cutoff,
                "data_as_of": snap.data_as_of,
                "stale": endpoint_services.is_stale(snap),
                "n_patients": snap.n_patients,
                "results": results,
                "figures": sorted((snap.figures or {}).keys()),
            }
        )


class EndpointPatients(APIView):
    """Per-patient derivations of the latest snapshot (event/censoring dates and their source forms)."""

    @extend_schema(
        parameters=[CUTOFF],
        responses=inline_serializer(
            "EndpointPatients",
            {
                "snapshot": serializers.IntegerField(),
                "patients": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        snap = _snapshot(request)
        return Response({"snapshot": snap.pk, "patients": [_readable_row(p) for p in snap.patient_rows()]})


def _readable_row(row: dict[str, Any]) -> dict[str, Any]:
    """A listing row with its reasons and data issues as text in the client's language (Accept-Language); a text
    stored as a message id keeps its id and parameters beside it (``reason_msg``, ``message_msg``)."""

    def readable(item: Any, key: str) -> Any:
        if not isinstance(item, dict) or key not in item:
            return item
        out = {**item, key: rule_text(item[key])}
        if isinstance(item[key], dict):
            out[f"{key}_msg"] = item[key]
        return out

    out = {k: readable(row.get(k), "reason") for k in ("pfs1", "pfs2", "os", "lc") if k in row}
    out["lc_lesions"] = [readable(x, "reason") for x in row.get("lc_lesions", [])]
    out["issues"] = [readable(x, "message") for x in row.get("issues", [])]
    out.update(
        {k: readable(row.get(k), "rule") for k in ("bor", "cbor", "bor_nonirr", "cbor_nonirr") if k in row}
    )
    return {**row, **out}


class EndpointFigure(APIView):
    """One figure of the latest snapshot as SVG (Kaplan-Meier, cumulative incidence, waterfall, swimmer, spider)."""

    @extend_schema(parameters=[CUTOFF], responses={(200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request: Request, name: str) -> HttpResponse:
        snap = _snapshot(request)
        svg = figures_in(snap).get(name)  # texts in the client's language (Accept-Language)
        if not isinstance(svg, str):
            raise ApiProblem(404, _("No figure named '%(n)s'.") % {"n": name[:40]}, title=_("Not found"))
        return HttpResponse(svg, content_type="image/svg+xml")


# --- Personal tokens -------------------------------------------------------------------------------------------


def _records() -> QuerySet[TokenRecord]:
    return TokenRecord.objects.select_related("user", "issued_by")


def _annotate_active(records: list[TokenRecord]) -> list[TokenRecord]:
    live = set(AuthToken.objects.filter(expiry__gt=timezone.now()).values_list("token_key", flat=True))
    for r in records:
        r.active = r.revoked_at is None and r.token_key in live  # type: ignore[attr-defined]
    return records


class TokenList(generics.GenericAPIView):
    """Personal API tokens (data managers): issue one for a user (shown once, stored hashed), list them."""

    required_perms: ClassVar[dict[str, str]] = {"get": Perm.MANAGE, "post": Perm.MANAGE}
    serializer_class = s.TokenRecordSerializer

    @extend_schema(
        parameters=[OpenApiParameter("username", str)], responses=s.TokenRecordSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        qs = _records()
        username = request.query_params.get("username")
        if username:
            qs = qs.filter(user__username=username[:150])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            s.TokenRecordSerializer(_annotate_active(list(page)), many=True).data
        )

    @extend_schema(request=s.TokenIssueSerializer, responses={201: s.TokenIssuedSerializer})
    def post(self, request: Request) -> Response:
        body = s.TokenIssueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record, token = issue_token(
            username=body.validated_data["username"],
            days=body.validated_data["expiry_days"],
            label=body.validated_data.get("label", ""),
            acting_user=request.user,
        )
        data = s.TokenRecordSerializer(_annotate_active([record])[0]).data
        return Response({**data, "token": token}, status=status.HTTP_201_CREATED)


class TokenRevoke(APIView):
    required_perms: ClassVar[dict[str, str]] = {"delete": Perm.MANAGE}

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        revoke_token(record=get_object_or_404(TokenRecord, pk=pk), acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@transaction.atomic
def issue_token(*, username: str, days: int, label: str, acting_user: Any) -> tuple[TokenRecord, str]:
    """Issue a personal token for ``username`` (a data manager only); returns the record and the token text."""
    services.require_perm(acting_user, Perm.MANAGE)
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"username": _("No active user '%(u)s'.") % {"u": username[:150]}})
    from sabr_trial.roles import roles_of

    if not roles_of(user):
        raise ValidationError({"username": _("This user holds no study role: a token would allow nothing.")})
    from api.auth import is_locked_out

    if is_locked_out(user):
        raise ValidationError(
            {"username": _("This account is locked after too many failed sign-ins: unlock it first.")}
        )
    expiry = datetime.timedelta(days=days)
    instance, token = AuthToken.objects.create(user=user, expiry=expiry)
    record = TokenRecord.objects.create(
        token_key=instance.token_key,
        user=user,
        label=label,
        issued_by=acting_user,
        expires_at=instance.expiry,
    )
    return record, token


@transaction.atomic
def revoke_token(*, record: TokenRecord, acting_user: Any) -> TokenRecord:
    services.require_perm(acting_user, Perm.MANAGE)
    AuthToken.objects.filter(token_key=record.token_key, user=record.user).delete()
    if record.revoked_at is None:
        record.revoked_at = timezone.now()
        record.revoked_by = acting_user
        record.save(update_fields=["revoked_at", "revoked_by"])
    return record


class NotFound(APIView):
    """Any other path under /api/v1/: a problem+json 404 rather than the HTML page."""

    permission_classes: ClassVar[list[Any]] = []
    schema = None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise Http404(_("No such API resource."))

    post = patch = put = delete = get
