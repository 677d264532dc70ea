"""The host's set-up of a lot's evaluation, one entry point for the API and the host's pages:
authorise, take the scoring from the tender unless given, create the session in one transaction.

The draw itself is ``actions_draw``; seating is ``actions.do_create_session`` (by region, one seat
after the other at each venue). ``seating_plan`` previews that seating for a page before anything is
created, and says what would stop it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from common.errors import BadRequest
from common.wording import join_list

from . import actions
from .access import access_draw
from .models import Expert, Venue
from .workflow import Call


def check_create_session(user, *, draw_id: int, main_venue_id: int, sub_venue_ids: list[int],
                         items: list[dict[str, Any]] | None, criteria: list[str] | None, blind: bool,
                         tenderer_reps: list[str], k_percent: str, call: Call):
    """Authorise (the lot's host or an administrator) and create the session; ``items`` and
    ``criteria`` default to the tender's evaluation settings."""
    draw = access_draw(user, draw_id, manage=True)
    plan = seating_plan(draw, [main_venue_id, *[v for v in sub_venue_ids if v != main_venue_id]])
    if plan["over"]:
        raise BadRequest(_("more members than seats at: %(venues)s") % {"venues": join_list(plan["over"])},
                         details={"venues": plan["over"]})
    lot = draw.lot
    settings = lot.evaluation_settings or {}
    scoring = {"items": items if items is not None else settings.get("items"),
               "criteria": criteria if criteria is not None else settings.get("criteria")}
    with transaction.atomic():
        return actions.do_create_session(
            lot=lot, draw=draw, main_venue_id=main_venue_id, sub_venue_ids=sub_venue_ids, scoring=scoring,
            blind=blind, tenderer_reps=tenderer_reps, k_percent=k_percent, call=call)


def seating_plan(draw, venue_ids: list[int]) -> dict[str, Any]:
    """Where each drawn member would sit with these venues (the first is the main venue): per venue
    its members in seat order, and the regions of drawn experts that no chosen venue serves, and the
    venues that would hold more members than they have seats."""
    venues = {v.pk: v for v in Venue.objects.filter(pk__in=venue_ids).select_related("region")}
    by_region: dict[str, Venue] = {}
    for vid in venue_ids:
        venue = venues.get(vid)
        if venue is not None:
            by_region.setdefault(venue.region.code, venue)
    experts = {str(e.pk): e for e in Expert.objects.filter(pk__in=[int(i) for i in draw.committee])
               .select_related("region", "user")}
    seated: dict[int, list[dict[str, Any]]] = {vid: [] for vid in venue_ids if vid in venues}
    unserved: set[str] = set()
    for n, expert_id in enumerate(draw.committee, start=1):
        expert = experts[expert_id]
        venue = by_region.get(expert.region.code)
        if venue is None:
            unserved.add(expert.region.name)
            continue
        seated[venue.pk].append({"code": f"E{n}", "seat": len(seated[venue.pk]) + 1, "name": str(expert.user),
                                 "region": expert.region.name, "expert_id": expert_id})
    rows = [{"venue": venues[vid], "main": i == 0, "members": seated[vid],
             "over": len(seated[vid]) > venues[vid].seats}
            for i, vid in enumerate(v for v in venue_ids if v in venues)]
    return {"venues": rows, "unserved": sorted(unserved), "over": [r["venue"].name for r in rows if r["over"]]}
