"""Data-clarification queries through the API: list, read with the thread, raise, answer, close, re-open.

Every write calls the same ``sabr_trial.queries`` service as the queries pages (same permission check, locks, thread
message and ``AuditEvent``); raising validates with the browser's ``RaiseQueryForm`` first, as the page does. A step
not allowed from the query's current state (closing a closed query, answering one that is not open, re-opening an
open one) is a 409 with the service's message; a refused field is a 422 naming it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import ruletext
from api.problems import ApiProblem, django_errors
from api.serializers import StrictSerializerMixin
from api.writes import form_errors
from sabr_trial import queries
from sabr_trial.crf import registry
from sabr_trial.dm_views import field_choices
from sabr_trial.forms import RaiseQueryForm
from sabr_trial.models import Query, QueryMessage
from sabr_trial.roles import Perm
from sabr_trial.selectors import get_crf_for_user
from sabr_trial.templatetags.ruletext import text as ruletext_text

TAG = "Queries"
STATUS_FILTER = [*Query.Status.values, "active"]


def _slug_of(query: Query) -> str | None:
    model = query.content_type.model_class()
    try:
        return registry.for_model(model).slug if model is not None else None
    except KeyError:
        return None


def _field_label(query: Query) -> str:
    model = query.content_type.model_class()
    if not query.field_name or model is None:
        return ""
    try:
        return str(model._meta.get_field(query.field_name).verbose_name)
    except Exception:
        return query.field_name


@extend_schema_field(OpenApiTypes.STR)
class _SystemText(serializers.Field):  # type: ignore[type-arg]
    """A query or message text in the client's language (Accept-Language): an edit check's text is stored as a
    message id with parameters (``ruletext``); a text a person typed is returned as typed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return ruletext_text(value)


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": "The message id and parameters of an edit check's text.",
    }
)
class _SystemTextMsg(serializers.Field):  # type: ignore[type-arg]
    """The stored message of an edit check's text (id and parameters), or null for a text a person typed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, source="text", allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> dict[str, Any] | None:
        data = ruletext.loads(value)
        return data if isinstance(data, dict) else None


class QueryMessageSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    text = _SystemText()
    text_msg = _SystemTextMsg()
    changes = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="A correction: the fields changed since the query was raised (field, label, old, new).",
    )

    class Meta:
        model = QueryMessage
        fields = ["id", "kind", "author", "at", "text", "text_msg", "crf_version", "changes"]
        read_only_fields = fields


class QuerySerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="query_status", read_only=True)
    patient_label = serializers.CharField(source="patient.label", read_only=True)
    form = serializers.SerializerMethodField(help_text="Slug of the CRF the query sits on.")
    row = serializers.IntegerField(source="object_id", read_only=True, help_text="Id of the CRF row.")
    field_label = serializers.SerializerMethodField()
    system = serializers.BooleanField(
        source="is_system", read_only=True, help_text="Raised by an edit check."
    )
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    answered_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    age_days = serializers.SerializerMethodField()
    text = _SystemText()
    text_msg = _SystemTextMsg()

    class Meta:
        model = Query
        fields = [
            "id",
            "patient",
            "patient_label",
            "form",
            "row",
            "field_name",
            "field_label",
            "text",
            "text_msg",
            "priority",
            "status",
            "system",
            "rule_id",
            "crf_version",
            "raised_by",
            "raised_at",
            "answered_by",
            "answered_at",
            "closed_by",
            "closed_at",
            "auto_closed",
            "age_days",
        ]
        read_only_fields = fields

    def get_form(self, obj: Query) -> str | None:
        return _slug_of(obj)

    def get_field_label(self, obj: Query) -> str:
        return _field_label(obj)

    def get_age_days(self, obj: Query) -> int:
        return queries.age_days(obj)


class QueryDetailSerializer(QuerySerializer):
    messages = QueryMessageSerializer(many=True, read_only=True)

    class Meta(QuerySerializer.Meta):
        fields = [*QuerySerializer.Meta.fields, "messages"]
        read_only_fields = fields


class RaiseQueryInput(StrictSerializerMixin, serializers.Serializer):
    form = serializers.ChoiceField(choices=[], help_text="Slug of the CRF (see /api/v1/crfs/).")
    row = serializers.IntegerField(min_value=1, help_text="Id of the CRF row the query is about.")
    field_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=80,
        help_text="One field of the form (its API name); empty: the whole form.",
    )
    text = serializers.CharField(required=False, allow_blank=True, help_text="The question for the site.")
    priority = serializers.ChoiceField(choices=Query.Priority.choices, required=False, default="normal")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["form"].choices = [(spec.slug, spec.slug) for spec in registry.all()]


class QueryTextInput(StrictSerializerMixin, serializers.Serializer):
    text = serializers.CharField(
        required=False, allow_blank=True, help_text="The message for the thread (answer, reason, note)."
    )


def _query(pk: int) -> Query:
    return get_object_or_404(Query.objects.select_related("patient", "content_type"), pk=pk)


def _detail(query: Query) -> Query:
    return (
        Query.objects.select_related("patient", "content_type", "raised_by", "answered_by", "closed_by")
        .prefetch_related("messages__author")
        .get(pk=query.pk)
    )


def _digits(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise ValidationError({name: _("An id is a number.")})
    return int(raw)


def _text(params: Any, name: str, max_length: int) -> str:
    raw = params.get(name, "")
    if "\x00" in raw:  # PostgreSQL stores no NUL character: a value with one matches nothing, say so
        raise ValidationError({name: _("Null characters are not allowed.")})
    return str(raw[:max_length])


def _choice(params: Any, name: str, allowed: list[str]) -> str:
    raw = params.get(name, "")
    if raw and raw not in allowed:
        raise ValidationError({name: _("Unknown value '%(v)s'.") % {"v": raw[:40]}})
    return raw


QUERY_FILTERS = [
    OpenApiParameter("patient", int, description="Patient id."),
    OpenApiParameter("status", str, enum=STATUS_FILTER, description="'active': open or answered."),
    OpenApiParameter("form", str, description="CRF slug."),
    OpenApiParameter("row", int, description="CRF row id (with form)."),
    OpenApiParameter("field_name", str),
    OpenApiParameter("priority", str, enum=list(Query.Priority.values)),
    OpenApiParameter(
        "origin", str, enum=["system", "manual"], description="Raised by an edit check or a person."
    ),
    OpenApiParameter("raised_by", str, description="Username of the person who raised it."),
    OpenApiParameter("age", str, enum=list(queries.AGE_BUCKETS)),
]


class QueryList(generics.GenericAPIView):
    """Queries of the study, newest first, filtered like the queries page; ``POST`` raises one on a CRF row."""

    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW, "post": Perm.RAISE_QUERY}
    serializer_class = QuerySerializer

    def get_queryset(self) -> QuerySet[Query]:
        params = self.request.query_params
        form = _choice(params, "form", [spec.slug for spec in registry.all()])
        qs = queries.filter_queries(
            self.request.user,
            status=_choice(params, "status", STATUS_FILTER),
            form=form,
            priority=_choice(params, "priority", list(Query.Priority.values)),
            age=_choice(params, "age", list(queries.AGE_BUCKETS)),
            origin=_choice(params, "origin", ["system", "manual"]),
        ).select_related("answered_by", "closed_by")
        patient = _digits(params, "patient")
        if patient is not None:
            qs = qs.filter(patient_id=patient)
        row = _digits(params, "row")
        if row is not None:
            if not form:
                raise ValidationError({"row": _("Filter by row together with its form.")})
            qs = qs.filter(object_id=row)
        field_name = _text(params, "field_name", 80)
        if field_name:
            qs = qs.filter(field_name=field_name)
        raised_by = _text(params, "raised_by", 150)
        if raised_by:
            qs = qs.filter(raised_by__username=raised_by)
        return qs

    @extend_schema(
        tags=[TAG], operation_id="query_list", parameters=QUERY_FILTERS, responses=QuerySerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(QuerySerializer(page, many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="query_raise",
        request=RaiseQueryInput,
        responses={201: QueryDetailSerializer},
    )
    def post(self, request: Request) -> Response:
        body = RaiseQueryInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        spec = registry.get(data["form"])
        row = spec.model.objects.filter(pk=data["row"]).only("pk", "patient_id").first()
        if row is None:
            raise ValidationError(
                {
                    "row": _("There is no %(form)s form with id %(id)s.")
                    % {"form": spec.slug, "id": data["row"]}
                }
            )
        _spec, row = get_crf_for_user(request.user, patient_pk=row.patient_id, slug=spec.slug, pk=row.pk)
        form = RaiseQueryForm(
            {
                "field_name": data.get("field_name", ""),
                "text": data.get("text", ""),
                "priority": data["priority"],
            },
            fields=field_choices(type(row)),
        )
        if not form.is_valid():
            raise form_errors(form)
        query = queries.raise_query(
            row=row,
            text=form.cleaned_data["text"],
            field_name=form.cleaned_data["field_name"],
            priority=form.cleaned_data["priority"],
            acting_user=request.user,
        )
        response = Response(QueryDetailSerializer(_detail(query)).data, status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"/api/v1/queries/{query.pk}/")
        return response


class QueryDetail(APIView):
    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW}

    @extend_schema(tags=[TAG], operation_id="query_read", responses=QueryDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(QueryDetailSerializer(_detail(_query(pk))).data)


class _QueryStep(APIView):
    """One step of a query's life through its service; a step the current state does not allow is a 409."""

    service: ClassVar[Any]

    @staticmethod
    def conflict(query: Query, text: str) -> bool:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        query = _query(pk)
        body = QueryTextInput(data=request.data)
        body.is_valid(raise_exception=True)
        text = body.validated_data.get("text", "")
        try:
            query = type(self).service(query=query, acting_user=request.user, text=text)
        except ValidationError as exc:
            query.refresh_from_db()
            if type(self).conflict(query, text):
                errors = [{**e, "code": "illegal_transition"} for e in django_errors(exc)]
                raise ApiProblem(409, errors[0]["message"], title=_("Conflict"), errors=errors) from None
            raise
        return Response(QueryDetailSerializer(_detail(query)).data)


