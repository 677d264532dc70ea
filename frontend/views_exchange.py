"""The outbox's dead letters for administrators (docs/data-exchange.md, "Delivery"): the pushes given
up after ``EXCHANGE_MAX_ATTEMPTS`` failures, with their last error, and the retry that puts one back
in the queue — the same ``exchange.delivery.retry`` the API calls, audited there. The page decides
nothing."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from common import clock
from common.access import has_cap
from common.actor import Actor
from common.errors import ErrorCode, PlatformError
from common.labels import error_text
from common.roles import Cap
from exchange import delivery
from exchange.models import Delivery

PAGE = 200


def event_labels() -> dict[str, str]:
    return {"tender.published": _("Tender published"), "tender.amended": _("Tender amended"),
            "tender.opened": _("Bids announced at the opening"), "award.candidates": _("Candidates published"),
            "award.objection_raised": _("Objection raised"), "award.objection_answered": _("Objection answered"),
            "award.objection_overdue": _("Objection not answered in time"), "award.made": _("Award made")}


@login_required
@require_http_methods(["GET", "POST"])
def dead_letters(request):
    if not has_cap(request.user.role, Cap.EXCHANGE_MANAGE):
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only administrators see the outbox's dead letters."))
    error, status = "", 200
    if request.method == "POST":
        try:
            delivery.retry(request.user, Actor.from_request(request), request.POST.get("delivery", ""),
                           now=clock.now())
            return HttpResponseRedirect(reverse("frontend:dead_letters") + "?retried=" +
                                        request.POST.get("delivery", ""))
        except PlatformError as exc:
            error, status = error_text(exc), exc.http_status
    labels = event_labels()
    rows = [{"d": d, "kind": labels.get(d.event.kind, d.event.kind)}
            for d in Delivery.objects.filter(state=Delivery.State.DEAD).select_related("event")
            .order_by("event_id")[:PAGE]]
    retried = request.GET.get("retried", "")
    return TemplateResponse(request, "frontend/dead_letters.html", {
        "rows": rows, "error": error, "retried": retried if retried.isdigit() else "",
        "total": Delivery.objects.filter(state=Delivery.State.DEAD).count(), "page": PAGE}, status=status)
