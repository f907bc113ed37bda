"""Sign-in events for the security log (core/security_log.py): logins, failed logins
and lockouts (django-axes). Connected in AccountsConfig.ready()."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from core.security_log import security_event


@receiver(user_logged_in, dispatch_uid="security_log_login")
def log_login(sender, request, user, **kwargs):
    security_event("login", request=request, user=user, outcome="allowed")


@receiver(user_logged_out, dispatch_uid="security_log_logout")
def log_logout(sender, request, user, **kwargs):
    security_event("logout", request=request, user=user or "", outcome="allowed")


@receiver(user_login_failed, dispatch_uid="security_log_login_failed")
def log_login_failed(sender, credentials, request=None, **kwargs):
    # Django has already replaced the password in ``credentials`` with stars; only the
    # username as typed is kept.
    security_event(
        "login_failed",
        request=request,
        user=str(credentials.get("username", "")),
        outcome="refused",
    )


@receiver(user_locked_out, dispatch_uid="security_log_lockout")
def log_lockout(sender, request, username, ip_address, **kwargs):
    security_event(
        "lockout",
        request=request,
        user=str(username or ""),
        outcome="refused",
        detail={"ip_address": ip_address or ""},
    )
