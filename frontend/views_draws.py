"""The draw's steps from the browser (docs/draw.md): commit → snapshot → reveal → committee, and the
redraws. The host does them on the lot's evaluation set-up page, the supervisor on duty on the
supervisor's draws page. Thin: each POST parses a form and calls the same action as the API; a
refusal is said as a message. The values themselves are made and kept in the browser
(``draw_contribution.js``); the platform only ever receives the commitment, then the value."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from common import clock
from common.actor import Actor
from common.errors import ErrorCode, PlatformError
from common.labels import error_text
from evaluation import actions_draw, actions_redraw
from evaluation.access import access_draw
from evaluation.models import Draw, Redraw
from evaluation.workflow import Call

from .forms_evaluation import CommitForm, DecideRedrawForm, RedrawForm, RevealForm

HOST_ACTIONS = frozenset({"commit", "snapshot", "reveal", "finish", "redraw"})
SUPERVISOR_ACTIONS = frozenset({"commit", "reveal", "finish", "decide"})
FORMS = {"commit": CommitForm, "reveal": RevealForm, "redraw": RedrawForm, "decide": DecideRedrawForm}


def _call(request) -> Call:
    return Call(user=request.user, role="", actor=Actor.from_request(request), now=clock.now())


def _success(action: str) -> str:
    return {"commit": _("Your commitment is registered. Keep this browser: it holds your value for the reveal."),
            "snapshot": _("The pool snapshot is fixed and published; the reveal window has started."),
            "reveal": _("Your value is revealed; it stays sealed until the committee is computed."),
            "finish": _("The draw is computed from the revealed values."),
            "redraw": _("The redraw is asked for; a supervisor decides."),
            "decide": _("The decision on the redraw is recorded.")}[action]


def run_step(request, target_id: int, action: str) -> bool:
    """Run one posted step on draw (or, for ``decide``, redraw) ``target_id``; a refusal becomes an
    error message. True when the step was done."""
    form = FORMS[action](request.POST) if action in FORMS else None
    if form is not None and not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return False
    data = form.cleaned_data if form is not None else {}
    call = _call(request)
    try:
        if action == "commit":
            actions_draw.do_commit(target_id, data["commitment"].lower(), call)
        elif action == "snapshot":
            actions_draw.do_publish_snapshot(target_id, call)
        elif action == "reveal":
            actions_draw.do_reveal(target_id, data["value"].lower(), call)
        elif action == "finish":
            actions_draw.party_of(request.user, Draw.objects.select_related("lot__project").get(pk=target_id))
            actions_draw.do_finish(target_id, call)
        elif action == "redraw":
            actions_redraw.do_request_redraw(target_id, data["reason"], data["note"], call)
        else:
            actions_redraw.do_decide_redraw(target_id, data["approve"], data["note"], call)
    except PlatformError as error:
        messages.error(request, error_text(error))
        return False
    messages.success(request, _success(action))
    return True


def steps_context(request, draw: Draw) -> dict:
    """What the draw panel shows a host or a supervisor: each party's commitment and reveal, the
    viewer's own party and what it may do now."""
    try:
        party = actions_draw.party_of(request.user, draw)
    except PlatformError:
        party = None
    mine = draw.contributions.filter(party=party).first() if party else None
    now = clock.now()
    return {"draw": draw, "contributions": actions_draw.contributions_view(draw), "party": party,
            "mine": mine, "may_commit": draw.state == Draw.State.COMMITTING and party is not None and mine is None,
            "may_reveal": (draw.state == Draw.State.REVEALING and mine is not None and mine.revealed_at is None
                           and (mine.user_id in (None, request.user.pk)) and now < draw.reveal_deadline),
            "window_closed": draw.reveal_deadline is not None and now >= draw.reveal_deadline,
            "commit_form": CommitForm(), "reveal_form": RevealForm(),
            "storage_key": f"kaibiao:draw:{draw.pk}:{party}:{request.user.pk}"}


@login_required
def supervisor_draws(request):
    """The supervisor on duty's page: the draws waiting for a commitment or a reveal, and the redraws
    to decide, with every lot's redraws listed."""
    if request.user.role != "supervisor":
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only supervisors contribute to draws and decide on redraws."))
    if request.method == "POST":
        action = request.POST.get("action", "")
        target = request.POST.get("target", "")
        if action in SUPERVISOR_ACTIONS and target.isdigit():
            if action == "decide":
                redraw = Redraw.objects.filter(pk=int(target)).first()
                if redraw is not None:
                    access_draw(request.user, redraw.draw_id)
                    run_step(request, redraw.pk, action)
            else:
                access_draw(request.user, int(target))
                run_step(request, int(target), action)
        return redirect("frontend:supervisor_draws")
    open_draws = Draw.objects.filter(state__in=[Draw.State.COMMITTING, Draw.State.REVEALING]).select_related(
        "lot", "lot__project").order_by("pk")
    redraws = Redraw.objects.select_related("draw__lot__project", "requested_by", "decided_by").order_by("-pk")[:50]
    return TemplateResponse(request, "frontend/draws_supervisor.html", {
        "panels": [steps_context(request, d) for d in open_draws],
        "redraws": redraws, "decide_form": DecideRedrawForm()})
