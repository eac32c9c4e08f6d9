"""Serializers: one ModelSerializer per registered CRF (built from its CrfSpec), patients, lesions, CTCAE, tokens.

A CRF serializer parses JSON (types, dates, unknown fields) and describes the schema; the CRF's own form then applies
its rules and the write goes through ``sabr_trial.services`` (see ``api.writes``), so a refusal is the browser's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adverse_events.models import AdverseEvent, CtcaeTerm
from assessments.models import LesionResult, NewLesion, TumourAssessment
from enrollment.models import Patient
from sabr_trial.crf import CrfBase, CrfSpec
from sabr_trial.templatetags.ruletext import text as rule_text

LIFECYCLE_READ = [
    "id",
    "patient",
    "status",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "submitted_at",
    "verified_at",
    "verified_by",
    "signed_at",
    "signed_by",
    "locked_at",
    "locked_by",
]
USER_FIELDS = {"created_by", "updated_by", "verified_by", "signed_by", "locked_by"}


class StrictSerializerMixin:
    """Refuse fields the resource does not have (a typo must not be silently dropped)."""

    #: Names accepted in a body besides the serializer's writable fields.
    extra_accepted: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Send a JSON object with the form's fields.")]}, code="invalid"
            )
        writable = {name for name, f in self.fields.items() if not f.read_only}  # type: ignore[attr-defined]
        unknown = sorted(set(data) - writable - set(self.extra_accepted))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [_("Unknown field: this resource has no field '%(f)s'.") % {"f": name}]
                    for name in unknown
                },
                code="unknown_field",
            )
        return super().to_internal_value(data)  # type: ignore[misc]


class PatientSerializer(serializers.ModelSerializer):
    locked = serializers.SerializerMethodField()

    class Meta:
        model = Patient
        fields = ["id", "screening_number", "study_number", "registration_date", "locked", "created_at"]
        read_only_fields = fields

    def get_locked(self, obj: Patient) -> bool:
        return bool(obj.locked_at)


class PatientScreenSerializer(StrictSerializerMixin, serializers.Serializer):
    screening_date = serializers.DateField(
        help_text="Date of the screening visit (EC-G1: not in the future)."
    )


class PatientRegisterSerializer(StrictSerializerMixin, serializers.Serializer):
    registration_date = serializers.DateField(
        help_text="Date of registration (EC-RG-1: consent and confirmed eligibility; EC-RG-2: within 28 days)."
    )


class TransitionSerializer(StrictSerializerMixin, serializers.Serializer):
    password = serializers.CharField(
        required=False,
        write_only=True,
        allow_blank=True,
        style={"input_type": "password"},
        help_text="sign: re-enter your password (21 CFR 11.200).",
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="lock (optional) / unlock (required): reason.",
    )


class CtcaeTermSerializer(serializers.ModelSerializer):
    code = serializers.IntegerField(source="meddra_code", read_only=True)
    allowed_grades = serializers.SerializerMethodField()
    grades = serializers.SerializerMethodField()

    class Meta:
        model = CtcaeTerm
        fields = ["code", "term", "soc", "is_other_specify", "allowed_grades", "grades", "definition"]
        read_only_fields = fields

    def get_allowed_grades(self, obj: CtcaeTerm) -> list[int]:
        return list(obj.allowed_grades())

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "nullable": True}})
    def get_grades(self, obj: CtcaeTerm) -> dict[str, str | None]:
        return {str(g): text for g, text in enumerate(obj.grade_texts(), start=1)}


class CrfTypeSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    section = serializers.CharField()
    many = serializers.BooleanField()
    writable = serializers.BooleanField()
    fields = serializers.ListField(child=serializers.CharField())
    derived_fields = serializers.ListField(child=serializers.CharField())
    #: The missing-data codes each field allows (issue 19 item 9): {"ecog": ["ND", "UNK"]}.
    missing_codes = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


# --- CRFs ------------------------------------------------------------------------------------------------------


def form_field_names(spec: CrfSpec) -> list[str]:
    """The model fields the CRF's form lets a user enter, in form order (the API writes exactly those)."""
    model = spec.model
    names: list[str] = list(getattr(getattr(spec.form_class, "Meta", None), "fields", None) or [])
    out = []
    for name in names:
        try:
            f = model._meta.get_field(name)
        except Exception:
            continue
        if getattr(f, "editable", False) and name not in CrfBase.LIFECYCLE_FIELDS:
            out.append(name)
    return out


