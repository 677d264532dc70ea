"""The host's evaluation set-up of an opened lot, on one page: draw the committee (open the draw,
commit, publish the pool snapshot, reveal, compute: ``views_draws``), choose the venues
(the members are seated by region), create the session, follow it and reach the report. Thin: each
POST parses a form and calls the same action as the API (``evaluation.actions_draw``,
``evaluation.actions_setup``); a refusal goes back to the form with the typed data."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.html import format_html
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from bidding.access import access_lot
from bidding.lifecycle import Status
from common import clock
from common.actor import Actor
from common.errors import NotFound, PlatformError
from evaluation import actions_draw, actions_redraw, actions_setup
from evaluation import state as st
from evaluation.models import Draw, EvaluationSession
from evaluation.workflow import Call

from . import views_draws
from .forms_evaluation import DrawForm, ItemFormSet, RedrawForm, SessionForm
from .views import _error_into

# A lot reaches its evaluation once its opening closes.
READY = (Status.EVALUATING, Status.COMPLETED)


def _call(request) -> Call:
    return Call(user=request.user, role="host", actor=Actor.from_request(request), now=clock.now())


def _draw_context(draw: Draw | None, request) -> dict:
    if draw is None:
        return {}
    view = actions_draw.draw_view(draw, names=True, call=_call(request))  # the read is audited
    return {"draw": draw, "draw_view": view}


@login_required
def evaluation_setup(request, lot_id: int):
    lot = access_lot(request.user, lot_id, manage=True)
    draw = actions_draw.current_draw(lot)
    session = EvaluationSession.objects.filter(lot=lot).order_by("-created_at").first()
    # Nothing is drawn or created before the opening closes: the page says why instead.
    action = request.POST.get("action") if request.method == "POST" and lot.status in READY else None
    draw_form = DrawForm(request.POST if action == "draw" else None)
    committee = [(i, i) for i in (draw.committee if draw else [])]
    settings = lot.evaluation_settings or {}
    session_form = SessionForm(request.POST if action == "session" else None, committee=committee,
                               initial={"criteria": "\n".join(settings.get("criteria") or [])})
    items = ItemFormSet(request.POST if action == "session" else None, prefix="items",
                        initial=settings.get("items") or [{"id": "T1", "category": "technical",
                                                           "kind": "subjective", "step": "0.5"}])
    if action in views_draws.HOST_ACTIONS and draw is not None:
        views_draws.run_step(request, draw.pk, action)
        return redirect("frontend:evaluation_setup", lot_id=lot.pk)
    if action == "draw" and draw_form.is_valid():
        data = draw_form.cleaned_data
        try:
            actions_draw.do_open_draw(lot, quotas=data["quotas"], required=data["required_specialties"],
                                      min_size=data["min_size"], reveal_minutes=data["reveal_minutes"],
                                      call=_call(request))
        except PlatformError as error:
            _error_into(draw_form, error)
        else:
            messages.success(request, _("The draw is opened: the platform has committed; now the supervisor "
                                        "on duty and you commit to your own random values."))
            return redirect("frontend:evaluation_setup", lot_id=lot.pk)
    drawn = draw is not None and draw.state == Draw.State.DRAWN
    if action == "session" and drawn and session_form.is_valid() & items.is_valid():
        data = session_form.cleaned_data
        rows = [{k: str(v) for k, v in f.cleaned_data.items() if k != "DELETE"}
                for f in items.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            actions_setup.check_create_session(
                request.user, draw_id=draw.pk, main_venue_id=data["main_venue"].pk,
                sub_venue_ids=[v.pk for v in data["sub_venues"]], items=rows, criteria=data["criteria"],
                blind=data["blind"], tenderer_reps=data["tenderer_reps"], k_percent=data["k_percent"],
                call=_call(request))
        except PlatformError as error:
            _error_into(session_form, error)
        else:
            messages.success(request, _("The evaluation session is created; the venues can sign their members in."))
            return redirect("frontend:evaluation_setup", lot_id=lot.pk)
    context = {"lot": lot, "ready": lot.status in READY, "draw": draw, "session": session, "drawn": drawn,
               "draw_form": draw_form, "session_form": session_form, "items": items,
               "redraw_form": RedrawForm(), "redraws": actions_redraw.lot_redraws(lot),
               "may_redraw": draw is not None and session is None and draw.state in (Draw.State.DRAWN,
                                                                                     Draw.State.LAPSED)
               and not draw.redraws.filter(approved__isnull=True).exists(),
               "approved_redraw": draw is not None and draw.redraws.filter(approved=True).exists()}
    if draw is not None:
        context["steps"] = views_draws.steps_context(request, draw)
    if drawn and session is None:
        context.update(_draw_context(draw, request))
        # A person's name and region code are data beside the checkbox (translate="no").
        names = {m["expert_id"]: format_html('<span translate="no">{}（{}）</span>', m["name"], m["region"])
                 for m in context["draw_view"]["committee"]}
        session_form.fields["tenderer_reps"].choices = [(i, names.get(i, i)) for i, _n in committee]
        chosen = _chosen_venues(session_form)
        context["plan"] = actions_setup.seating_plan(draw, chosen) if chosen else None
    if session is not None:
        context.update(_follow(session))
    return TemplateResponse(request, "frontend/evaluation_setup.html", context)


def _chosen_venues(form: SessionForm) -> list[int]:
    if form.is_bound and form.is_valid():
        return [form.cleaned_data["main_venue"].pk, *[v.pk for v in form.cleaned_data["sub_venues"]]]
    return []


def _follow(session: EvaluationSession) -> dict:
    """What the host follows: the step, each venue and its members' arrival, their scoring (bidders
    scored, as the venues show it), the report and its signatures."""
    members = list(session.members.select_related("venue", "expert__user").order_by("venue_id", "seat"))
    progress, report = st.section_progress(session), st.section_report(session) or {"signatures": {}}
    for m in members:
        m.scored, m.signature = progress.get(m.code, 0), report["signatures"].get(m.code, "none")
    venues = [{"venue": sv.venue, "main": sv.is_main, "members": [m for m in members if m.venue_id == sv.venue_id]}
              for sv in session.venues.select_related("venue").order_by("-is_main", "venue_id")]
    return {"step": session.state.get("step"), "seating": venues, "report_ready": bool(session.report_sha256)}



@login_required
def evaluation_follow(request, lot_id: int):
    """The follow panel alone (the set-up page polls it: evaluation_follow.js). The host is in no
    venue room (``evaluation.access.session_role``), so the page asks again every few seconds."""
    lot = access_lot(request.user, lot_id, manage=True)
    session = EvaluationSession.objects.filter(lot=lot).order_by("-created_at").first()
    if session is None:
        raise NotFound("no evaluation session for this lot yet")
    return TemplateResponse(request, "frontend/_evaluation_follow.html", {"lot": lot, "session": session,
                                                                           **_follow(session)})
