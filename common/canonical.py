"""Canonical JSON and the one time format: what is hashed and signed (audit entries, room events,
the opening record, the evaluation report) must serialise the same way everywhere."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not serialisable in an audit entry: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: the same value always hashes the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default, allow_nan=False)


def format_time(value: datetime) -> str:
    """UTC with microseconds and a ``Z``: ``2026-12-03T08:36:35.000000Z``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
