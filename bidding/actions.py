"""Tender workflows: each validates with the pure lifecycle rules, changes the rows and appends the
audit entry in one transaction. Views and the API call these and nothing below them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Organisation
from audit.log import log_action
from bidding.access import access_lot, access_project
from common.access import require_cap
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError
from common.roles import Cap, has_cap

from . import evaluation_settings, lifecycle
from .lifecycle import Status
from .models import Amendment, Lot, Project


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _normalise_lot_values(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    if "announced_fields" in values:
        values["announced_fields"] = lifecycle.validate_announced_fields(values["announced_fields"])
    if "evaluation_settings" in values:
        values["evaluation_settings"] = evaluation_settings.validate(values["evaluation_settings"])
    return values


def create_project(user, actor: Actor, *, code: str, title: str, tenderee_id: int,
                   agency_id: int | None = None, description: str = "") -> Project:
    manage_any = has_cap(user.role, Cap.TENDER_MANAGE_ANY)
    if not manage_any:
        require_cap(user, Cap.TENDER_MANAGE_OWN)
    with transaction.atomic():
        tenderee = Organisation.objects.filter(pk=tenderee_id).first()
        agency = Organisation.objects.filter(pk=agency_id).first() if agency_id else None
        if tenderee is None or (agency_id and agency is None):
            raise BadRequest("unknown tenderee or agency")
        project = Project(code=code.strip(), title=title.strip(), tenderee=tenderee, agency=agency,
                          description=description, created_by=user)
        if not manage_any and not project.is_run_by(user.organisation_id):
            raise BadRequest("a host creates projects for its own organisation, as tenderee or agency")
        if Project.objects.filter(code=project.code).exists():
            raise BadRequest(_("a project with this code exists"), details={"code": project.code})
        project.save()
        log_action("bidding.project.created", actor=actor, obj=project,
                   data={"code": project.code, "title": project.title, "tenderee": tenderee.pk,
                         "agency": agency.pk if agency else None})
    return project


def edit_project(user, actor: Actor, project_id: int, **changes: Any) -> Project:
    """A direct edit of a project (``lifecycle.check_project_edit``), audited with each field's old
    and new value (the tenderee and agency as organisation ids)."""
    with transaction.atomic():
        project = access_project(user, project_id, manage=True)
        project = Project.objects.select_for_update().get(pk=project.pk)
        values = {("tenderee_id" if k == "tenderee" else "agency_id" if k == "agency" else k):
                  (v.pk if isinstance(v, Organisation) else v) for k, v in changes.items()}
        changed = {k for k, v in values.items() if getattr(project, k, object()) != v}
        names = {k.removesuffix("_id") for k in changed}
        statuses = set(project.lots.select_for_update().values_list("status", flat=True))
        lifecycle.check_project_edit(statuses, names)
        if not changed:
            return project
        if "code" in changed:
            values["code"] = values["code"].strip()
            if Project.objects.filter(code=values["code"]).exclude(pk=project.pk).exists():
                raise BadRequest(_("a project with this code exists"), details={"code": values["code"]})
        if "tenderee_id" in changed and not Organisation.objects.filter(pk=values["tenderee_id"]).exists():
            raise BadRequest("unknown tenderee or agency")
        before = {k: getattr(project, k) for k in changed}
        for key in changed:
            setattr(project, key, values[key])
        project.save(update_fields=sorted(changed))
        log_action("bidding.project.edited", actor=actor, obj=project,
                   data={k.removesuffix("_id"): [before[k], values[k]] for k in sorted(changed)})
    return project


def create_lot(user, actor: Actor, project_id: int, *, now: datetime, **values: Any) -> Lot:
    with transaction.atomic():
        project = access_project(user, project_id, manage=True)
        values = _normalise_lot_values(values)
        if values.get("signin_opens_at") is None:  # the page's empty field too: sign-in at the deadline
            values["signin_opens_at"] = values.get("bid_deadline")
        lot = Lot(project=project, status=Status.DRAFT, **values)
        lifecycle.validate_schedule(lot.material_values(), now=now)
        if Lot.objects.filter(project=project, code=lot.code).exists():
            raise BadRequest(_("a lot with this code exists in the project"), details={"code": lot.code})
        lot.save()
        log_lot_created(lot, actor)
    return lot


def log_lot_created(lot: Lot, actor: Actor) -> None:
    """The entry that states what a lot was created with: an archive's tender.json is checked
    against it (docs/archive.md). In the caller's transaction."""
    log_action("bidding.lot.created", actor=actor, obj=lot, tender_id=lot.pk,
               data={k: _jsonable(v) for k, v in lot.material_values().items()})


