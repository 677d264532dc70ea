"""Server-rendered pages. Thin: authorise with ``access_*``, call ``bidding.actions``, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import access_lot, can_manage_lot, visible_lots
from accounts.roles import Cap, has_cap
from audit.log import Actor
from bidding import actions
from bidding.lifecycle import EDITABLE_FIELDS, Status
from common import clock
from common.errors import ErrorCode, PlatformError

from .forms import AmendForm, LotEditForm, ProjectLotForm, ReasonForm


def home(request):
    lots = visible_lots(request.user).filter(status__in=[Status.PUBLISHED, Status.OPENING])[:20] \
        if request.user.is_authenticated else []
    return TemplateResponse(request, "frontend/home.html", {"lots": lots, "now": clock.now()})


@login_required
def tender_list(request):
    lots = visible_lots(request.user).order_by("-bid_deadline")
    can_create = has_cap(request.user.role, Cap.TENDER_MANAGE_OWN) or \
        has_cap(request.user.role, Cap.TENDER_MANAGE_ANY)
    return TemplateResponse(request, "frontend/tender_list.html", {"lots": lots, "can_create": can_create})


def _error_into(form, error: PlatformError) -> None:
    form.add_error(None, f"{error.message} [{error.code.value}]")
    for field, problem in (error.details or {}).items():
        if field in form.fields and isinstance(problem, str):
            form.add_error(field, problem)


@login_required
def tender_create(request):
    form = ProjectLotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data, actor, now = form.cleaned_data, Actor.from_request(request), clock.now()
        organisation = request.user.organisation
        agency_id = organisation.pk if organisation and organisation.kind == "agency" else None
        try:
            project = actions.create_project(request.user, actor, code=data["project_code"],
                                             title=data["project_title"],
                                             tenderee_id=data["tenderee"].pk, agency_id=agency_id)
            lot = actions.create_lot(
                request.user, actor, project.pk, now=now, code=data["lot_code"], title=data["lot_title"],
                bid_deadline=data["bid_deadline"], signin_opens_at=data["signin_opens_at"] or None,
                decryption_window_minutes=data["decryption_window_minutes"],
                confirmation_window_minutes=data["confirmation_window_minutes"],
                min_bids=data["min_bids"], announced_fields=data["announced_fields"])
        except PlatformError as error:
            _error_into(form, error)
        else:
            messages.success(request, _("The tender was created as a draft."))
            return redirect("frontend:tender_detail", lot_id=lot.pk)
    return TemplateResponse(request, "frontend/tender_form.html", {"form": form})


def _initial(lot) -> dict:
    return {f: getattr(lot, f) for f in LotEditForm.base_fields if f in EDITABLE_FIELDS}


@login_required
def tender_detail(request, lot_id: int):
    lot = access_lot(request.user, lot_id)
    manage = can_manage_lot(request.user, lot)
    form_class = AmendForm if lot.status == Status.PUBLISHED else LotEditForm
    form = form_class(request.POST or None, initial=_initial(lot)) if manage else None
    if request.method == "POST" and manage and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v is not None}
        actor, now = Actor.from_request(request), clock.now()
        try:
            if lot.status == Status.PUBLISHED:
                reason = data.pop("reason")
                descriptive = {k: data.pop(k) for k in ("title", "description") if k in data}
                changed = {k: v for k, v in data.items() if getattr(lot, k) != v}
                if changed:
                    actions.amend_lot(request.user, actor, lot.pk, reason=reason, now=now, **changed)
                actions.edit_lot(request.user, actor, lot.pk, now=now, **descriptive)
            else:
                actions.edit_lot(request.user, actor, lot.pk, now=now, **data)
        except PlatformError as error:
            _error_into(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("frontend:tender_detail", lot_id=lot.pk)
    return TemplateResponse(request, "frontend/tender_detail.html", {
        "lot": lot, "manage": manage, "form": form, "now": clock.now(),
        "cancel_form": ReasonForm(), "amendments": lot.amendments.all()})


@login_required
@require_POST
def tender_publish(request, lot_id: int):
    try:
        actions.publish_lot(request.user, Actor.from_request(request), lot_id, now=clock.now())
        messages.success(request, _("The tender is published."))
    except PlatformError as error:
        messages.error(request, f"{error.message} [{error.code.value}]")
    return redirect("frontend:tender_detail", lot_id=lot_id)


@login_required
@require_POST
def tender_cancel(request, lot_id: int):
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A cancellation states its reason."))
        return redirect("frontend:tender_detail", lot_id=lot_id)
    try:
        actions.cancel_lot(request.user, Actor.from_request(request), lot_id,
                           reason=form.cleaned_data["reason"], now=clock.now())
        messages.success(request, _("The tender is cancelled."))
    except PlatformError as error:
        messages.error(request, f"{error.message} [{error.code.value}]")
    return redirect("frontend:tender_detail", lot_id=lot_id)


@login_required
def console(request):
    if not has_cap(request.user.role, Cap.AUDIT_READ):
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only supervisors see the console."))
    labels = {
        "state": {"connecting": _("Connecting…"), "connected": _("Connected"),
                  "reconnecting": _("Reconnecting…"), "resynced": _("Resynced"),
                  "signed_out": _("Signed out")},
        "noted": _("Note recorded."), "failed": _("Failed"),
    }
    return TemplateResponse(request, "frontend/console.html", {"labels": labels})


def not_found(request, exception=None):
    return TemplateResponse(request, "frontend/error.html", {"title": _("Not found")}, status=404)


def server_error(request):
    return TemplateResponse(request, "frontend/error.html", {"title": _("Server error")}, status=500).render()


# --- Bidder keys, sealed bids, receipts and the opening hall (browser crypto pages) -------------
# Each page renders its context and labels as json_script blocks; the ES modules do the rest
# through the API and the hall room. No key, file key or plaintext bid ever reaches these views.


def _conn_labels() -> dict:
    return {"connecting": _("Connecting…"), "connected": _("Connected"),
            "reconnecting": _("Reconnecting…"), "resynced": _("Resynced"), "signed_out": _("Signed out")}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise PlatformError(ErrorCode.FORBIDDEN, message)


def _org_ctx(user) -> dict:
    org = user.organisation
    return {"organisation": org.name if org else "", "credit_code": (org.credit_code if org else "") or "",
            "org_id": str(org.pk) if org else None, "username": user.get_username()}


def _cert_labels() -> dict:
    return {"pending": _("pending approval"), "issued": _("approved"), "rejected": _("rejected"),
            "revoked": _("revoked"), "superseded": _("superseded"), "expired": _("expired")}


@login_required
def bidder_keys(request):
    _require(has_cap(request.user.role, Cap.BID_SUBMIT), _("Only bidders set up bid keys."))
    labels = {
        "cert": _cert_labels(),
        "generating": _("Generating the key pair and its backup (a few seconds)…"),
        "saved_backup": _("I have saved the backup file"),
        "backup_name": "tender-key.json",
        "password_short": _("The backup password needs at least 10 characters."),
        "password_mismatch": _("The two passwords differ."),
        "imported": _("The key was imported into this browser."),
        "wrong_password": _("Wrong password, or the file is damaged."),
        "not_key_file": _("This is not a tender-key/v1 key file."),
        "requested": _("Certificate requested: waiting for the host's approval."),
        "no_key": _("No key in this browser yet."),
        "no_sign": _("This key cannot sign here: import its backup file again."),
        "failed": _("Failed"),
        "in_browser": _("in this browser"),
        "not_in_browser": _("not in this browser: import its backup"),
        "request_for": _("Request a certificate for this key"),
    }
    return TemplateResponse(request, "frontend/bidder_keys.html",
                            {"ctx": _org_ctx(request.user), "labels": labels})


@login_required
def certificate_requests(request):
    from accounts.access import can_approve_certificates

    _require(can_approve_certificates(request.user), _("Only hosts and administrators approve certificates."))
    labels = {"cert": _cert_labels(), "approve": _("Approve"), "reject": _("Reject"),
              "reason": _("Reason for rejecting"), "none": _("No certificate requests."),
              "failed": _("Failed")}
    return TemplateResponse(request, "frontend/certificates.html", {"labels": labels})


def _lot_ctx(lot) -> dict:
    return {"id": lot.pk, "tender": lot.project.code, "code": lot.code, "title": f"{lot.project.title} · {lot.title}",
            "bid_deadline": lot.bid_deadline.isoformat(), "announced_fields": lot.announced_fields,
            "escrow_required": lot.escrow_required, "max_bid_bytes": lot.max_bid_bytes, "status": lot.status}


@login_required
def bid_submit(request, lot_id: int):
    lot = access_lot(request.user, lot_id)
    _require(has_cap(request.user.role, Cap.BID_SUBMIT), _("Only bidders submit bids."))
    labels = {
        "field_errors": {"required": _("Required."), "money": _("An amount in yuan with at most two decimals, e.g. 1234567.89"),
                         "integer": _("A whole number."), "decimal": _("A decimal number."),
                         "choice": _("Choose one of the options."), "duplicate": _("Two documents have the same name.")},
        "no_files": _("Choose at least one document."),
        "no_cert": _("You have no approved certificate yet: set up your key first."),
        "no_key": _("The key of your certificate is not in this browser: import its backup file."),
        "hashing": _("Reading the documents…"), "sealing": _("Sealing in this browser…"),
        "uploading": _("Uploading the sealed bid…"), "paused": _("Paused. You can resume at any time before the deadline."),
        "completing": _("Checking and receipting…"), "done": _("Submitted. Your receipt:"),
        "resumable": _("An unfinished upload of this bid was found in this browser."),
        "network": _("The connection failed; the upload is paused. Resume when you are back online."),
        "failed": _("Failed"), "bytes": _("bytes"), "fen": _("fen"),
        "price_check": _("Check: {yuan} 元 = {fen} fen"),
    }
    return TemplateResponse(request, "frontend/bid_submit.html",
                            {"lot": lot, "ctx": {"lot": _lot_ctx(lot), **_org_ctx(request.user)}, "labels": labels})


@login_required
def bid_receipt(request, lot_id: int):
    lot = access_lot(request.user, lot_id)
    _require(has_cap(request.user.role, Cap.BID_SUBMIT), _("Only bidders have bid receipts."))
    labels = {
        "checks": {"form": _("Receipt format and platform"), "signature": _("Platform signature (Ed25519)"),
                   "checkpoint": _("Signed checkpoint of the audit log"),
                   "inclusion": _("Inclusion proof: the entry is in the log"),
                   "entry": _("The log entry records this bid"),
                   "envelope": _("The envelope file is the one receipted")},
        "ok": _("verified"), "bad": _("FAILED"), "skipped": _("not checked"),
        "all_ok": _("The receipt verifies."), "not_ok": _("The receipt does NOT verify."),
        "none": _("No bid on this lot yet."), "failed": _("Failed"),
    }
    return TemplateResponse(request, "frontend/receipts.html",
                            {"lot": lot, "ctx": {"lot": _lot_ctx(lot)}, "labels": labels})


@login_required
def hall(request, lot_id: int):
    from accounts.access import access_hall

    lot, role = access_hall(request.user, lot_id)
    labels = {
        "state": _conn_labels(),
        "phase": {"scheduled": _("Scheduled"), "signin_open": _("Sign-in open"),
                  "deadline_passed": _("Deadline passed"), "decrypting": _("Decrypting"),
                  "announced": _("Announced"), "confirming": _("Confirming the record"),
                  "closed": _("Closed"), "failed": _("Failed (too few bids)")},
        "bid_status": {"pending": _("waiting for decryption"), "decrypted": _("decrypted"),
                       "revoked": _("revoked (not decrypted)"), "withdrawn": _("withdrawn (platform fault)")},
        "confirm_state": {"confirmed": _("confirmed"), "objected": _("objected"), "deemed": _("deemed to accept")},
        "paused": _("Paused"), "until_opening": _("Until the opening"), "window_left": _("Time left"),
        "opened": _("The opening time has come."), "decrypt_done": _("Your bid is decrypted."),
        "no_key": _("The key for this bid is not in this browser: import its backup on the key page."),
        "released": _("File key released; the platform is decrypting…"),
        "signed": _("Record confirmed with your signature."), "sent": _("Sent."), "failed": _("Failed"),
        "host": _("Host"), "you": _("You"), "no_chat": _("No messages yet."),
        "answered": _("Answer"), "awaiting_answer": _("Awaiting the host's answer"),
        "bidders_hidden": _("Hidden until the deadline (Tendering Law art. 22)."),
        "answer": _("Answer"), "reason_needed": _("State the reason."),
        "progress": _("{decrypted} of {total} decrypted, {pending} waiting"),
        "signed_in": _("Signed in"), "users": _("online"),
        "host_online": _("Host online"), "host_offline": _("Host offline"),
    }
    ctx = {"lot": _lot_ctx(lot), "role": role, "room": f"hall:{lot.pk}", **_org_ctx(request.user)}
    return TemplateResponse(request, "frontend/hall.html", {"lot": lot, "role": role, "ctx": ctx, "labels": labels})


# --- Evaluation venues: experts, venue staff, supervisors (evaluation/room.py) ------------------
# The page renders its context and labels; venue_page.js does the rest through the venue room
# ``venue:<session>:<venue>`` and the evaluation API. Access is the room's own rule.

from django.utils.translation import gettext_noop  # noqa: E402  (msgids translated where shown)

_STEP_LABELS = (("sign_in", gettext_noop("Sign-in")), ("pledge", gettext_noop("Integrity pledge")),
                ("chair_election", gettext_noop("Chair election")), ("compliance", gettext_noop("Compliance review")),
                ("scoring", gettext_noop("Scoring")), ("summary", gettext_noop("Summary check")), ("ranking", gettext_noop("Ranking")),
                ("signing", gettext_noop("Report signing")), ("done", gettext_noop("Done")))


def _venue_labels() -> dict:
    return {
        "state": _conn_labels(),
        "steps": {key: _(text) for key, text in _STEP_LABELS},
        "roles": {"expert": _("Expert"), "main_staff": _("Main venue staff"), "staff": _("Sub venue staff"),
                  "supervisor": _("Supervisor (read-only)")},
        "main": _("main venue"), "sub": _("sub venue"), "up": _("present"), "down": _("missing"),
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
        "save_scores": _("Save the scores of {bidder}"), "scored": _("scored"), "not_scored": _("not scored"),
        "progress": _("{n} of {total} bidders scored"), "fix_errors": _("Correct the marked values first."),
        "valid": _("valid"), "rejected": _("rejected"), "pending": _("pending review"),
        "alerts": {"out_of_range": _("Out of range"), "not_a_step": _("Not a multiple of the step"),
                   "objective_inconsistent": _("Objective item scored differently"),
                   "score_outlier": _("Score deviates from the other experts"),
                   "arithmetic_mismatch": _("Stated total differs from the sum")},
        "return_reasons": {"arithmetic_error": _("Arithmetic error"), "out_of_range": _("Out of range"),
                           "objective_inconsistent": _("Objective item inconsistent"),
                           "abnormal_score": _("Abnormal score (F87 art. 64)")},
        "returned_to_you": _("The chair returned your score of {bidder} ({item}) for correction: {reason}"),
        "whole_sheet": _("stated total"), "correct": _("Submit the correction"), "new_value": _("Corrected value"),
        "rank": _("Rank"), "candidate": _("Recommended candidate"), "decided_by": _("Decided by"),
        "asked": _("Asked"), "deadline": _("Reply by"), "answer": _("Answer"), "no_answer": _("No answer yet"),
        "report_hash": _("Report SHA-256"), "signing_deadline": _("Signing closes"),
        "signature": {"signed": _("signed"), "dissent": _("dissented"), "deemed": _("deemed to agree")},
        "not_signed": _("not yet"), "key_none": _("No signing key in this browser yet."),
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
        "your_votes_in": _("submitted"),
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
        "replacement_reasons": {"recusal": _("Must withdraw (recusal)"), "illness": _("Illness"),
                                "absent": _("Absent"), "misconduct": _("Misconduct"), "other": _("Other")},
        "replacement_waiting": _("waiting for a supervisor"), "replacement_rejected": _("rejected"),
        "replacement_done": _("replaced by {code}, drawn again"),
        "price_yuan": _("Price (元)"), "adjustments_h": _("Adjustments and reasons"),
        "adjustment_total": _("Adjustment (元)"), "evaluated_price": _("Evaluated price (元)"),
        "no_adjustment": _("No adjustment"), "not_recorded": _("Not recorded yet"),
        "adjust_line_error": _("Line {n}: write a reason, a bar and a non-zero amount in yuan."),
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
    from accounts.access import session_role
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
            rows.append({"session": session, "venues": venues, "step": _(dict(_STEP_LABELS).get(step, step))})
    return TemplateResponse(request, "frontend/evaluation_sessions.html", {"rows": rows})


@login_required
def venue(request, session_id: int, venue_id: int):
    from accounts.access import access_venue_room

    session, role = access_venue_room(request.user, session_id, venue_id)
    ctx = _venue_ctx(session, int(venue_id), role, request.user)
    venue_name = next(v["name"] for v in ctx["venues"] if v["id"] == int(venue_id))
    return TemplateResponse(request, "frontend/venue.html", {
        "session": session, "role": role, "venue_name": venue_name, "ctx": ctx, "labels": _venue_labels(),
        "readonly": role == "supervisor"})
