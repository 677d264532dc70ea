"""The collusion leads' pages: the supervisors' list across tenders with their cases, and the
committee's advisory page for its session's lot. Server-rendered forms; every change goes through
``collusion.actions`` (audited there). The pages own no analysis."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from collusion import actions
from collusion.access import require_supervisor
from collusion.api import lot_leads
from collusion.models import Case, Lead
from common import clock
from common.actor import Actor
from common.errors import PlatformError
from common.labels import error_text

from .collusion_evidence import evidence_rows


def _pretty(lead: dict) -> dict:
    names = {(str(b["organisation"]) if "organisation" in b else b["code"]): b.get("name") or b.get("code", "")
             for b in lead["bidders"]}
    return {**lead, "evidence_rows": evidence_rows(lead["evidence"], names),
            "evidence_json": json.dumps(lead["evidence"], ensure_ascii=False, indent=1)}


@login_required
@require_http_methods(["GET", "POST"])
def supervisor_leads(request):
    require_supervisor(request.user)
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("form") == "case":
                ids = [int(x) for x in request.POST.getlist("lead") if x.isdigit()]
                actions.open_case(request.user, Actor.from_request(request), lead_ids=ids,
                                  title=request.POST.get("title", ""), note=request.POST.get("note", ""),
                                  now=clock.now())
            elif request.POST.get("form") == "status":
                actions.update_case(request.user, Actor.from_request(request), request.POST.get("case"),
                                    status=request.POST.get("status") or None, note=None, now=clock.now())
            return HttpResponseRedirect(reverse("frontend:collusion_leads"))
        except PlatformError as exc:
            error = error_text(exc)
    signal, strength = request.GET.get("signal", ""), request.GET.get("strength", "")
    leads = Lead.objects.select_related("lot", "lot__project").order_by("-id")
    if signal:
        leads = leads.filter(signal=signal)
    if strength:
        leads = leads.filter(strength=strength)
    leads = list(leads[:300])
    from accounts.models import Organisation

    names = dict(Organisation.objects.filter(pk__in={o for x in leads for o in x.organisations})
                 .values_list("pk", "name"))
    rows = [{**_pretty(actions.lead_view(x, names=names)), "lot_obj": x.lot} for x in leads]
    cases = list(Case.objects.prefetch_related("leads")[:100])
    return TemplateResponse(request, "frontend/collusion_leads.html", {
        "rows": rows, "cases": cases, "error": error, "signal": signal, "strength": strength,
        "signals": sorted({x.signal for x in Lead.objects.all()[:1000]} | {signal} - {""}),
        "statuses": Case.Status.values, "strengths": ["weak", "moderate", "strong"]}, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def committee_leads(request, session_id: int):
    from evaluation.access import access_session

    session, role = access_session(request.user, session_id)
    error = ""
    if request.method == "POST":
        try:
            actions.decide_lead(request.user, Actor.from_request(request), request.POST.get("lead"),
                                decision=request.POST.get("decision", ""), reason=request.POST.get("reason", ""),
                                now=clock.now())
            return HttpResponseRedirect(reverse("frontend:collusion_committee", args=[session.pk]))
        except PlatformError as exc:
            error = error_text(exc)
    data = lot_leads(request.user, session.lot_id)
    return TemplateResponse(request, "frontend/collusion_committee.html", {
        "session": session, "run": data["run"], "rows": [_pretty(x) for x in data["leads"]],
        # once the report is generated it records the decisions, and they are closed
        "can_decide": role == "expert" and not session.report_sha256, "error": error,
        "decisions": [d for d in Lead.Decision.values if d]}, status=400 if error else 200)