def create_tender(user, actor: Actor, *, now: datetime, project: dict[str, Any],
                  lot: dict[str, Any]) -> Lot:
    """A project and its first lot in one transaction, as the page's form creates them: when either
    fails nothing is kept, so the same form can be sent again. The error's ``details["part"]`` says
    which of the two failed ("project" or "lot")."""
    with transaction.atomic():
        part = "project"
        try:
            created = create_project(user, actor, **project)
            part = "lot"
            return create_lot(user, actor, created.pk, now=now, **lot)
        except PlatformError as error:
            error.details = {**error.details, "part": part}
            raise


def _check_code_free(lot: Lot, code: str) -> None:
    """A lot's new code is not another lot's of the same project (a 400, not the constraint's 500)."""
    if Lot.objects.filter(project_id=lot.project_id, code=code).exclude(pk=lot.pk).exists():
        raise BadRequest(_("a lot with this code exists in the project"), details={"code": code})


def _check_suite_change(lot, changed) -> None:
    """The cipher suite changes only while nothing depends on it: no bid sealed (a bid of the other
    suite would be unopenable by this tender's rules) and no custodians named (they were named by
    their keys of the old suite)."""
    from .models import BidSubmission, EscrowKey

    if "cipher_suite" in changed and (BidSubmission.objects.filter(lot=lot).exists()
                                      or EscrowKey.objects.filter(lot=lot).exists()):
        raise PlatformError(ErrorCode.CONFLICT, _("the cipher suite cannot change once bids are sealed or "
                                                  "custodians are named"), details={"field": "cipher_suite"})


def edit_lot(user, actor: Actor, lot_id: int, *, now: datetime, **changes: Any) -> Lot:
    """A direct edit: anything in a draft, descriptive fields once published."""
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        changes = _normalise_lot_values(changes)
        changed = {k for k, v in changes.items() if getattr(lot, k, object()) != v}
        lifecycle.check_edit(lot.status, changed)
        if not changed:
            return lot
        if "code" in changed:
            _check_code_free(lot, changes["code"])
        _check_suite_change(lot, changed)
        before = {k: getattr(lot, k) for k in changed}
        for key in changed:
            setattr(lot, key, changes[key])
        if lot.status == Status.DRAFT:
            lifecycle.validate_schedule(lot.material_values(), now=now)
        lot.save(update_fields=sorted(changed))
        log_action("bidding.lot.edited", actor=actor, obj=lot, tender_id=lot.pk,
                   data={k: [_jsonable(before[k]), _jsonable(changes[k])] for k in sorted(changed)})
    return lot


def publish_lot(user, actor: Actor, lot_id: int, *, now: datetime) -> Lot:
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        lifecycle.check_transition(lot.status, Status.PUBLISHED)
        lifecycle.validate_schedule(lot.material_values(), now=now)
        lifecycle.validate_announced_fields(lot.announced_fields)
        evaluation_settings.validate(lot.evaluation_settings)
        if lot.escrow_required and not hasattr(lot, "escrow"):
            # 备用解密: the custodians and threshold are named before bidders seal to them.
            raise PlatformError(ErrorCode.ESCROW_NOT_READY,
                                "this tender requires backup decryption: set up its escrow custodians "
                                "before publishing")
        lot.status, lot.published_at = Status.PUBLISHED, now
        lot.save(update_fields=["status", "published_at"])
        log_action("bidding.lot.published", actor=actor, obj=lot, tender_id=lot.pk, now=now,
                   data={k: _jsonable(v) for k, v in lot.material_values().items()})
    return lot


def amend_lot(user, actor: Actor, lot_id: int, *, reason: str, now: datetime,
              **changes: Any) -> Amendment:
    if not reason or not reason.strip():
        raise BadRequest("an amendment states its reason")
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        changes = _normalise_lot_values(changes)
        before = lot.material_values()
        changed = lifecycle.check_amendment(lot.status, before, changes, now=now,
                                            notice_days=lot.amendment_notice_days)
        if "code" in changed:
            _check_code_free(lot, changes["code"])
        _check_suite_change(lot, changed)
        for key in changed:
            setattr(lot, key, changes[key])
        lot.save(update_fields=sorted(changed))
        number = lot.amendments.count() + 1
        amendment = Amendment.objects.create(
            lot=lot, number=number, reason=reason.strip(), created_by=user, created_at=now,
            changes={k: [_jsonable(before[k]), _jsonable(changes[k])] for k in sorted(changed)})
        log_action("bidding.lot.amended", actor=actor, obj=lot, tender_id=lot.pk, now=now,
                   data={"number": number, "reason": amendment.reason, "changes": amendment.changes})
    return amendment


def cancel_lot(user, actor: Actor, lot_id: int, *, reason: str, now: datetime) -> Lot:
    if not reason or not reason.strip():
        raise BadRequest("a cancellation states its reason")
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        lifecycle.check_transition(lot.status, Status.CANCELLED)
        previous = lot.status
        lot.status = Status.CANCELLED
        lot.save(update_fields=["status"])
        log_action("bidding.lot.cancelled", actor=actor, obj=lot, tender_id=lot.pk, now=now,
                   data={"from": previous, "reason": reason.strip()})
    return lot
