"""The public page of a tender's candidates (中标候选人公示) and result (中标结果公告): anyone may
read it, signed in or not (实施条例 54). It shows what ``award`` published; it decides nothing."""

from __future__ import annotations

from django.template.response import TemplateResponse

from award.models import Award, Publicity
from bidding.models import Lot
from common.errors import NotFound


def yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen // 100:,}.{fen % 100:02d}"


def publicity_page(request, lot_id: int):
    lot = Lot.objects.select_related("project").published().filter(pk=lot_id).first()
    if lot is None:
        raise NotFound()
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
    return TemplateResponse(request, "frontend/publicity.html", {
        "lot": lot, "publicity": publicity, "candidates": candidates, "rejections": rejections,
        "award": award, "winner": winner, "award_price": yuan(award.price_fen) if award else "",
        "objections": ({"open": publicity.objections.filter(state="open").count(),
                        "answered": publicity.objections.filter(state="answered").count()}
                       if publicity else None)})
