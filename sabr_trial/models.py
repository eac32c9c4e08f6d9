"""Cross-cutting EDC records: audit events, e-signatures, number sequences, task heartbeats.

The abstract CRF base lives in ``sabr_trial.crf``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from sabr_trial.crf import CrfBase, CrfStatus
from sabr_trial.roles import PERMISSION_LABELS, Role


class CrfLocked(PermissionDenied):
    """The CRF, its patient or the whole study is locked: every change is refused."""


class AuditEvent(models.Model):
    """One event that is not a row change: a lifecycle transition, a signature, an export, a download."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        SUBMIT = "submit", _("Submitted")
        VERIFY = "verify", _("Source-data verified")
        SIGN = "sign", _("Signed")
        SIGNATURE_VOID = "signature_void", _("Signature voided")
        SIGN_FAILED = "sign_failed", _("Signature refused")
        LOCK = "lock", _("Locked")
        UNLOCK = "unlock", _("Unlocked")
        REGISTER = "register", _("Registered")
        EXPORT = "export", _("Exported")
        DOWNLOAD = "download", _("Downloaded")
        STALE_REFUSED = "stale_refused", _("Stale save refused")
        QUERY_RAISE = "query_raise", _("Query raised")
        QUERY_ANSWER = "query_answer", _("Query answered")
        QUERY_CLOSE = "query_close", _("Query closed")
        QUERY_REOPEN = "query_reopen", _("Query re-opened")
        CASEBOOK_SIGN = "casebook_sign", _("Casebook signed")
        CASEBOOK_VOID = "casebook_void", _("Casebook signature voided")
        PATIENT_LOCK = "patient_lock", _("Patient locked")
        PATIENT_UNLOCK = "patient_unlock", _("Patient unlocked")
        STUDY_LOCK = "study_lock", _("Study locked")
        STUDY_UNLOCK = "study_unlock", _("Study unlocked")
        ROLE_CHANGE = "role_change", _("Role changed")
        USER_CREATE = "user_create", _("User created")
        RECOMPUTE = "recompute", _("Endpoints recomputed")
        IMPORT = "import", _("Study data imported")

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    patient = models.ForeignKey(
        "enrollment.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("content_type", "object_id")
    crf_version = models.PositiveIntegerField(null=True, blank=True)
    description = models.CharField(_("description"), max_length=300)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        permissions = PERMISSION_LABELS

    def __str__(self) -> str:
        from sabr_trial.templatetags.ruletext import text  # a system event's description is a message id

        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}: {text(self.description)}"


class Signature(models.Model):
    """An investigator's e-signature of one CRF version (21 CFR 11.50: name, date and time, meaning)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    patient = models.ForeignKey("enrollment.Patient", on_delete=models.PROTECT, related_name="signatures")
    crf_version = models.PositiveIntegerField()
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=150)
    signed_at = models.DateTimeField(auto_now_add=True)
    meaning = models.CharField(max_length=300)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-signed_at"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.signer_name} {self.signed_at:%Y-%m-%d %H:%M}: {self.meaning}"


class NumberSequence(models.Model):
    """A gap-free counter (screening and study numbers), incremented under a row lock."""

    name = models.CharField(max_length=40, unique=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.last_value}"


class TaskHeartbeat(models.Model):
    """Written by the heartbeat task: proves that a worker reaches the database."""

    token = models.CharField(max_length=64, unique=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.token


# --- Data management: queries, casebook signatures, the study lock ------------------------------------------------


class Query(models.Model):
    """A data query on one CRF row (or one field of it), with its thread of messages.

    Raised by a data manager or monitor (``Perm.RAISE_QUERY``) or by an automatic edit check (``rule_id`` set,
    ``raised_by`` empty); answered by a coordinator or investigator (``Perm.ANSWER_QUERY``); closed or re-opened by
    the raiser's roles. A system query is unique per rule, row and field (``system_key``): re-running the checks
    never duplicates it.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")

    patient = models.ForeignKey("enrollment.Patient", on_delete=models.PROTECT, related_name="queries")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    field_name = models.CharField(_("field"), max_length=80, blank=True)
    text = models.TextField(_("query"))
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    query_status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    rule_id = models.CharField(_("edit check"), max_length=20, blank=True)
    system_key = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)
    crf_version = models.PositiveIntegerField(_("form version when raised"), null=True, blank=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    raised_at = models.DateTimeField(_("raised"), auto_now_add=True, db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    auto_closed = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        verbose_name = _("query")
        verbose_name_plural = _("queries")
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["query_status", "raised_at"]),
        ]

    def __str__(self) -> str:
        from sabr_trial.templatetags.ruletext import text  # an edit check's text is a message id (ruletext)

        return f"Q{self.pk} {self.get_query_status_display()}: {text(self.text)[:60]}"

    @property
    def is_system(self) -> bool:
        return bool(self.rule_id)


