from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_groups(sender: Any, **kwargs: Any) -> None:
    """Keep the role groups in step after every migrate or flush (test databases too)."""
    from django.contrib.auth.models import Group, Permission

    from sabr_trial.models import NumberSequence
    from sabr_trial.roles import sync_role_groups

    sync_role_groups(Group, Permission)
    for name in ("screening", "study"):
        NumberSequence.objects.get_or_create(name=name)


class SabrTrialConfig(AppConfig):
    name = "sabr_trial"
    verbose_name = _("EDC core")

    def ready(self) -> None:
        from sabr_trial import checks, dbtypes  # noqa: F401  (checks registers the CRF system checks)

        dbtypes.connect()
        post_migrate.connect(_sync_groups, sender=self, dispatch_uid="sabr_trial_sync_groups")
        from django.contrib.auth.signals import user_logged_in

        from sabr_trial.preferences import remember_at_login

        user_logged_in.connect(remember_at_login, dispatch_uid="sabr_trial_language_at_login")
        from sabr_trial.middleware import touched_at_login

        user_logged_in.connect(touched_at_login, dispatch_uid="sabr_trial_session_touched_at_login")
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed

        from sabr_trial.roles import forget_roles

        m2m_changed.connect(
            forget_roles, sender=get_user_model().groups.through, dispatch_uid="sabr_trial_roles"
        )
        _wire_access_generation()
        _wire_batch_reads()
        _wire_bulk_writes()
        _register_data_management()
        _register_outbox()


def _wire_access_generation() -> None:
    """Any change of who may do what moves the access generation (``sabr_trial.authcache``): users, groups,
    permissions, the two-factor roles, OTP devices, and the links between them."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db.models.signals import m2m_changed, post_delete, post_save
    from django_otp.models import Device

    from sabr_trial import authcache
    from sabr_trial.models import TwoFactorRole

    user_model = get_user_model()
    for model in (user_model, Group, Permission, TwoFactorRole, *_concrete_subclasses(Device)):
        for signal in (post_save, post_delete):
            signal.connect(
                authcache.bump, sender=model, dispatch_uid=f"sabr_access_{signal}_{model.__name__}"
            )
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(
            authcache.bump, sender=through, dispatch_uid=f"sabr_access_m2m_{through.__name__}"
        )


def _forget_batch_reads(sender: Any, instance: Any = None, **kwargs: Any) -> None:
    from sabr_trial import pipeline

    pipeline.forget_reads(sender, instance)


def _wire_batch_reads() -> None:
    """A row saved drops the reads of its model that a batch keeps (``pipeline.batch_read``). Not ``post_delete``:
    a listener for every model would turn every fast delete into a select and a delete; CRF rows are never deleted,
    and the child rows that the assessment grid deletes are not read through ``batch_read``."""
    from django.db.models.signals import post_save

    post_save.connect(_forget_batch_reads, dispatch_uid="sabr_batch_reads_post_save")


def _write_pending_first(sender: Any, **kwargs: Any) -> None:
    from sabr_trial import services

    services.write_pending(sender)


def _wire_bulk_writes() -> None:
    """A history row or an audit event written one by one inside a bulk batch (``pipeline.batch(bulk=True)``) lets
    the rows the batch keeps for that table go first, so every table's ids stay in the order of the events."""
    from django.db.models.signals import pre_save
    from simple_history.signals import pre_create_historical_record

    from sabr_trial.models import AuditEvent

    pre_create_historical_record.connect(_write_pending_first, dispatch_uid="sabr_bulk_history_first")
    pre_save.connect(_write_pending_first, sender=AuditEvent, dispatch_uid="sabr_bulk_audit_first")


def _concrete_subclasses(model: type) -> list[type]:
    found = []
    for sub in model.__subclasses__():
        if not sub._meta.abstract:  # type: ignore[attr-defined]
            found.append(sub)
        found.extend(_concrete_subclasses(sub))
    return found


def _deliver_edit_checks(payload: dict[str, Any]) -> None:
    from sabr_trial.tasks import run_edit_checks

    run_edit_checks.apply_async(args=[payload["patient_id"]], retry=False)


def _deliver_crf_changed(payload: dict[str, Any]) -> None:
    from sabr_trial.crf import registry

    # The listeners hear which row changed (model and pk), not the row: reading it again cost a query per save,
    # and a deleted row changes the endpoints' inputs too.
    registry.changed(registry.get(payload["slug"]).model, payload["pk"])


def _register_outbox() -> None:
    """The write pipeline's after-commit work (``sabr_trial.services._after_commit``), delivered by the outbox."""
    from sabr_trial import outbox
    from sabr_trial.services import CRF_CHANGED_TOPIC, EDIT_CHECKS_TOPIC

    outbox.register(EDIT_CHECKS_TOPIC, _deliver_edit_checks)
    outbox.register(CRF_CHANGED_TOPIC, _deliver_crf_changed)


def _register_data_management() -> None:
    """Queries in the navigation (with the count waiting for the user's role), the study lock for data managers,
    and the data-management panel of the casebook (open queries, signature, lock, SDV, audit trail)."""
    from sabr_trial.crf import CasebookPanel, NavItem, registry
    from sabr_trial.roles import Perm

    def badge(request: Any) -> int | None:
        from sabr_trial.queries import open_count_for_user

        return open_count_for_user(request.user)

    def panel(request: Any, patient: Any) -> dict[str, Any] | None:
        from sabr_trial.selectors import casebook_dm_context

        return casebook_dm_context(request.user, patient)

    registry.register_nav(
        NavItem(order=50, label=_("Queries"), url_name="query_list", perm=Perm.VIEW, badge=badge)
    )
    registry.register_nav(
        NavItem(order=90, label=_("Study lock"), url_name="study_lock", perm=Perm.LOCK, menu=True)
    )
    registry.register_nav(
        NavItem(
            order=95, label=_("Two-factor sign-in"), url_name="two_factor_roles", perm=Perm.MANAGE, menu=True
        )
    )
    registry.register_panel(
        CasebookPanel(order=1, template="sabr_trial/casebook_panel.html", context=panel, cached=True)
    )
