"""Report and export jobs through the API: list, start, progress, download, retry.

The same ``reports.jobs`` service as the reports page: ``start_job`` checks the role (a study report or the data
export and a patient casebook need the export permission: investigators and data managers), writes the EXPORT audit event and
dispatches the build; ``open_download`` checks the role, the state and the stored SHA-256 and writes the DOWNLOAD
audit event. A download answers with the checksum in ``ETag``, ``Digest`` and ``Repr-Digest``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.problems import ApiProblem
from api.serializers import StrictSerializerMixin
from endpoints.models import Job
from enrollment.models import Patient
from reports import jobs
from reports.views import _parse_cutoff, _visible_jobs
from sabr_trial.roles import Perm

TAG = "Reports and exports"
MEDIA_TYPES = {".pdf": "application/pdf", ".zip": "application/zip"}


class JobSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    finished = serializers.BooleanField(source="is_finished", read_only=True)
    error = serializers.SerializerMethodField(help_text="The reason of a failed build (its first line).")
    size = serializers.IntegerField(source="file_size", read_only=True)
    duration_s = serializers.FloatField(read_only=True, allow_null=True)
    download = serializers.SerializerMethodField(help_text="Where to download the file once the job is done.")

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "kind_label",
            "state",
            "state_label",
            "stage",
            "progress",
            "finished",
            "error",
            "user",
            "data_cutoff",
            "patient",
            "snapshot",
            "retry_of",
            "created_at",
            "started_at",
            "finished_at",
            "sha256",
            "size",
            "duration_s",
            "download",
        ]
        read_only_fields = fields

    def get_error(self, obj: Job) -> str:
        return obj.error.splitlines()[0] if obj.error else ""

    def get_download(self, obj: Job) -> str | None:
        if obj.state != Job.State.DONE:
            return None
        request = self.context.get("request")
        path = f"/api/v1/jobs/{obj.pk}/download/"
        return request.build_absolute_uri(path) if request is not None else path


class JobStartInput(StrictSerializerMixin, serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Job.Kind.choices,
        help_text="report: study report PDF; export: data export zip (both: export permission); "
        "casebook: one patient's casebook PDF.",
    )
    cutoff = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Data cut-off (default today; EC-G1: not in the future).",
    )
    patient = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**31 - 1,
        help_text="casebook only: the patient id.",
    )


def _job_for(request: Request, pk: int) -> Job:
    """The browser's rule: 404 when absent, 403 unless it is the user's own job or the user may export."""
    jobs.expire_lost_jobs(requeue=False)
    job = get_object_or_404(Job.objects.select_related("user", "patient", "snapshot"), pk=pk)
    if not jobs.can_see(request.user, job):
        raise PermissionDenied(_("This build is someone else's and your role does not allow exports."))
    return job


def _accepted(request: Request, job: Job) -> Response:
    response = Response(
        JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
    )
    response["Location"] = request.build_absolute_uri(f"/api/v1/jobs/{job.pk}/")
    return response


class JobList(generics.GenericAPIView):
    """Builds the user may see (all of them with the export permission, else the user's own), newest first.

    ``POST`` starts one (202 Accepted): poll ``GET /jobs/{id}/`` for the stage and percent, then download.
    """

    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW, "post": Perm.VIEW}  # per kind, below
    serializer_class = JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        qs = _visible_jobs(self.request.user)
        params = self.request.query_params
        for name, allowed in (("kind", Job.Kind.values), ("state", Job.State.values)):
            value = params.get(name)
            if value:
                if value not in allowed:
                    raise ValidationError({name: _("Unknown value '%(v)s'.") % {"v": value[:40]}})
                qs = qs.filter(**{name: value})
        return qs.order_by("-created_at", "-id")

    @extend_schema(
        tags=[TAG],
        operation_id="job_list",
        responses=JobSerializer(many=True),
        parameters=[
            OpenApiParameter("kind", str, enum=list(Job.Kind.values)),
            OpenApiParameter("state", str, enum=list(Job.State.values)),
        ],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(JobSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        tags=[TAG], operation_id="job_start", request=JobStartInput, responses={202: JobSerializer}
    )
    def post(self, request: Request) -> Response:
        body = JobStartInput(data=request.data)
        body.is_valid(raise_exception=True)
        kind = body.validated_data["kind"]
        if not jobs.can_start(request.user, kind):
            raise PermissionDenied(_("Your role does not allow this export."))
        day = body.validated_data.get("cutoff")
        cutoff, problem = _parse_cutoff(day.isoformat() if day else "")
        errors: dict[str, str] = {}
        if problem or cutoff is None:
            errors["cutoff"] = problem
        patient = None
        patient_id = body.validated_data.get("patient")
        if kind == Job.Kind.CASEBOOK:
            patient = Patient.objects.filter(pk=patient_id or 0).first()
            if patient is None:
                errors["patient"] = _("Choose the patient whose casebook to print.")
        elif patient_id is not None:
            errors["patient"] = _("Only a casebook is built for one patient.")
        if errors:
            raise ValidationError(errors)
        assert cutoff is not None
        job = jobs.start_job(user=request.user, kind=kind, cutoff=cutoff, patient=patient)
        return _accepted(request, job)


class JobDetail(APIView):
    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW}

    @extend_schema(tags=[TAG], operation_id="job_read", responses=JobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(JobSerializer(_job_for(request, pk), context={"request": request}).data)


def _not_ready(job: Job) -> ApiProblem:
    message = _("This build is %(state)s: there is no file to download yet.") % {
        "state": job.get_state_display().lower()
    }
    if job.state == Job.State.FAILED:
        message = _("This build failed: there is no file. Retry it.")
    return ApiProblem(
        409,
        message,
        title=_("Conflict"),
        errors=[{"field": None, "message": message, "code": "not_ready"}],
        extra={"state": job.state, "progress": job.progress},
    )


class JobDownload(APIView):
    """The finished file (PDF or zip), with its SHA-256 in ``ETag``, ``Digest`` and ``Repr-Digest`` (audited)."""

    required_perms: ClassVar[dict[str, str]] = {"get": Perm.VIEW}

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        renderer = self.get_renderers()[0]  # the file is sent as is; an error is problem+json
        return renderer, renderer.media_type

    @extend_schema(
        tags=[TAG],
        operation_id="job_download",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="Study report or casebook"
            ),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="Data export"),
        },
    )
    def get(self, request: Request, pk: int) -> Any:
        job = _job_for(request, pk)
        if job.state != Job.State.DONE:
            raise _not_ready(job)
        try:
            path = jobs.open_download(job=job, user=request.user)
        except FileNotFoundError as exc:
            raise ApiProblem(404, str(exc), title=_("Not found")) from None
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=path.name,
            content_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        )
        digest = base64.b64encode(binascii.unhexlify(job.sha256)).decode()
        response["ETag"] = f'"{job.sha256}"'
        response["Digest"] = f"sha-256={digest}"
        response["Repr-Digest"] = f"sha-256=:{digest}:"
        return response


class JobRetry(APIView):
    """Start a failed build again (the same kind, cut-off and patient), as the page's retry button."""

    required_perms: ClassVar[dict[str, str]] = {"post": Perm.VIEW}  # start_job checks the kind's permission

    @extend_schema(tags=[TAG], operation_id="job_retry", request=None, responses={202: JobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        job = _job_for(request, pk)
        if job.state != Job.State.FAILED:
            message = _("Only a failed build can be retried.")
            raise ApiProblem(
                409,
                message,
                title=_("Conflict"),
                errors=[{"field": None, "message": message, "code": "illegal_transition"}],
                extra={"state": job.state},
            )
        return _accepted(request, jobs.retry_job(job=job, user=request.user))
