"""Server-rendered pages of the tenders (list, create, edit, publish, cancel), the supervisors'
console and the error pages. Thin: authorise with ``access_*``, call ``bidding.actions``, render.
The browser-crypto pages are ``views_bids``, the evaluation venues' ``views_venues``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bidding import actions
from common.wording import join_list
from bidding.access import access_lot, can_manage_lot, visible_lots
from bidding.lifecycle import EDITABLE_FIELDS, Status
from common import clock
from common.actor import Actor
from common.beijing import beijing
from common.labels import error_text, label
from common.labels import labels as catalogue
from common.errors import ErrorCode, PlatformError
from common.roles import Cap, has_cap
from evaluation.report_prices import evaluation_method_lines

from .forms import AmendForm, LotEditForm, ProjectLotForm, ReasonForm


def home(request):
    lots = visible_lots(request.user).filter(status__in=[Status.PUBLISHED, Status.OPENING])[:20] \
        if request.user.is_authenticated else []
    return TemplateResponse(request, "frontend/home.html", {"lots": lots, "now": clock.now()})


@login_required
def tender_list(request):
    lots = visible_lots(request.user).order_by("-bid_deadline")
    can_create = _can_create_tenders(request.user)
    return TemplateResponse(request, "frontend/tender_list.html", {"lots": lots, "can_create": can_create})


def _error_into(form, error: PlatformError, fields: dict[str, str] | None = None) -> None:
    """Each problem the action names goes next to its field (``fields`` maps the action's names to the
    form's); what belongs to no field goes above the form, as a label with its message."""
    fields = fields or {}
    placed = False
    named = (error.details or {}).get("field")  # a problem of one field as a whole
    if isinstance(named, str) and named in form.fields:
        form.add_error(named, str(error.message))
        return
    for key, problem in (error.details or {}).items():
        name = fields.get(key, key)
        if name not in form.fields or not isinstance(problem, str):
            continue
        # A duplicate's details carry the value typed, not a problem: the message says what is wrong.
        form.add_error(name, str(error.message) if key == "code" else problem)
        placed = True
    if not placed:
        form.add_error(None, error_text(error))


_TENDER_FIELDS = {"project": {"code": "project_code", "title": "project_title", "tenderee_id": "tenderee"},
                  "lot": {"code": "lot_code", "title": "lot_title"}}


def _can_create_tenders(user) -> bool:
    return has_cap(user.role, Cap.TENDER_MANAGE_OWN) or has_cap(user.role, Cap.TENDER_MANAGE_ANY)


def _tenderee_choices(user):
    """The tenderees the form offers: every one to an administrator and to an agency's host (an
    agency runs tenders for tenderees); a tenderee's own host only its organisation, as
    ``actions.create_project`` would refuse any other."""
    choices = ProjectLotForm.base_fields["tenderee"].queryset
    organisation = user.organisation
    if has_cap(user.role, Cap.TENDER_MANAGE_ANY) or (organisation and organisation.kind == "agency"):
        return choices
    return choices.filter(pk=organisation.pk if organisation else -1)


@login_required
def tender_create(request):
    if not _can_create_tenders(request.user):  # the tenderee list is not for bidders, experts, ...
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only hosts and administrators create tenders."))
    form = ProjectLotForm(request.POST or None)
    form.fields["tenderee"].queryset = _tenderee_choices(request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        organisation = request.user.organisation
        agency_id = organisation.pk if organisation and organisation.kind == "agency" else None
        project = {"code": data["project_code"], "title": data["project_title"],
                   "tenderee_id": data["tenderee"].pk, "agency_id": agency_id}
        lot = {"code": data["lot_code"], "title": data["lot_title"], "bid_deadline": data["bid_deadline"],
               "signin_opens_at": data["signin_opens_at"],
               "decryption_window_minutes": data["decryption_window_minutes"],
               "confirmation_window_minutes": data["confirmation_window_minutes"],
               "min_bids": data["min_bids"], "announced_fields": data["announced_fields"],
               "cipher_suite": data["cipher_suite"] or "intl"}
        try:
            created = actions.create_tender(request.user, Actor.from_request(request), now=clock.now(),
                                            project=project, lot=lot)
        except PlatformError as error:
            _error_into(form, error, _TENDER_FIELDS.get(error.details.get("part"), {}))
        else:
            messages.success(request, _("The tender was created as a draft."))
            return redirect("frontend:tender_detail", lot_id=created.pk)
    return TemplateResponse(request, "frontend/tender_form.html", {"form": form, "announced_labels": _announced_labels()})


def _announced_labels() -> dict:
    return {"cols": {"label": _("Name read out"), "key": _("Field code (a-z, 0-9, _)"), "type": _("Type"),
                     "unit": _("Unit"), "required": _("Required"), "choices": _("Choices (for a choice)")},
            "types": {"money_fen": _("Amount in yuan"), "integer": _("Whole number"), "decimal": _("Decimal number"),
                      "text": _("Text"), "choice": _("One of the choices")},
            "remove": _("Remove"), "add": _("Add a field"), "caption": _("Announced fields"),
            "help": _("The bid price (code price, amount in yuan, required) must be one of them.")}


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
        "cancel_form": ReasonForm(), "amendments": _amendments_shown(lot),
        "method_lines": evaluation_method_lines(lot.evaluation_settings),
        "announced_labels": _announced_labels() if form is not None else None})