class QueryMessage(models.Model):
    """One message of a query's thread: raise, answer (explanation or correction), close, re-open, system note."""

    class Kind(models.TextChoices):
        RAISE = "raise", _("Raised")
        ANSWER = "answer", _("Answered")
        CORRECTION = "correction", _("Corrected")
        CLOSE = "close", _("Closed")
        REOPEN = "reopen", _("Re-opened")
        SYSTEM = "system", _("System")

    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    text = models.TextField(blank=True)
    crf_version = models.PositiveIntegerField(null=True, blank=True)
    changes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class CasebookSignature(models.Model):
    """An investigator's e-signature of a whole patient casebook (21 CFR 11.50: name, date and time, meaning).

    ``forms`` records every CRF row and version signed; any later change to one of them voids the signature.
    """

    patient = models.ForeignKey(
        "enrollment.Patient", on_delete=models.PROTECT, related_name="casebook_signatures"
    )
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=150)
    signed_at = models.DateTimeField(auto_now_add=True)
    meaning = models.CharField(max_length=300)
    forms = models.JSONField(default=list)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-signed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.signer_name} {self.signed_at:%Y-%m-%d %H:%M}: {self.meaning}"


class StudyLock(models.Model):
    """One lock of the whole study database (before analysis). Active while ``unlocked_at`` is empty."""

    locked_at = models.DateTimeField(auto_now_add=True)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"), blank=True)
    unlocked_at = models.DateTimeField(null=True, blank=True)
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unlock_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-locked_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["unlocked_at"],
                condition=models.Q(unlocked_at__isnull=True),
                name="one_active_study_lock",
            )
        ]

    def __str__(self) -> str:
        return f"Study lock {self.locked_at:%Y-%m-%d %H:%M}"

    @classmethod
    def active(cls) -> StudyLock | None:
        return cls.objects.filter(unlocked_at__isnull=True).first()


def held_lock(instance: CrfBase, *, sdv_under_lock: bool = False) -> str:
    """Name the lock that holds this CRF row in the database now (study, casebook, then form), or "" when none does.

    One query for all three (a save asked up to five). ``sdv_under_lock``: the casebook lock is not counted (SDV of
    a locked casebook's form allowed by the study's policy).
    """
    from django.db import connection
    from django.utils.translation import gettext as gettext_now

    model = type(instance)
    with connection.cursor() as cursor:
        cursor.execute(_held_lock_sql(model), [instance.pk, CrfStatus.LOCKED.value, instance.patient_id])
        row = cursor.fetchone()
    if row is None:  # no such patient: the row cannot be saved anyway; the study lock still speaks first
        study, casebook, form = StudyLock.objects.filter(unlocked_at__isnull=True).exists(), None, False
    else:
        study, casebook, form = bool(row[0]), row[1], bool(row[2])
    if study:
        return gettext_now("The study database is locked for analysis: no change is possible.")
    if casebook is not None and not sdv_under_lock:
        return gettext_now("This patient's casebook is locked by data management: no change is possible.")
    if form:
        return gettext_now("This form is locked by data management: no change is possible.")
    return ""