def derived_field_names(spec: CrfSpec) -> list[str]:
    """Model fields shown but never entered: derived values (responses, sums, IMDC...) and editable extras."""
    writable = set(form_field_names(spec))
    out = []
    for f in spec.model._meta.get_fields():
        if not getattr(f, "concrete", False) or f.name in writable or f.name in CrfBase.LIFECYCLE_FIELDS:
            continue
        if f.name == "status_before_lock" or f.name.endswith("_ptr") or f.auto_created:
            continue
        out.append(f.name)
    return out


class PatientScopedPK(serializers.PrimaryKeyRelatedField):
    """A link to another CRF row: only rows of the same patient exist for this field."""

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        patient = self.context.get("patient") if hasattr(self, "context") else None
        if patient is not None and any(f.name == "patient" for f in qs.model._meta.get_fields()):
            qs = qs.filter(patient=patient)
        return qs


class RangeDateTimeField(serializers.DateTimeField):
    """A date-time whose conversion to the site's time zone cannot overflow into a 500 (year 1, year 9999)."""

    default_error_messages = {
        "overflow": gettext_lazy(
            "This date-time is outside the range the study accepts (1900-01-01 to today, EC-G1)."
        )
    }

    def enforce_timezone(self, value: Any) -> Any:
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")

    def to_representation(self, value: Any) -> Any:
        try:
            return super().to_representation(value)
        except OverflowError:  # a stored value clamped by sabr_trial.dbtypes: show it in UTC
            return value.isoformat()


class CrfSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """Base of the per-CRF serializers; ``change_reason`` is the form's reason for change."""

    extra_accepted = ("change_reason",)
    serializer_related_field = PatientScopedPK
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: RangeDateTimeField,
    }

    #: Derived rule texts stored as message ids with parameters (``ruletext``): shown in the request's language.
    RULE_TEXT_FIELDS = frozenset(
        {
            "measurability_rule",
            "target_rule",
            "nontarget_rule",
            "new_lesion_rule",
            "deciding_rule",
            "irecist_rule",
            "derivation_error",
        }
    )

    def get_validators(self) -> list[Any]:
        return []  # constraints are checked by the model's full_clean() in the service, with its message

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        for name in self.RULE_TEXT_FIELDS & data.keys():
            data[name] = rule_text(data[name])
        return data

    def to_internal_value(self, data: Any) -> Any:
        # JSON null for an optional text or choice answer means "blank", as an empty form field does.
        if isinstance(data, dict):
            data = {
                k: ("" if v is None and getattr(self.fields.get(k), "allow_blank", False) else v)
                for k, v in data.items()
            }
        return super().to_internal_value(data)

    def build_relational_field(self, field_name: str, relation_info: Any) -> Any:
        klass, kwargs = super().build_relational_field(field_name, relation_info)
        if relation_info.related_model is CtcaeTerm:
            kwargs.pop("queryset", None)
            return serializers.SlugRelatedField, {
                **kwargs,
                "slug_field": "meddra_code",
                "queryset": CtcaeTerm.objects.all(),
                "help_text": "MedDRA LLT code of the CTCAE v5.0 term (look it up at /api/v1/ctcae-terms/).",
            }
        if relation_info.related_model is get_user_model():
            if kwargs.get("read_only"):
                kwargs.pop("queryset", None)
                return serializers.SlugRelatedField, {**kwargs, "slug_field": "username", "allow_null": True}
            # An entered person (e.g. who obtained consent): by username; the form limits whom it accepts.
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True)
            return serializers.SlugRelatedField, {**kwargs, "slug_field": "username"}
        return klass, kwargs