def _step_schema(operation_id: str, summary: str) -> Any:
    return extend_schema(
        tags=[TAG],
        operation_id=operation_id,
        summary=summary,
        request=QueryTextInput,
        responses=QueryDetailSerializer,
    )


class QueryAnswer(_QueryStep):
    """Answer an open query by explanation (coordinator, investigator); a correction is made on the form itself."""

    required_perms: ClassVar[dict[str, str]] = {"post": Perm.ANSWER_QUERY}
    service = staticmethod(queries.answer_query)

    @staticmethod
    def conflict(query: Query, text: str) -> bool:
        return query.query_status != Query.Status.OPEN

    @_step_schema("query_answer", "Answer an open query (text: the explanation)")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class QueryClose(_QueryStep):
    required_perms: ClassVar[dict[str, str]] = {"post": Perm.RAISE_QUERY}
    service = staticmethod(queries.close_query)

    @staticmethod
    def conflict(query: Query, text: str) -> bool:
        return query.query_status == Query.Status.CLOSED

    @_step_schema("query_close", "Close an open or answered query (text optional)")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class QueryReopen(_QueryStep):
    required_perms: ClassVar[dict[str, str]] = {"post": Perm.RAISE_QUERY}
    service = staticmethod(queries.reopen_query)

    @staticmethod
    def conflict(query: Query, text: str) -> bool:
        return query.query_status == Query.Status.OPEN and bool(text.strip())

    @_step_schema("query_reopen", "Re-open an answered or closed query (text: why)")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)
