"""The leads' API (docs/collusion.md):

- ``PUT  /lots/{id}/collusion/tender-documents/{name}`` the host files a tender document (body);
- ``POST /lots/{id}/collusion/analyses`` run the lot's analysis (host or supervisor, after the
  announcement); ``GET /lots/{id}/collusion/leads`` the latest run's leads (supervisors; the lot's
  committee, bidders by their session codes);
- ``POST /collusion/leads/{id}/decision`` the committee's decision and reason;
- ``GET  /collusion/leads`` every lead across tenders (supervisors); ``POST /collusion/history``
  the co-bidding graph over the platform's history;
- ``GET/POST /collusion/cases``, ``PATCH /collusion/cases/{id}`` the supervisors' cases.
"""

from __future__ import annotations

from typing import Optional

from ninja import Router, Schema, Status

from accounts.models import Organisation
from common import clock
from common.actor import Actor
from common.canonical import format_time

from . import actions
from .access import access_lot_leads, require_supervisor
from .integrity import run_is_intact
from .models import AnalysisRun, Case, Lead

router = Router(tags=["collusion"])


class DecisionIn(Schema):
    decision: str
    reason: str


class CaseIn(Schema):
    leads: list[int]
    title: str
    note: str = ""


class CasePatch(Schema):
    status: Optional[str] = None
    note: Optional[str] = None


def _names(leads) -> dict[int, str]:
    ids = {o for x in leads for o in x.organisations}
    return dict(Organisation.objects.filter(pk__in=ids).values_list("pk", "name"))


def run_view(run: AnalysisRun) -> dict:
    return {"id": run.pk, "kind": run.kind, "lot": run.lot_id, "started_at": format_time(run.started_at),
            "seconds": str(run.seconds), "leads_sha256": run.leads_sha256, "settings": run.settings,
            "problems": run.problems, "bidders": len(run.bidders), "intact": run_is_intact(run)}


def lot_leads(user, lot_id) -> dict:
    lot, role, session = access_lot_leads(user, lot_id)
    run = AnalysisRun.objects.filter(lot=lot, kind=AnalysisRun.Kind.TENDER).first()
    if run is None:
        return {"run": None, "leads": [], "advisory": True}
    leads = list(run.leads.all())
    names = _names(leads)
    codes = None
    if role == "committee":
        codes = dict(session.bidders.values_list("bidder_org_id", "code"))
    return {"run": run_view(run), "advisory": True,
            "leads": [actions.lead_view(x, names=names, codes=codes, blind=bool(session and session.blind))
                      for x in leads]}


@router.put("/lots/{lot_id}/collusion/tender-documents/{name}", response={201: dict},
            summary="File a tender document the analysis treats as boilerplate (host)")
def put_tender_document(request, lot_id: int, name: str):
    doc = actions.store_tender_document(request.user, Actor.from_request(request), lot_id, name=name,
                                        data=request.body, now=clock.now())
    return Status(201, {"name": doc.name, "sha256": doc.sha256, "size": doc.size})


@router.post("/lots/{lot_id}/collusion/analyses", response={201: dict},
             summary="Run the lot's collusion analysis (host or supervisor, after the announcement)")
def post_analysis(request, lot_id: int):
    run = actions.run_analysis(request.user, Actor.from_request(request), lot_id, now=clock.now())
    # how many leads, never which: the host runs the analysis but does not read the leads
    return Status(201, {"run": run_view(run), "leads": run.leads.count()})


@router.get("/lots/{lot_id}/collusion/leads", response=dict, summary="The lot's leads (advisory)")
def get_lot_leads(request, lot_id: int):
    return lot_leads(request.user, lot_id)


@router.post("/collusion/leads/{lead_id}/decision", response=dict, summary="The committee's decision on a lead")
def post_decision(request, lead_id: int, body: DecisionIn):
    lead = actions.decide_lead(request.user, Actor.from_request(request), lead_id, decision=body.decision,
                               reason=body.reason, now=clock.now())
    return {"id": lead.pk, "decision": lead.decision, "reason": lead.reason}


@router.get("/collusion/leads", response=dict, summary="Every lead across tenders (supervisors)")
def get_leads(request, signal: str = "", strength: str = "", limit: int = 200):
    require_supervisor(request.user)
    leads = Lead.objects.all().order_by("-id")
    if signal:
        leads = leads.filter(signal=signal)
    if strength:
        leads = leads.filter(strength=strength)
    leads = list(leads[:max(1, min(limit, 1000))])
    names = _names(leads)
    return {"leads": [actions.lead_view(x, names=names) for x in leads]}


@router.post("/collusion/history", response={201: dict}, summary="The co-bidding graph across tenders (supervisors)")
def post_history(request):
    run = actions.analyse_history(request.user, Actor.from_request(request), now=clock.now())
    leads = list(run.leads.all())
    names = _names(leads)
    return Status(201, {"run": run_view(run), "leads": [actions.lead_view(x, names=names) for x in leads]})


def case_view(case: Case) -> dict:
    return {"id": case.pk, "title": case.title, "status": case.status, "note": case.note,
            "leads": sorted(case.leads.values_list("pk", flat=True)), "opened_at": format_time(case.opened_at),
            "updated_at": format_time(case.updated_at)}


@router.get("/collusion/cases", response=dict, summary="The supervisors' cases")
def get_cases(request):
    require_supervisor(request.user)
    return {"cases": [case_view(c) for c in Case.objects.all()[:500]]}


@router.post("/collusion/cases", response={201: dict}, summary="Open a case from leads (supervisors)")
def post_case(request, body: CaseIn):
    case = actions.open_case(request.user, Actor.from_request(request), lead_ids=body.leads, title=body.title,
                             note=body.note, now=clock.now())
    return Status(201, case_view(case))


@router.patch("/collusion/cases/{case_id}", response=dict, summary="Move a case or change its note (supervisors)")
def patch_case(request, case_id: int, body: CasePatch):
    case = actions.update_case(request.user, Actor.from_request(request), case_id, status=body.status,
                               note=body.note, now=clock.now())
    return case_view(case)