class NewLesionCodesField(serializers.ListField):
    """Links to new lesions (form 9) by their codes, ``["N1", "N2"]``: a code names one lesion of the patient
    across its time points (the form turns it into the record that first showed it, and refuses an unknown code)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(max_length=4))
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "New lesions treated, by code (N1, N2, ...: the codes of the patient's tumour assessments, "
            "new_lesions). For radiotherapy or surgery this or lesions_treated is required (EC-SU-1); each was "
            "first seen on or before start_date (EC-SU-4).",
        )
        super().__init__(**kwargs)

    def to_representation(self, data: Any) -> list[str]:
        rows = data.all() if hasattr(data, "all") else data
        return sorted(getattr(row, "code", row) for row in rows)


_SERIALIZERS: dict[str, type[CrfSerializer]] = {}


def crf_serializer(spec: CrfSpec) -> type[CrfSerializer]:
    """The ModelSerializer of one registered CRF (built once)."""
    if spec.slug not in _SERIALIZERS:
        _SERIALIZERS[spec.slug] = _build_crf_serializer(spec)
    return _SERIALIZERS[spec.slug]


def _build_crf_serializer(spec: CrfSpec) -> type[CrfSerializer]:
    writable = form_field_names(spec)
    derived = derived_field_names(spec)
    fields = LIFECYCLE_READ + writable + [d for d in derived if d not in LIFECYCLE_READ]
    meta = type(
        "Meta",
        (),
        {
            "model": spec.model,
            "fields": fields,
            "read_only_fields": [f for f in fields if f not in writable],
            "ref_name": None,
        },
    )
    name = "".join(part.capitalize() for part in spec.slug.replace("-", "_").split("_")) + "Crf"
    attrs: dict[str, Any] = {"Meta": meta, "__module__": __name__}
    for user_field in USER_FIELDS | {f for f in derived if _is_user_fk(spec.model, f)}:
        if user_field in fields:
            attrs[user_field] = serializers.SlugRelatedField(
                slug_field="username", read_only=True, allow_null=True
            )
    if "missing_codes" in fields:
        meta.read_only_fields = [f for f in meta.read_only_fields if f != "missing_codes"]  # type: ignore[attr-defined]
        attrs["missing_codes"] = serializers.DictField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            help_text="Fields left empty on purpose, each with its missing-data code (ND, UNK, NA, NASK): "
            '{"ecog": "ND"}. Only the codes the CRF allows on a field (GET /api/v1/crfs/) are accepted.',
        )
    attrs["change_reason"] = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Reason for change: required once the form is submitted (the same rule as the web form).",
    )
    if "new_lesions_treated" in fields:
        attrs["new_lesions_treated"] = NewLesionCodesField()
    if spec.model is AdverseEvent:
        attrs["ctcae_term_name"] = serializers.CharField(source="ctcae_term.term", read_only=True)
        meta.fields = [*fields, "ctcae_term_name"]  # type: ignore[attr-defined]
    if spec.model is TumourAssessment:
        attrs["results"] = LesionResultSerializer(many=True, read_only=True)
        attrs["new_lesions"] = NewLesionReadSerializer(many=True, read_only=True)
        meta.fields = [*fields, "results", "new_lesions"]  # type: ignore[attr-defined]
    meta.fields = [*meta.fields, "change_reason"]  # type: ignore[attr-defined]
    return type(name, (CrfSerializer,), attrs)


def for_output(spec: CrfSpec, qs: Any) -> Any:
    """``qs`` with what ``crf_serializer(spec)`` shows read in a fixed number of queries, whatever the rows
    (issue 20): the patient, the users of the lifecycle, the CTCAE term, the links to other rows and, for a time
    point, its lesion results and new lesions."""
    fields = set(crf_serializer(spec).Meta.fields)  # type: ignore[attr-defined]
    joins, many = ["patient"], []
    for f in spec.model._meta.get_fields():
        if f.name not in fields or not getattr(f, "concrete", False):
            continue
        if f.many_to_many:
            many.append(f.name)
        elif f.is_relation and (_is_user_fk(spec.model, f.name) or f.name == "ctcae_term"):
            joins.append(f.name)
    if spec.model is TumourAssessment:
        many += ["results__lesion", "new_lesions"]
    return qs.select_related(*joins).prefetch_related(*many)


def _is_user_fk(model: type[models.Model], name: str) -> bool:
    f = model._meta.get_field(name)
    return bool(getattr(f, "related_model", None) is get_user_model())


class LesionResultSerializer(serializers.ModelSerializer):
    lesion_code = serializers.CharField(source="lesion.lesion_code", read_only=True)

    class Meta:
        model = LesionResult
        fields = [
            "lesion",
            "lesion_code",
            "result_status",
            "value_mm",
            "split_merge",
            "merged_into",
            "nontarget_state",
            "further_increase",
            "infield_progression",
            "lf_confirmation",
            "value_used_mm",
            "local_failure",
            "lesion_nadir_mm",
        ]
        read_only_fields = fields


class NewLesionReadSerializer(serializers.ModelSerializer):
    class Meta:
        model = NewLesion
        fields = [
            "code",
            "organ",
            "laterality",
            "location_text",
            "detected_by",
            "first_seen_date",
            "unequivocal",
            "pet_baseline",
            "ct_confirmed",
            "new_value_mm",
            "present",
        ]
        read_only_fields = fields


class LesionRowInput(StrictSerializerMixin, serializers.Serializer):
    """One grid row of a tumour assessment: one registered lesion at this time point (EC-TA-1)."""

    lesion = serializers.IntegerField(help_text="Id of the registered lesion.")
    result_status = serializers.ChoiceField(
        choices=LesionResult.Status.choices, required=False, allow_blank=True
    )
    value_mm = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True)
    split_merge = serializers.ChoiceField(choices=LesionResult.SplitMerge.choices, required=False)
    merged_into = serializers.IntegerField(required=False, allow_null=True)
    nontarget_state = serializers.ChoiceField(
        choices=LesionResult.NonTargetState.choices, required=False, allow_blank=True
    )
    further_increase = serializers.ChoiceField(
        choices=[("Y", "Y"), ("N", "N")], required=False, allow_blank=True
    )
    infield_progression = serializers.ChoiceField(
        choices=[("Y", "Y"), ("N", "N")], required=False, allow_blank=True
    )
    lf_confirmation = serializers.ChoiceField(
        choices=LesionResult.LfConfirmation.choices, required=False, allow_blank=True
    )


class NewLesionInput(StrictSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = NewLesion
        fields = NewLesionReadSerializer.Meta.fields

    def get_validators(self) -> list[Any]:
        return []


class TumourAssessmentInput(StrictSerializerMixin, serializers.ModelSerializer):
    """The time point (form 9 header) with its lesion rows and new lesions; the grid page's rules apply."""

    extra_accepted = ("change_reason",)
    results = LesionRowInput(many=True, required=False)
    new_lesions = NewLesionInput(many=True, required=False)
    change_reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)

    class Meta:
        model = TumourAssessment
        fields = [
            "imaging_done",
            "not_done_reason",
            "scan_date_first",
            "scan_date_last",
            "visit_date",
            "modality",
            "clinical_deterioration",
            "clinically_stable",
            "investigator_response",
            "results",
            "new_lesions",
            "change_reason",
        ]

    def get_validators(self) -> list[Any]:
        return []


class EligibilityInput(StrictSerializerMixin, serializers.Serializer):
    extra_accepted = ("change_reason",)
    answers = serializers.DictField(
        child=serializers.ChoiceField(choices=[("Y", "Y"), ("N", "N"), ("", "")]),
        help_text='Criterion id -> Y/N, e.g. {"INC01": "Y"} (the checklist of the current protocol version).',
    )
    change_reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)


class TokenIssueSerializer(StrictSerializerMixin, serializers.Serializer):
    username = serializers.CharField(help_text="The user the token acts as (with that user's role).")
    label = serializers.CharField(required=False, allow_blank=True, max_length=100)
    expiry_days = serializers.IntegerField(required=False, min_value=1, max_value=365, default=90)


class TokenRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    token_key = serializers.CharField()
    username = serializers.CharField(source="user.username")
    label = serializers.CharField()
    issued_at = serializers.DateTimeField()
    issued_by = serializers.CharField(source="issued_by.username")
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.SerializerMethodField()

    def get_active(self, obj: Any) -> bool:
        return bool(getattr(obj, "active", False))


class TokenIssuedSerializer(TokenRecordSerializer):
    token = serializers.CharField(help_text="Shown once: only its hash is stored.")


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyObjectField(serializers.JSONField):
    pass
