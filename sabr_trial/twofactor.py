"""Optional two-factor sign-in (TOTP through django-otp) that a data manager can require for a role (issue 16).

After the password (Django's login page, django-axes lockout as before), a user who has an authenticator, or whose
role requires one, is taken to :func:`verify` before any other page: enter the six-digit code (django-otp throttles
wrong codes), or enrol an authenticator first (the secret as text and an ``otpauth://`` URI, confirmed by a code).
The session then counts as verified (``django_otp.login``). API tokens are issued by a data manager and are not
affected: the second factor guards the interactive sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from sabr_trial.models import AuditEvent, TwoFactorRole
from sabr_trial.roles import Perm, Role, has_perm

#: URL names reachable before the second factor (sign out, the code page itself, the language switch).
OPEN_URL_NAMES = {"login", "logout", "set_language", "two_factor"}


def required_for(user: Any) -> bool:
    """True if one of the user's study roles requires two-factor sign-in."""
    from sabr_trial.authcache import access_of

    return access_of(user).two_factor_role


def needs_code(user: Any) -> bool:
    """True if this signed-in session must still enter a one-time code."""
    if not getattr(user, "is_authenticated", False) or user.is_verified():
        return False
    from sabr_trial.authcache import access_of

    return required_for(user) or access_of(user).has_device


class TwoFactorRequiredMiddleware:
    """Send a signed-in but unverified user who needs a code to the code page (pages only; the API has tokens)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        match = request.resolver_match
        if request.path.startswith(("/api/", "/static/")) or (match and match.url_name in OPEN_URL_NAMES):
            return None
        if needs_code(request.user):
            return redirect(f"{reverse('two_factor')}?next={request.get_full_path()}")
        return None


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=gettext_lazy("Six-digit code from your authenticator"),
        regex=r"^\s*\d{6}\s*$",
        max_length=12,
        error_messages={"invalid": gettext_lazy("Enter the six digits your authenticator shows.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.GET.get("next") or request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


def verify(request: HttpRequest) -> HttpResponse:
    """Enter the code of a confirmed authenticator, or enrol one (a TOTP device confirmed by its first code)."""
    user = request.user
    confirmed = list(devices_for_user(user, confirmed=True))
    device = None
    if not confirmed:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name=_("Authenticator"), confirmed=False
        )
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip()
        candidates = confirmed or [device]
        matched = next((d for d in candidates if d is not None and d.verify_token(code)), None)
        if matched is None:
            form.add_error(
                "code", _("This code is wrong or expired: enter the code your authenticator shows now.")
            )
        else:
            with transaction.atomic():
                if not matched.confirmed:
                    matched.confirmed = True
                    matched.save(update_fields=["confirmed"])
                    AuditEvent.objects.create(
                        user=user,
                        action=AuditEvent.Action.ROLE_CHANGE,
                        description=f"user {user.get_username()}: two-factor authenticator enrolled",
                    )
                otp_login(request, matched)
            return redirect(_next_url(request))
    return render(
        request,
        "sabr_trial/two_factor.html",
        {
            "form": form,
            "enrol": device,
            "secret": _base32(device) if device else "",
            "required": required_for(user),
            "next": _next_url(request),
        },
    )


def _base32(device: TOTPDevice) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode("ascii")


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=gettext_lazy("Roles that sign in with a one-time code"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


def roles(request: HttpRequest) -> HttpResponse:
    """A data manager chooses the roles that must sign in with a second factor; each change is audited."""
    if not has_perm(request.user, Perm.MANAGE):
        raise PermissionDenied
    current = sorted(TwoFactorRole.objects.values_list("role", flat=True))
    form = RolesForm(request.POST or None, initial={"roles": current})
    if request.method == "POST" and form.is_valid():
        chosen = sorted(form.cleaned_data["roles"])
        if chosen != current:
            with transaction.atomic():
                TwoFactorRole.objects.exclude(role__in=chosen).delete()
                for role in chosen:
                    TwoFactorRole.objects.update_or_create(role=role, defaults={"required_by": request.user})
                text = f"two-factor sign-in required for: {', '.join(current) or '-'} -> {', '.join(chosen) or '-'}"
                AuditEvent.objects.create(
                    user=request.user,
                    action=AuditEvent.Action.ROLE_CHANGE,
                    description=text[:300],
                    reason=text,
                )
            messages.success(request, _("Two-factor sign-in is now required for the roles ticked."))
        return redirect("two_factor_roles")
    return render(request, "sabr_trial/two_factor_roles.html", {"form": form})
