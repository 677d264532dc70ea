"""The tender (标段) lifecycle as pure rules: statuses, transitions, which edits each status allows,
and what an amendment after publication must respect. No ORM, no clock: callers pass ``now``.

- DRAFT: anything may change.
- PUBLISHED: descriptive fields may be edited (audited); every *material* field changes only through
  an amendment (澄清/修改), itself audited, and only before the deadline. An amendment that can affect
  how bids are prepared must leave at least ``notice_days`` (15 by default, 招标投标法实施条例 21)
  between its issue and the deadline, or it must extend the deadline accordingly.
- OPENING and later: nothing about the tender changes any more.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Mapping

from common.errors import BadRequest, ErrorCode, PlatformError
from common.i18n import _


class Status(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    OPENING = "opening"
    EVALUATING = "evaluating"
    COMPLETED = "completed"
    FAILED = "failed"  # 流标
    CANCELLED = "cancelled"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.PUBLISHED, Status.CANCELLED}),
    # FAILED straight from PUBLISHED: fewer bids than the minimum at the deadline means no opening
    # at all (实施条例 44).
    Status.PUBLISHED: frozenset({Status.OPENING, Status.FAILED, Status.CANCELLED}),
    Status.OPENING: frozenset({Status.EVALUATING, Status.FAILED}),
    Status.EVALUATING: frozenset({Status.COMPLETED, Status.FAILED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}

DESCRIPTIVE_FIELDS = frozenset({"title", "description"})
# Changing any of these can change how bidders prepare or seal their bids.
BID_AFFECTING_FIELDS = frozenset({
    "code", "bid_deadline", "announced_fields", "evaluation_settings", "escrow_required",
    "max_bid_bytes", "min_bids", "cipher_suite",
})
# Material but not bid-affecting: the hall's own timings.
SCHEDULE_FIELDS = frozenset({"signin_opens_at", "decryption_window_minutes",
                             "confirmation_window_minutes"})
MATERIAL_FIELDS = BID_AFFECTING_FIELDS | SCHEDULE_FIELDS
EDITABLE_FIELDS = DESCRIPTIVE_FIELDS | MATERIAL_FIELDS

DEFAULT_NOTICE_DAYS = 15
# Fewer than 3 bidders: no opening, the tender is re-tendered (实施条例 44, 招标投标法 28). A tender
# may require more, never fewer.
LEGAL_MIN_BIDS = 3
MAX_MIN_BIDS = 999


def check_transition(current: Status | str, target: Status | str) -> None:
    current, target = Status(current), Status(target)
    if target not in TRANSITIONS[current]:
        raise PlatformError(ErrorCode.INVALID_STATE,
                            f"a tender cannot go from {current.value} to {target.value}",
                            details={"status": current.value, "target": target.value})


def check_edit(status: Status | str, changed: set[str]) -> None:
    """A direct edit (not an amendment) of ``changed`` fields in ``status``."""
    status = Status(status)
    unknown = changed - EDITABLE_FIELDS
    if unknown:
        raise BadRequest("these fields cannot be edited", details={"fields": sorted(unknown)})
    if status == Status.DRAFT:
        return
    if status == Status.PUBLISHED:
        material = changed & MATERIAL_FIELDS
        if material:
            raise PlatformError(
                ErrorCode.AMENDMENT_REQUIRED,
                "after publication these fields change only through an amendment",
                details={"fields": sorted(material)})
        return
    raise PlatformError(ErrorCode.INVALID_STATE, f"a tender in status {status.value} cannot be edited",
                        details={"status": status.value})


# The project's fields: its code names every bid sealed under it (the envelope's tender id, which
# the opening compares with the current code), its tenderee and agency say who runs it.
PROJECT_BINDING_FIELDS = frozenset({"code", "tenderee", "agency"})
PROJECT_EDITABLE_FIELDS = PROJECT_BINDING_FIELDS | DESCRIPTIVE_FIELDS


def check_project_edit(lot_statuses: set[Status | str], changed: set[str]) -> None:
    """A direct edit of a project whose lots are in ``lot_statuses``: anything while every lot is a
    draft; once any lot was published (cancelled and failed lots too: bids may have been sealed under
    the code) only the descriptive fields, and nothing once a lot reached its opening."""
    statuses = {Status(s) for s in lot_statuses}
    unknown = changed - PROJECT_EDITABLE_FIELDS
    if unknown:
        raise BadRequest("these fields cannot be edited", details={"fields": sorted(unknown)})
    binding = changed & PROJECT_BINDING_FIELDS
    if binding and statuses - {Status.DRAFT}:
        raise PlatformError(ErrorCode.INVALID_STATE,
                            "a project's code, tenderee and agency are fixed once one of its lots "
                            "was published", details={"fields": sorted(binding)})
    if changed and statuses & {Status.OPENING, Status.EVALUATING, Status.COMPLETED}:
        raise PlatformError(ErrorCode.INVALID_STATE,
                            "a project with a lot at or past its opening cannot be edited",
                            details={"fields": sorted(changed)})


def project_readonly_fields(lot_statuses: set[Status | str]) -> set[str]:
    """The project fields ``check_project_edit`` would refuse to change, for forms to show read-only."""
    statuses = {Status(s) for s in lot_statuses}
    if statuses & {Status.OPENING, Status.EVALUATING, Status.COMPLETED}:
        return set(PROJECT_EDITABLE_FIELDS)
    return set(PROJECT_BINDING_FIELDS) if statuses - {Status.DRAFT} else set()


def lot_readonly_fields(status: Status | str) -> set[str]:
    """The lot fields ``check_edit`` would refuse to change directly, for forms to show read-only."""
    status = Status(status)
    if status == Status.DRAFT:
        return set()
    if status == Status.PUBLISHED:
        return set(MATERIAL_FIELDS)
    return set(EDITABLE_FIELDS)


def check_amendment(status: Status | str, before: Mapping[str, Any], after: Mapping[str, Any], *,
                    now: datetime, notice_days: int = DEFAULT_NOTICE_DAYS) -> set[str]:
    """Validate an amendment; return the set of fields it changes.

    ``before`` and ``after`` map field names to values (``after`` may hold only the changes).
    """
    status = Status(status)
    if status != Status.PUBLISHED:
        raise PlatformError(ErrorCode.INVALID_STATE,
                            "only a published tender, before its deadline, can be amended",
                            details={"status": status.value})
    if now >= before["bid_deadline"]:
        raise PlatformError(ErrorCode.DEADLINE_PASSED, "the bid deadline has passed")
    changed = {k for k, v in after.items() if before.get(k) != v}
    if not changed:
        raise BadRequest("the amendment changes nothing")
    unknown = changed - EDITABLE_FIELDS
    if unknown:
        raise BadRequest("these fields cannot be amended", details={"fields": sorted(unknown)})
    merged = {**before, **after}
    validate_schedule(merged, now=now)
    new_deadline = merged["bid_deadline"]
    extension_only = changed <= {"bid_deadline"} | SCHEDULE_FIELDS | DESCRIPTIVE_FIELDS \
        and new_deadline >= before["bid_deadline"]
    if changed & BID_AFFECTING_FIELDS and not extension_only:
        earliest = now + timedelta(days=notice_days)
        if new_deadline < earliest:
            raise PlatformError(
                ErrorCode.AMENDMENT_TOO_LATE,
                f"an amendment that affects bid preparation needs {notice_days} days before the "
                "deadline: extend the deadline",
                details={"earliest_deadline": earliest.isoformat(), "notice_days": notice_days})
    return changed


def validate_schedule(values: Mapping[str, Any], *, now: datetime | None = None) -> None:
    """The timings are coherent; with ``now``, the deadline is still ahead."""
    deadline = values["bid_deadline"]
    signin = values.get("signin_opens_at")
    problems: dict[str, str] = {}
    if now is not None and deadline <= now:
        problems["bid_deadline"] = _("must be in the future")
    if signin is not None and signin > deadline:
        problems["signin_opens_at"] = _("must not be after the bid deadline")
    for field, low, high in (("decryption_window_minutes", 5, 24 * 60),
                             ("confirmation_window_minutes", 5, 24 * 60)):
        value = values.get(field)
        if value is not None and not (low <= value <= high):
            problems[field] = _("must be between %(low)d and %(high)d minutes") % {"low": low, "high": high}
    min_bids = values.get("min_bids")
    if min_bids is not None and not (LEGAL_MIN_BIDS <= min_bids <= MAX_MIN_BIDS):
        problems["min_bids"] = _("must be between %(low)d and %(high)d: fewer than %(low)d bidders cannot "
                                 "open (实施条例 44)") % {"low": LEGAL_MIN_BIDS, "high": MAX_MIN_BIDS}
    max_bytes = values.get("max_bid_bytes")
    if max_bytes is not None and not (1 <= max_bytes <= 64 * 2**30):
        problems["max_bid_bytes"] = _("must be between 1 byte and 64 GiB")
    if problems:
        raise BadRequest(_("the tender's schedule is not valid"), details=problems)


FIELD_TYPES = frozenset({"money_fen", "integer", "decimal", "text", "choice"})
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _announced(message: str, **details: Any) -> BadRequest:
    """A problem of the announced fields, named as the tender form's field (``details.field``)."""
    return BadRequest(message, details={"field": "announced_fields", **details})