def _amendments_shown(lot) -> list:
    """Each amendment's changes as field label, before and after (times in Beijing time)."""
    names = {name: field.label for name, field in LotEditForm.base_fields.items()}
    shown = []
    for amendment in lot.amendments.all():
        amendment.changes_shown = [
            {"field": names.get(key, key), "before": _shown_value(before), "after": _shown_value(after)}
            for key, (before, after) in sorted(amendment.changes.items())]
        shown.append(amendment)
    return shown


def _shown_value(value) -> str:
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] == "T":
        return beijing(value, seconds=False)
    if isinstance(value, list):
        return join_list(str(v.get("label", v)) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


@login_required
@require_POST
def tender_publish(request, lot_id: int):
    try:
        actions.publish_lot(request.user, Actor.from_request(request), lot_id, now=clock.now())
        messages.success(request, _("The tender is published."))
    except PlatformError as error:
        messages.error(request, error_text(error))
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
        messages.error(request, error_text(error))
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
        "actions": catalogue("action"), "roles": catalogue("role"), "alerts": catalogue("alert"),
        "system_actors": catalogue("system_actor"), "system_other": _("A platform process"),
        "rooms": {"hall": _("Opening hall"), "venue": _("Evaluation venue"), "console": _("Supervision console")},
        "objects": _object_labels(), "object_other": _("Record"),
    }
    from audit.console import checkpoint_panel
    from common import clocksync
    from evaluation.models import Redraw

    redraws = list(Redraw.objects.select_related("draw__lot__project").order_by("-pk")[:20])
    return TemplateResponse(request, "frontend/console.html", {
        "labels": labels, "checkpoint": checkpoint_panel(), "clock": clocksync.current(), "redraws": redraws,
        "waiting": sum(1 for r in redraws if r.approved is None)})


def _object_labels() -> dict:
    """What each kind of audited object is called, by its model's ``app.model`` label."""
    return {
        "accounts.user": _("User"), "accounts.organisation": _("Organisation"), "accounts.apitoken": _("API token"),
        "accounts.usersession": _("Sign-in session"), "bidding.project": _("Project"), "bidding.lot": _("Tender"),
        "bidding.amendment": _("Amendment"), "bidding.biddercertificate": _("Certificate"),
        "bidding.bidupload": _("Bid upload"), "bidding.bidsubmission": _("Bid"),
        "bidding.custodian": _("Backup-decryption custodian"), "bidding.escrowkey": _("Backup decryption"),
        "bidding.escrowshare": _("Custodian's share"), "bidding.escrowrecovery": _("Backup-decryption recovery"),
        "bidding.opening": _("Opening"),
        "bidding.openingbid": _("Bid at the opening"), "bidding.objection": _("Objection"),
        "bidding.chatmessage": _("Private message"), "bidding.recordconfirmation": _("Record confirmation"),
        "evaluation.region": _("Region"), "evaluation.venue": _("Venue"), "evaluation.expert": _("Expert"),
        "evaluation.draw": _("Expert draw"), "evaluation.redraw": _("Redraw of the experts"),
        "evaluation.evaluationsession": _("Evaluation session"),
        "evaluation.member": _("Committee member"), "evaluation.clarification": _("Clarification"),
        "evaluation.replacement": _("Replacement of a member"), "evaluation.reportsignature": _("Report signature"),
        "audit.entry": _("Audit entry"), "audit.auditentry": _("Audit entry"),
        "audit.auditcheckpoint": _("Signed checkpoint"),
        "collusion.analysisrun": _("Collusion analysis"), "collusion.lead": _("Collusion lead"),
        "collusion.case": _("Collusion case"), "collusion.tenderdocument": _("Tender document"),
    }


def not_found(request, exception=None):
    return TemplateResponse(request, "frontend/error.html", {"title": _("Not found")}, status=404)


def server_error(request):
    return TemplateResponse(request, "frontend/error.html", {"title": _("Server error")}, status=500).render()
