"""The API's own records: who issued and revoked each personal token (the token itself is knox's hashed row)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TokenRecord(models.Model):
    """One personal API token as issued by a data manager; kept after revocation or expiry (audit)."""

    token_key = models.CharField(
        _("token key"), max_length=25, db_index=True, help_text=_("First characters only.")
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(_("label"), max_length=100, blank=True, help_text=_("What the token is for."))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("API token record")
        verbose_name_plural = _("API token records")

    def __str__(self) -> str:
        return f"{self.token_key}… ({self.user})"