def validate_announced_fields(fields: Any) -> list[dict[str, Any]]:
    """The announced fields of the bid summary (唱标内容): a list of definitions with exactly one
    ``price`` of type ``money_fen`` (integer fen, never a float). Returns the normalised list."""
    if not isinstance(fields, list) or not fields:
        raise _announced(_("announced fields must be a non-empty list"))
    out, seen = [], set()
    for i, field in enumerate(fields):
        if not isinstance(field, dict):
            raise _announced(_("each announced field is an object"), index=i)
        key, kind = field.get("key"), field.get("type")
        label = field.get("label")
        if not isinstance(key, str) or not _KEY.match(key):
            raise _announced(_("an announced field key is lower_snake_case, up to 40 characters"), index=i, key=key)
        if key in seen:
            raise _announced(_("announced field keys are unique"), key=key)
        if kind not in FIELD_TYPES:
            raise _announced(_("unknown announced field type"), key=key, type=kind, allowed=sorted(FIELD_TYPES))
        if not isinstance(label, str) or not label.strip() or len(label) > 40:
            raise _announced(_("an announced field needs a label of 1 to 40 characters"), key=key)
        item = {"key": key, "type": kind, "label": label.strip(),
                "required": bool(field.get("required", True))}
        if "unit" in field:
            item["unit"] = str(field["unit"])[:20]
        if kind == "choice":
            choices = field.get("choices")
            if not isinstance(choices, list) or not choices or \
                    not all(isinstance(c, str) and c for c in choices):
                raise _announced(_("a choice field lists its choices"), key=key)
            item["choices"] = list(choices)
        seen.add(key)
        out.append(item)
    price = [f for f in out if f["key"] == "price"]
    if len(price) != 1 or price[0]["type"] != "money_fen" or not price[0]["required"]:
        raise _announced(_("the announced fields include a required 'price' of type money_fen"))
    return out


DEFAULT_ANNOUNCED_FIELDS = [
    {"key": "price", "type": "money_fen", "label": "投标报价", "unit": "元", "required": True},
    {"key": "duration_days", "type": "integer", "label": "工期", "unit": "日历天", "required": True},
    {"key": "quality", "type": "choice", "label": "质量", "choices": ["合格", "优良"], "required": True},
]
