"""The public page of a tender's candidates (中标候选人公示) and result (中标结果公告): anyone may
read it, signed in or not (实施条例 54). It shows what ``award`` published; it decides nothing."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from award import actions
from award.models import Award, Objection, Publicity
from bidding.access import can_manage_lot
from bidding.models import Lot
from common import clock
from common.access import role_of
from common.actor import Actor
from common.errors import ErrorCode, NotFound, PlatformError
from common.labels import error_text


def yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen // 100:,}.{fen % 100:02d}"


def _post(request, lot) -> None:
    """The host's and the bidders' forms; every change goes through ``award.actions``."""
    if not request.user.is_authenticated:
        raise PlatformError(ErrorCode.UNAUTHENTICATED, "sign in")
    user, actor, now, form = request.user, Actor.from_request(request), clock.now(), request.POST.get("form")
    if form == "publish":
        days = request.POST.get("days", "")
        actions.publish_candidates(user, actor, lot.pk, days=int(days) if days.isdigit() else days, now=now)
    elif form == "object":
        actions.raise_objection(user, actor, lot.pk, grounds=request.POST.get("grounds", ""),
                                contact=request.POST.get("contact", ""), now=now)
    elif form == "answer":
        actions.answer_objection(user, actor, request.POST.get("objection"), answer=request.POST.get("answer", ""),
                                 now=now)
    elif form == "award":
        actions.make_award(user, actor, lot.pk, winner=request.POST.get("winner", ""),
                           reason=request.POST.get("reason", ""), now=now)
    else:
        raise PlatformError(ErrorCode.BAD_REQUEST, "unknown form")


@require_http_methods(["GET", "POST"])
def publicity_page(request, lot_id: int):
    lot = Lot.objects.select_related("project").published().filter(pk=lot_id).first()
    if lot is None:
        raise NotFound()
    error, status = "", 200
    if request.method == "POST":
        try:
            _post(request, lot)
            return HttpResponseRedirect(reverse("frontend:publicity", args=[lot.pk]))
        except PlatformError as exc:
            error, status = error_text(exc), exc.http_status
    publicity = Publicity.objects.filter(lot=lot).first()
    award = Award.objects.filter(lot=lot).first()
    candidates, rejections = [], []
    if publicity is not None:
        candidates = [{**c, "price": yuan(c["price_fen"]), "evaluated": yuan(c.get("evaluated_fen"))}
                      for c in sorted(publicity.content["candidates"], key=lambda c: c["rank"])]
        rejections = publicity.content["rejections"]
    winner = None
    if award is not None:
        winner = next((c for c in candidates if c["code"] == award.winner_code), None)
    user = request.user
    manage = user.is_authenticated and can_manage_lot(user, lot)
    open_objections = (list(Objection.objects.filter(publicity=publicity, state="open").order_by("id"))
                       if (manage or role_of(user) == "supervisor") and publicity else [])
    # the ticker's reminder (award.deadlines): to the host and the supervisors; the objector sees its own
    overdue = [o for o in open_objections if o.overdue_at]
    if publicity and role_of(user) == "bidder":
        overdue = list(Objection.objects.filter(publicity=publicity, state="open", raised_by=user,
                                                overdue_at__isnull=False).order_by("id"))
    return TemplateResponse(request, "frontend/publicity.html", {
        "error": error, "manage": manage, "open_objections": open_objections if manage else [], "overdue": overdue,
        "is_objector": role_of(user) == "bidder",
        "can_object": bool(publicity and not award and user.is_authenticated and role_of(user) == "bidder"),
        "lot": lot, "publicity": publicity, "candidates": candidates, "rejections": rejections,
        "award": award, "winner": winner, "award_price": yuan(award.price_fen) if award else "",
        "objections": ({"open": publicity.objections.filter(state="open").count(),
                        "answered": publicity.objections.filter(state="answered").count()}
                       if publicity else None)}, status=status)
