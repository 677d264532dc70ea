"""Times as people read them: Beijing time (Asia/Shanghai), in the active language's format.

Machine formats (the audit log, receipts, the API) stay in UTC ISO 8601; these strings are only for
pages, PDFs and messages. ``zone=True`` states the zone, as a legal record does.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils.translation import get_language
from django.utils.translation import gettext as _

BEIJING = ZoneInfo("Asia/Shanghai")


def parse(value: datetime | str | None) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (``Z`` or an offset); None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("a naive datetime has no zone to convert from")
    return value


def beijing(value: datetime | str | None, *, seconds: bool = True, zone: bool = False) -> str:
    """``2026年12月03日 15:12:00`` (zh) or ``2026-12-03 15:12:00`` (en), Beijing time; "—" for None."""
    moment = parse(value)
    if moment is None:
        return "—"
    local = moment.astimezone(BEIJING)
    chinese = (get_language() or "zh-hans").lower().startswith("zh")
    text = local.strftime("%Y年%m月%d日 %H:%M" if chinese else "%Y-%m-%d %H:%M")
    if seconds:
        text += local.strftime(":%S")
    if zone:
        text += _(" (Beijing time, UTC+8)")
    return text
