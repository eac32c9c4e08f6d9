"""SAEs through the API: the study's SAE list with the reporting clock, and the SAE reports of one AE.

An SAE report is not a CRF of its own (no lifecycle): it is a child of the serious adverse-event row, recorded by the
AE page's ``SaeReportForm`` and ``adverse_events.services.add_sae_report`` (enter permission, EC-AE-3: only a serious
AE, not sent before awareness; the first initial report sets the AE's ``reported_at`` through the CRF service, with
its history row). The API uses both, so a refusal is the page's. The browser records reports and never edits them,
so the API has no update either.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from adverse_events import selectors as ae_selectors
from adverse_events import services as ae_services
from adverse_events.forms import SaeReportForm
from adverse_events.models import AdverseEvent, SaeReport
from adverse_events.views import SLUG
from api.serializers import StrictSerializerMixin
from api.writes import form_data, form_errors
from sabr_trial.roles import Perm, has_perm
from sabr_trial.selectors import get_crf_for_user

TAG = "SAE reports"


class SaeReportSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = SaeReport
        fields = ["id", "adverse_event", "kind", "sent_at", "summary", "created_at", "created_by"]
        read_only_fields = fields


class SaeReportInput(StrictSerializerMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=SaeReport.Kind.choices, required=False, default="FOLLOW-UP")
    sent_at = serializers.DateTimeField(help_text="When the report went to the sponsor (not in the future).")
    summary = serializers.CharField(allow_blank=True, help_text="New information (at most 2000 characters).")


class _DeadlineSerializer(serializers.Serializer):
    due_at = serializers.DateTimeField()
    state = serializers.CharField(help_text="OPEN, OVERDUE, MET or LATE.")
    done_at = serializers.DateTimeField(allow_null=True)


class SaeRowSerializer(serializers.Serializer):
    adverse_event = serializers.IntegerField(source="ae.pk")
    patient = serializers.IntegerField(source="ae.patient_id")
    patient_label = serializers.CharField(source="ae.patient.label")
    ae_number = serializers.IntegerField(source="ae.ae_number", allow_null=True)
    term = serializers.CharField(source="ae.ctcae_term.term")
    grade = serializers.IntegerField(source="ae.grade", allow_null=True)
    awareness_at = serializers.DateTimeField(source="ae.awareness_at", allow_null=True)
    reported_at = serializers.DateTimeField(source="ae.reported_at", allow_null=True)
    is_open = serializers.BooleanField(help_text="The initial site report is not sent yet.")
    overdue = serializers.BooleanField(help_text="The 24 h site report is overdue (R7.4).")
    site = serializers.SerializerMethodField()
    susar = serializers.SerializerMethodField()
    sponsor = serializers.SerializerMethodField()
    reports = SaeReportSerializer(many=True)

    @staticmethod
    def _deadline(value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        return {"due_at": value.due_at, "state": str(value.state), "done_at": value.done_at}

    @extend_schema_field(_DeadlineSerializer(allow_null=True))
    def get_site(self, row: Any) -> dict[str, Any] | None:
        return self._deadline(row.clock.site) if row.clock else None

    @extend_schema_field(
        serializers.BooleanField(allow_null=True, help_text="None: expectedness not assessed.")
    )
    def get_susar(self, row: Any) -> bool | None:
        return row.clock.susar if row.clock else None

    @extend_schema_field(_DeadlineSerializer(allow_null=True))
    def get_sponsor(self, row: Any) -> dict[str, Any] | None:
        return self._deadline(row.clock.sponsor) if row.clock else None


class SaeList(generics.GenericAPIView):
    """Every SAE episode, open (initial report not sent) first and most urgent first, as the SAE page."""

    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW}
    serializer_class = SaeRowSerializer

    @extend_schema(tags=[TAG], operation_id="sae_list", responses=SaeRowSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(ae_selectors.sae_rows())
        return self.get_paginated_response(SaeRowSerializer(page, many=True).data)


def _ae(request: Request, patient_pk: int, pk: int) -> AdverseEvent:
    _spec, ae = get_crf_for_user(request.user, patient_pk=patient_pk, slug=SLUG, pk=pk)
    return ae  # type: ignore[return-value]


class SaeReportList(generics.GenericAPIView):
    """The SAE reports of one adverse event; ``POST`` records one sent to the sponsor (EC-AE-3, R7.4)."""

    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW, "post": Perm.ENTER}
    serializer_class = SaeReportSerializer

    @extend_schema(tags=[TAG], operation_id="sae_report_list", responses=SaeReportSerializer(many=True))
    def get(self, request: Request, patient_pk: int, pk: int) -> Response:
        ae = _ae(request, patient_pk, pk)
        page = self.paginate_queryset(ae.sae_reports.select_related("created_by").order_by("sent_at", "id"))
        return self.get_paginated_response(SaeReportSerializer(page, many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="sae_report_create",
        request=SaeReportInput,
        responses={201: SaeReportSerializer},
    )
    def post(self, request: Request, patient_pk: int, pk: int) -> Response:
        ae = _ae(request, patient_pk, pk)
        if not has_perm(request.user, Perm.ENTER):
            raise PermissionDenied
        body = SaeReportInput(data=request.data)
        body.is_valid(raise_exception=True)
        form = SaeReportForm(form_data(SaeReportForm, dict(body.validated_data)))
        if not form.is_valid():
            raise form_errors(form)
        report = ae_services.add_sae_report(ae=ae, acting_user=request.user, **form.cleaned_data)
        response = Response(SaeReportSerializer(report).data, status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(
            f"/api/v1/patients/{patient_pk}/crfs/{SLUG}/{pk}/sae-reports/{report.pk}/"
        )
        return response


class SaeReportDetail(APIView):
    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW}

    @extend_schema(tags=[TAG], operation_id="sae_report_read", responses=SaeReportSerializer)
    def get(self, request: Request, patient_pk: int, pk: int, report_pk: int) -> Response:
        ae = _ae(request, patient_pk, pk)
        report = get_object_or_404(
            SaeReport.objects.select_related("created_by"), pk=report_pk, adverse_event=ae
        )
        return Response(SaeReportSerializer(report).data)
