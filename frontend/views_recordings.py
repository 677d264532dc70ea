"""The supervisors' recordings page (docs/media.md, "Recordings"): a tender's sealed segments, a
player (the segment converted by janus-pp-rec, served by the audit API with its access check) and
the tender's audit entries of the same span; seeking marks the entries around the moment played
(``recordings.js``). Reads only; the page owns no domain logic."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from audit.api_recordings import tender_recordings
from audit.models import AuditEntry
from bidding.models import Lot
from common.beijing import beijing
from common.errors import ErrorCode, NotFound, PlatformError
from common.labels import label
from common.roles import Cap, has_cap
from realtime.models import MediaSegment

MARGIN = timedelta(minutes=2)  # entries shown before the first segment and after the last
MAX_ENTRIES = 2000
ID_MAX = 2**63 - 1


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _tender(raw: str) -> int | None:
    if raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= ID_MAX:
        raise PlatformError(ErrorCode.BAD_REQUEST, _("The tender must be a tender's number."))
    return int(raw)


@login_required
@require_GET
def recordings(request):
    if not has_cap(request.user.role, Cap.AUDIT_READ):
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only supervisors play the recordings back."))
    tender_id = _tender(request.GET.get("tender", ""))
    tenders = list(Lot.objects.filter(pk__in=MediaSegment.objects.values("tender_id"))
                   .select_related("project").order_by("-pk")[:300])
    context = {"tenders": tenders, "tender_id": tender_id, "lot": None, "segments": [], "entries": [],
               "labels": {
                   "position": _("Playing the moment %(time)s (Beijing time)"),
                   "nearby": _("%(count)s audit entries within a minute of it"),
                   "failed": _("This segment cannot be played here (the conversion tool janus-pp-rec is missing "
                               "or the file is damaged)."),
                   "now_playing": _("Now playing: %(name)s"),
               }}
    if tender_id is not None:
        lot = Lot.objects.select_related("project").filter(pk=tender_id).first()
        if lot is None:
            raise NotFound(_("No such tender."))
        segments = tender_recordings(tender_id)
        context["lot"] = lot
        context["segments"] = [{**s, "start_ms": _ms(s["started_at"] or s["closed_at"]),
                                "started": beijing(s["started_at"]), "closed": beijing(s["closed_at"]),
                                "feed": s["name"].split("-user-")[-1].rsplit("-", 2)[0],
                                "kind_label": _("Video") if s["kind"] == "video" else _("Audio")}
                               for s in segments if s["kind"] in ("audio", "video")]
        if segments:
            first = min(s["started_at"] or s["closed_at"] for s in segments) - MARGIN
            last = max(s["closed_at"] for s in segments) + MARGIN
            entries = (AuditEntry.objects.filter(tender_id=tender_id, created_at__gte=first, created_at__lte=last)
                       .order_by("created_at", "index")[:MAX_ENTRIES])
            context["entries"] = [{"index": e.index, "at_ms": _ms(e.created_at), "at": beijing(e.created_at),
                                   "action": label("action", e.action), "code": e.action,
                                   "actor": e.actor_name or "—"} for e in entries]
    return TemplateResponse(request, "frontend/recordings.html", context)
