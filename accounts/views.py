"""Sign-in and sign-out pages, the lockout answer, and session tracking."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from audit.log import log_action
from common.actor import Actor, client_ip
from common.errors import ErrorCode, PlatformError
from realtime.notify import disconnect_user

from .models import UserSession


def lockout_response(request, credentials=None, *args, **kwargs) -> HttpResponse:
    """django-axes calls this when a username/address pair is locked out."""
    message = _("Too many failed sign-in attempts. Try again in 15 minutes.")
    if request.path.startswith("/api/"):
        return JsonResponse(PlatformError(ErrorCode.LOCKED_OUT, message).as_dict(), status=429)
    return TemplateResponse(request, "frontend/login.html",
                            {"form": None, "locked_out": True, "lockout_message": message},
                            status=429).render()


class LoginView(auth_views.LoginView):
    template_name = "frontend/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        messages.info(request, _("You have signed out."))
        return super().post(request, *args, **kwargs)


@receiver(user_logged_in)
def track_session(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    if request.session.session_key is None:
        request.session.save()
    with transaction.atomic():
        UserSession.objects.update_or_create(
            session_key=request.session.session_key,
            defaults={"user": user, "ip": client_ip(request) or None,
                      "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]})
        log_action("accounts.session.signed_in", actor=Actor.of(user, client_ip(request)), obj=user,
                   data={"session": UserSession.objects.get(session_key=request.session.session_key).pk})


@receiver(user_logged_out)
def untrack_session(sender, request, user, **kwargs):
    if request is None or user is None:
        return
    with transaction.atomic():
        UserSession.objects.filter(session_key=request.session.session_key).delete()
        log_action("accounts.session.signed_out", actor=Actor.of(user, client_ip(request)), obj=user)
        # Sockets authenticated by this user's sessions close on every worker.
        disconnect_user(user.pk)


@receiver(user_login_failed)
def audit_failed_login(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get("username", ""))[:150]
    if request is not None and not getattr(request, "axes_locked_out", False):
        # A password was checked and failed: it counts against the account's and the address's
        # budgets (a locked-out attempt checked nothing).
        from .throttle import record_failure

        record_failure(username, client_ip(request))
    with transaction.atomic():
        log_action("accounts.session.sign_in_failed",
                   actor=Actor(ip=client_ip(request) if request is not None else ""),
                   object_type="accounts.user", object_id=username)