#: model -> the SQL of ``held_lock`` for its rows, written once per process (the ORM built it on every save).
_HELD_LOCK_SQL: dict[type[models.Model], str] = {}


def _held_lock_sql(model: type[models.Model]) -> str:
    """One row: is a study lock active, the patient's casebook lock time, is the row locked (parameters: the row's
    id, the locked status, the patient's id; a new row's id is NULL, which no row has)."""
    sql = _HELD_LOCK_SQL.get(model)
    if sql is None:
        from django.db import connection

        qn = connection.ops.quote_name
        patient_model = model._meta.get_field("patient").related_model
        sql = _HELD_LOCK_SQL[model] = (
            f"SELECT EXISTS(SELECT 1 FROM {qn(StudyLock._meta.db_table)} "
            f"WHERE {qn(StudyLock._meta.get_field('unlocked_at').column)} IS NULL), "
            f"p.{qn(patient_model._meta.get_field('locked_at').column)}, "  # type: ignore[union-attr]
            f"EXISTS(SELECT 1 FROM {qn(model._meta.db_table)} WHERE {qn(model._meta.pk.column)} = %s "
            f"AND {qn(model._meta.get_field('status').column)} = %s) "
            f"FROM {qn(patient_model._meta.db_table)} p "  # type: ignore[union-attr]
            f"WHERE p.{qn(patient_model._meta.pk.column)} = %s"  # type: ignore[union-attr]
        )
    return sql


@receiver(pre_save, dispatch_uid="sabr_trial_refuse_locked_crf_save")
def refuse_locked_crf_save(
    sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: object
) -> None:
    """Second line of defence behind the services: no path (admin, shell, import, a forgotten ``save()``) writes a
    CRF row while the study, the patient or the row itself is locked. Only the lock/unlock transitions pass.

    A service that has just read the locks of this row in this transaction (:func:`held_lock`, marked by
    ``_locks_read``) is not asked again: the mark is used once, by this save."""
    if raw or not isinstance(instance, CrfBase) or getattr(instance, "_lock_transition", False):
        return
    if instance.__dict__.pop("_locks_read", False):
        return
    message = held_lock(instance, sdv_under_lock=getattr(instance, "_sdv_under_lock", False))
    if message:
        raise CrfLocked(message)


class OutboxMessage(models.Model):
    """One piece of after-commit work, written in the transaction of the change that needs it (``sabr_trial.outbox``).

    The row exists if and only if the change committed. It is delivered right after the commit; when delivery
    fails (the broker or the mail server is down) it stays pending and the periodic sweep delivers it later.
    """

    topic = models.CharField(max_length=100)
    key = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    #: Set when one deliverer takes the row; a deliverer that dies leaves it to expire (then the sweep takes it).
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], name="outbox_pending_idx", condition=models.Q(sent_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.key} ({'sent' if self.sent_at else 'pending'})"


class UserPreference(models.Model):
    """A user's own settings: the interface language, remembered across sessions and devices."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference", verbose_name=_("user")
    )
    language = models.CharField(
        _("interface language"),
        max_length=10,
        choices=settings.LANGUAGES,
        help_text=_("Pages, messages and the PDFs you build are in this language."),
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user} · {self.language}"


class TwoFactorRole(models.Model):
    """A study role whose members sign in with a one-time code (TOTP, django-otp) after their password.

    A data manager chooses the roles (``sabr_trial.twofactor``); a user of such a role without an authenticator yet
    is taken to enrol one before any other page.
    """

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, unique=True)
    required_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", editable=False
    )
    required_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("role requiring two-factor sign-in")

    def __str__(self) -> str:
        return str(self.get_role_display())
