"""Pages of the evaluation venues: the sessions a user takes part in, and a venue's room page for
experts, venue staff and supervisors. Thin: the room's own access rule, then render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from common.labels import label
from common.labels import labels as catalogue

from .labels import conn_labels, media_labels, price_labels


# --- Evaluation venues: experts, venue staff, supervisors (evaluation/room.py) ------------------
# The page renders its context and labels; venue_page.js does the rest through the venue room
# ``venue:<session>:<venue>`` and the evaluation API. Access is the room's own rule.


def _venue_labels() -> dict:
    return {
        "state": conn_labels(),
        "media": media_labels(),
        "steps": catalogue("step"),
        "roles": {"expert": _("Expert"), "main_staff": _("Main venue staff"), "staff": _("Sub venue staff"),
                  "supervisor": _("Supervisor (read-only)")},
        "main": _("main venue"), "sub": _("sub venue"), "up": _("Present"), "down": _("Missing"),
        "yes": _("yes"), "no": _("no"), "none": _("None yet."), "failed": _("Failed"), "saved": _("Saved."),
        "sent": _("Sent."), "no_deadline": _("No clock set"), "time_left": _("Time left"),
        "time_up": _("Time is up"), "no_document": _("No document shown"), "page": _("page {n}"),
        "locked": _("The evaluation is locked: {venue} is missing since {since} (members {members}). "
                    "No step and no score can change until it is back."),
        "resumed": _("Resumed: {venue} is back; the lock lasted {seconds} s."),
        "chair": _("Chair"), "round": _("Round {n}"), "voted": _("Voted: {codes}"),
        "my_vote": _("Your vote: {code}"), "vote": _("Vote"), "you": _("you"),
        "signed_in": _("Signed in"), "confirmed": _("Identity confirmed"), "pledged": _("Pledged"),
        "recused": _("Recusal declared"), "confirm": _("Confirm identity of {code}"),
        "pass": _("Pass"), "fail": _("Fail"), "reason": _("Reason"), "reason_needed": _("A failing vote states its reason."),
        "submit_votes": _("Submit the review of {bidder}"), "your_votes": _("Your votes"),
        "bidder": _("Bidder"), "item": _("Item"), "max": _("Max"), "step": _("Step"), "total": _("Total"),
        "technical": _("technical"), "business": _("business"), "objective": _("objective"),
        "subjective": _("subjective"), "price": _("price"),
        "score_errors": {"not_a_number": _("Enter a number such as 12.5."),
                         "out_of_range": _("Between 0 and {max}."),
                         "not_a_step": _("A multiple of {step}."), "missing": _("Required.")},
        "save_scores": _("Save the scores of {bidder}"), "scored": _("Scored"), "not_scored": _("Not scored"),
        "progress": _("{n} of {total} bidders scored"), "fix_errors": _("Correct the marked values first."),
        "valid": _("Valid"), "rejected": _("Rejected"), "pending": _("Pending review"),
        "alerts": {"out_of_range": _("Out of range"), "not_a_step": _("Not a multiple of the step"),
                   "objective_inconsistent": _("Objective item scored differently"),
                   "score_outlier": _("Score deviates from the other experts"),
                   "arithmetic_mismatch": _("Stated total differs from the sum")},
        "return_reasons": catalogue("return_reason"),
        "returned_to_you": _("The chair returned your score of {bidder} ({item}) for correction: {reason}"),
        "whole_sheet": _("stated total"), "correct": _("Submit the correction"), "new_value": _("Corrected value"),
        "rank": _("Rank"), "candidate": _("Recommended candidate"), "decided_by": _("Decided by"),
        "decided": catalogue("decided_by"), "decided_other": _("a criterion the tender sets"),
        "questions": catalogue("question"),
        "asked": _("Asked"), "deadline": _("Reply by"), "answer": _("Answer"), "no_answer": _("No answer yet"),
        "report_hash": _("Report SHA-256"), "signing_deadline": _("Signing closes"),
        "signature": catalogue("report_signature"), "not_signed": label("report_signature", "none"),
        "key_none": _("No signing key in this browser yet."),
        "key_ready": _("Signing key in this browser (Ed25519, not exportable), registered."),
        "key_made": _("A signing key was generated in this browser and registered."),
        "signed_ok": _("You signed the report."), "dissent_ok": _("Your dissent is recorded."),
        "dissent_needed": _("A dissent states its reasons in writing."),
        "no_ed25519": _("This browser cannot create Ed25519 keys; use a current Chromium, Chrome or Edge."),
        "staff_only": _("Only the main venue's staff or the chair drive the steps."),
        "back_pending": _("The chair asks to go back to {step}: {reason}"),
        "approve": _("Approve"), "reject": _("Reject"), "presence": _("In this room: {list}"),
        "connections": _("{role}: {users} user(s), {connections} connection(s)"),
        "sign_in_button": _("Sign in at this venue"),
        "sign_in_help": _("Sign in, then the venue staff confirm your identity."),
        "wait_confirm": _("Signed in; waiting for the venue staff to confirm your identity."),
        "pledge_button": _("I make this pledge"),
        "pledge_text": _("I will evaluate objectively and impartially under the law, keep the evaluation confidential, "
                         "and declare any relation with a bidder that requires me to recuse myself."),
        "recusal_label": _("Recusal declaration (leave empty if none)"),
        "chair_vote_legend": _("Vote for the chair of the committee"),
        "choose_all": _("Choose pass or fail for every criterion."),
        "your_votes_in": _("Submitted"),
        "summary_help": _("Check the summary. The chair may return a score for correction only for the reasons the rules allow."),
        "ranking_help": _("The committee checks the ranking; the main venue moves on to the report."),
        "signing_help": _("Read the report below, then sign it with your key or record a dissent with written reasons."),
        "done_help": _("The evaluation is complete."),
        # Rejecting all bids, the time, replacements, price adjustments (evaluation/actions_*.py).
        "reject_intro": _("The compliance review left {valid} valid bid(s), fewer than 3: the committee decides "
                          "by majority whether to reject all bids (R12 art. 27)."),
        "reject_proposed": _("{code} proposed rejecting all bids at {at}: {reason}"),
        "reject_decided": _("Decided: all bids are rejected ({reject} for, {keep} against)."),
        "continue_decided": _("Decided: the evaluation continues with the valid bids ({keep} for, {reject} against)."),
        "you_voted_reject": _("You voted to reject all bids."),
        "you_voted_continue": _("You voted to continue."),
        "reason_required": _("State the reasons."),
        "all_rejected": _("The committee rejected all bids. No candidate is recommended; the report records it."),
        "time_claims": _("{n} of {total} members say the time is insufficient"),
        "time_short": _("The time is insufficient"), "time_short_sent": _("You said the time is insufficient"),
        "time_extended": _("{step}: extended from {from} to {to} ({codes})"),
        "replacement_reasons": catalogue("replacement_reason"),
        "replacement_waiting": _("Waiting for a supervisor"), "replacement_rejected": _("Rejected"),
        "replacement_done": _("Replaced by {code}, drawn again"),
        "price_yuan": _("Price (元)"), "adjustments_h": _("Adjustments and reasons"),
        "adjustment_total": _("Adjustment (元)"), "evaluated_price": _("Evaluated price (元)"),
        "no_adjustment": _("No adjustment"), "not_recorded": _("Not recorded yet"),
        "adjust_line_error": _("Line {n}: write a reason, a bar and a non-zero amount in yuan."),
        "prices": price_labels(),
    }


def _venue_ctx(session, venue_id: int, role: str, user) -> dict:
    member = session.members.filter(expert__user_id=user.pk).values_list("code", flat=True).first() \
        if role == "expert" else None
    venues = [{"id": sv.venue_id, "name": sv.venue.name, "main": sv.is_main}
              for sv in session.venues.select_related("venue").order_by("-is_main", "venue_id")]
    return {"session": session.pk, "venue": venue_id, "room": f"venue:{session.pk}:{venue_id}", "role": role,
            "member": member, "username": user.get_username(), "blind": session.blind,
            "lot": {"id": session.lot_id, "code": session.lot.code,
                    "title": f"{session.lot.project.title} · {session.lot.title}"},
            "items": session.scoring["items"], "criteria": session.scoring["criteria"], "venues": venues,
            "main_venue": session.main_venue_id, "method": session.rules_settings.get("method")}


@login_required
def evaluation_sessions(request):
    """The evaluation sessions the user takes part in, with a link to each venue room they may enter."""
    from evaluation.access import session_role
    from evaluation.models import EvaluationSession

    rows = []
    sessions = EvaluationSession.objects.select_related("lot", "lot__project").order_by("-created_at")[:200]
    for session in sessions:
        venues = []
        for sv in session.venues.select_related("venue").order_by("-is_main", "venue_id"):
            role = session_role(request.user, session, sv.venue_id)
            if role in ("expert", "staff", "main_staff", "supervisor"):
                venues.append({"id": sv.venue_id, "name": sv.venue.name, "main": sv.is_main, "role": role})
        if venues:
            step = session.state.get("step")
            rows.append({"session": session, "venues": venues, "step": label("step", step)})
    return TemplateResponse(request, "frontend/evaluation_sessions.html", {"rows": rows})


@login_required
def venue(request, session_id: int, venue_id: int):
    from evaluation.access import access_venue_room

    session, role = access_venue_room(request.user, session_id, venue_id)
    ctx = _venue_ctx(session, int(venue_id), role, request.user)
    venue_name = next(v["name"] for v in ctx["venues"] if v["id"] == int(venue_id))
    return TemplateResponse(request, "frontend/venue.html", {
        "session": session, "role": role, "venue_name": venue_name, "ctx": ctx, "labels": _venue_labels(),
        "readonly": role == "supervisor"})
