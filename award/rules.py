"""The rules after the evaluation, pure (no ORM, no clock: callers pass ``now``).

- Candidates' publicity (中标候选人公示, 实施条例 54): published from the signed report for at least
  ``min_days`` (3) days of server time; the period is ``[starts_at, ends_at)``.
- Objections (异议) to the result are raised during the period; the tenderer answers within
  ``answer_days`` (3) days of receiving one, and the procedure is suspended until every objection
  is answered: no award while one is open.
- The award follows the end of the publicity with no open objection; the winner is the first
  candidate, or another candidate with a stated reason (the first gave up, 实施条例 55).
- Deposits are refunded at the latest 5 days after the contract is signed (实施条例 57).
- Attachments to an objection are bounded in number and size (they travel in a JSON body).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Sequence

from common.errors import BadRequest, ErrorCode, PlatformError

MIN_PUBLICITY_DAYS = 3  # 实施条例 54
MAX_PUBLICITY_DAYS = 30
ANSWER_DAYS = 3  # 实施条例 54
REFUND_DAYS = 5  # 实施条例 57
MAX_TEXT = 5000
MAX_ATTACHMENTS = 3
MAX_ATTACHMENT_BYTES = 200 * 1024
MAX_ATTACHMENTS_TOTAL = 512 * 1024
_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,120}$")
ATTACHMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})


def invalid(message: str, reason: str, **details) -> PlatformError:
    return PlatformError(ErrorCode.INVALID_STATE, message, details={"reason": reason, **details})


def publicity_period(now: datetime, days: int, *, min_days: int = MIN_PUBLICITY_DAYS) -> tuple[datetime, datetime]:
    """The period of a publicity starting ``now``: ``days`` whole days, at least ``min_days``."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise BadRequest("the publicity's length is a whole number of days", details={"field": "days"})
    if days < min_days:
        raise BadRequest(f"the candidates are published for at least {min_days} days (Implementing Regulations art. 54)",
                         details={"field": "days", "min_days": min_days})
    if days > MAX_PUBLICITY_DAYS:
        raise BadRequest(f"a publicity lasts at most {MAX_PUBLICITY_DAYS} days",
                         details={"field": "days", "max_days": MAX_PUBLICITY_DAYS})
    return now, now + timedelta(days=days)


def check_objection_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if not (starts_at <= now < ends_at):
        raise invalid("objections to the candidates are raised during the publicity", "publicity_closed",
                      ends_at=ends_at.isoformat())


def answer_due(raised_at: datetime, *, answer_days: int = ANSWER_DAYS) -> datetime:
    return raised_at + timedelta(days=answer_days)


def check_text(value, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(f"{field} is required", details={"field": field})
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{field} is at most {MAX_TEXT} characters", details={"field": field, "max": MAX_TEXT})
    if "\x00" in value:  # PostgreSQL keeps no NUL in text
        raise BadRequest(f"{field} holds a NUL character", details={"field": field})
    return value.strip()


def check_attachments(items: Sequence[tuple[str, str, int]]) -> None:
    """``items``: (name, content type, decoded size) of each attachment."""
    if len(items) > MAX_ATTACHMENTS:
        raise BadRequest(f"at most {MAX_ATTACHMENTS} attachments", details={"field": "attachments",
                                                                            "max": MAX_ATTACHMENTS})
    total = 0
    for name, kind, size in items:
        if not isinstance(name, str) or not _NAME.match(name):
            raise BadRequest("an attachment's name is 1 to 120 characters, no path", details={"field": "attachments"})
        if kind not in ATTACHMENT_TYPES:
            raise BadRequest("an attachment is a PDF, PNG, JPEG or plain text",
                             details={"field": "attachments", "allowed": sorted(ATTACHMENT_TYPES)})
        if size < 1 or size > MAX_ATTACHMENT_BYTES:
            raise BadRequest(f"an attachment is 1 byte to {MAX_ATTACHMENT_BYTES} bytes",
                             details={"field": "attachments", "max_bytes": MAX_ATTACHMENT_BYTES})
        total += size
    if total > MAX_ATTACHMENTS_TOTAL:
        raise BadRequest(f"the attachments are at most {MAX_ATTACHMENTS_TOTAL} bytes together",
                         details={"field": "attachments", "max_bytes": MAX_ATTACHMENTS_TOTAL})


def check_award(*, ends_at: datetime, now: datetime, open_objections: int, candidates: Sequence[str],
                winner: str, reason: str, overdue_objections: int = 0) -> None:
    """May the award be made now, to ``winner`` (a candidate's code)?"""
    if now < ends_at:
        raise invalid("the award waits for the end of the candidates' publicity", "publicity_running",
                      ends_at=ends_at.isoformat())
    if open_objections:
        raise invalid("an objection is not answered: the award is suspended (Implementing Regulations art. 54)", "objection_open",
                      open=open_objections, overdue=overdue_objections)
    if not candidates:
        raise invalid("the report recommends no candidate", "no_candidate")
    if winner not in candidates:
        raise BadRequest("the winner is one of the recommended candidates", details={"field": "winner",
                                                                                     "candidates": list(candidates)})
    if winner != candidates[0] and not reason.strip():
        raise BadRequest("another candidate than the first is chosen only with a reason (Implementing Regulations art. 55)",
                         details={"field": "reason"})


def refund_due(contract_signed_at: datetime, *, refund_days: int = REFUND_DAYS) -> datetime:
    return contract_signed_at + timedelta(days=refund_days)
