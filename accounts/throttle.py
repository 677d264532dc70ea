"""Sign-in throttling that no shared address can turn into a lockout for everyone (docs/operations.md).

Three budgets of failed sign-ins, each a token bucket (``common.ratelimit``: Redis shared by every
worker when ``REDIS_URL`` is set, else this process's memory):

1. **one account from one address** — django-axes (``AXES_LOCKOUT_PARAMETERS`` = username *and*
   address): ``LOGIN_FAILURE_LIMIT`` (5) failures lock that pair for ``LOGIN_COOLOFF_MINUTES`` (15).
   Five wrong passwords for alice from an address lock alice at that address only: bob signs in
   from it as before, and alice from anywhere else;
2. **one account from every address** — ``LOGIN_ACCOUNT_FAILURES`` (20) failures in a burst, then
   ``LOGIN_ACCOUNT_FAILURES_PER_HOUR`` (60): an attacker with many addresses gets no more guesses
   at one account than that. Addresses from which the user signed in before (the audit log's
   ``accounts.session.signed_in``) are exempt — there only the pair's lockout applies — so such an
   attack does not keep the user out at their usual place either;
3. **one address for every account** — ``LOGIN_ADDRESS_FAILURES`` (100) in a burst, then
   ``LOGIN_ADDRESS_FAILURES_PER_HOUR`` (600): one address spraying many accounts is slowed down,
   and far above what the people behind one office's address fail at.

Over budget 2 or 3 an attempt is answered 429 ``rate_limited`` (with the seconds to wait) before
the password is checked, so it counts nowhere and tells nothing. Failures are counted after the
password check (``record_failure``, from the ``user_login_failed`` signal); attempts that axes
refused as locked out are not (they checked nothing).
"""

from __future__ import annotations

import math

from django.conf import settings

from common import ratelimit
from common.errors import ErrorCode, PlatformError


def _account(username: str) -> tuple[str, float, float]:
    return (f"login:account:{username.lower()}", settings.LOGIN_ACCOUNT_FAILURES_PER_HOUR / 3600,
            settings.LOGIN_ACCOUNT_FAILURES)


def _address(ip: str) -> tuple[str, float, float]:
    return f"login:address:{ip}", settings.LOGIN_ADDRESS_FAILURES_PER_HOUR / 3600, settings.LOGIN_ADDRESS_FAILURES


def known_address(username: str, ip: str) -> bool:
    """Has this user signed in from ``ip`` before (the audit log says so)?"""
    from audit.models import AuditEntry

    from .models import User

    if not ip:
        return False
    user_id = User.objects.filter(username=username).values_list("pk", flat=True).first()
    return user_id is not None and AuditEntry.objects.filter(
        action="accounts.session.signed_in", actor_id=user_id, ip=ip).exists()


def check_sign_in(username: str, ip: str) -> None:
    """Raise ``rate_limited`` when the account's or the address's budget of failures is spent."""
    waits = []
    if ip:
        key, rate, burst = _address(ip)
        waits.append(ratelimit.take(key, rate=rate, burst=burst, dry=True))
    if username:
        key, rate, burst = _account(username)
        wait = ratelimit.take(key, rate=rate, burst=burst, dry=True)
        if wait and not known_address(username, ip):
            waits.append(wait)
    wait = max(waits, default=0)
    if wait:
        raise PlatformError(ErrorCode.RATE_LIMITED, "too many failed sign-ins",
                            details={"retry_after_seconds": math.ceil(wait)})


def record_failure(username: str, ip: str) -> None:
    if ip:
        key, rate, burst = _address(ip)
        ratelimit.take(key, rate=rate, burst=burst)
    if username:
        key, rate, burst = _account(username)
        ratelimit.take(key, rate=rate, burst=burst)


def throttled_response(request, error: PlatformError):
    """An account's or an address's budget of failed sign-ins is spent: 429 with Retry-After."""
    from django.http import JsonResponse
    from django.template.response import TemplateResponse
    from django.utils.translation import gettext as _

    seconds = error.details.get("retry_after_seconds", 60)
    message = _("Too many failed sign-in attempts for this account or from this address. "
                "Try again in %(seconds)d seconds.") % {"seconds": seconds}
    headers = {"Retry-After": str(seconds)}
    if request.path.startswith("/api/"):
        return JsonResponse(PlatformError(ErrorCode.RATE_LIMITED, message, details=error.details).as_dict(),
                            status=429, headers=headers)
    response = TemplateResponse(request, "frontend/login.html",
                                {"form": None, "locked_out": True, "lockout_message": message},
                                status=429, headers=headers)
    return response.render()


class SignInThrottleMiddleware:
    """Checks budgets 2 and 3 before a sign-in form (the site's and the admin's) is processed."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths = None

    def paths(self) -> set[str]:
        if self._paths is None:
            from django.urls import reverse

            self._paths = {reverse(settings.LOGIN_URL), reverse("admin:login")}
        return self._paths

    def __call__(self, request):
        if request.method == "POST" and request.path in self.paths():
            from common.actor import client_ip

            try:
                check_sign_in(str(request.POST.get("username", ""))[:150], client_ip(request))
            except PlatformError as error:
                return throttled_response(request, error)
        return self.get_response(request)
