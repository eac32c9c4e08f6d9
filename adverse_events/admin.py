"""Read-only admin of the CTCAE dictionary for data managers (reference data, R6.5)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from adverse_events.models import CtcaeTerm


@admin.register(CtcaeTerm)
class CtcaeTermAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("term", "meddra_code", "soc", "is_other_specify", "version")
    list_filter = ("soc", "is_other_specify")
    search_fields = ("term", "=meddra_code", "soc")
    ordering = ("soc", "term")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)
