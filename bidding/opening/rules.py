"""Pure rules of the opening hall: the announced fields of a decrypted bid, money as 元, the random
coefficient (下浮系数/K) and the opening record's hash and signature message. No ORM, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal, InvalidOperation
from typing import Any

from common.canonical import canonical_json

COEFFICIENT_LABEL = b"kaibiao/coefficient/v1"
RECORD_FORMAT = "tender-opening-record/v1"
DEFAULT_K_STEP = "0.01"


def fen_to_yuan(fen: int) -> str:
    """123456789 → "1234567.89" (Decimal, never float)."""
    return str((Decimal(int(fen)) / 100).quantize(Decimal("0.01")))


def check_manifest(manifest: Any, fields: list[dict[str, Any]], *,
                   expected: dict[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The announced values of a bid's ``manifest.json`` and the problems found (empty when valid).

    Types follow the tender's field definitions: ``money_fen`` and ``integer`` are JSON integers
    (never floats or strings; fen are not negative), ``decimal`` a decimal string, ``choice`` one of
    its choices, anything else a string. ``expected`` (tender, lot, bidder) is compared when the
    manifest names them.
    """
    problems: list[str] = []
    if not isinstance(manifest, dict):
        return {}, ["manifest.json is not a JSON object"]
    if manifest.get("format") != "tender-bid/v1":
        problems.append("manifest format is not tender-bid/v1")
    for key, want in (expected or {}).items():
        if key in manifest and manifest[key] != want:
            problems.append(f"manifest names {key} {manifest[key]!r}, not {want!r}")
    given = manifest.get("fields")
    if not isinstance(given, dict):
        return {}, problems + ["manifest has no fields object"]
    values: dict[str, Any] = {}
    known = {d["key"]: d for d in fields}
    for key in sorted(set(given) - set(known)):
        problems.append(f"unknown field {key}")
    for key, d in known.items():
        if key not in given:
            if d.get("required", True):
                problems.append(f"missing field {key}")
            continue
        value, kind = given[key], d.get("type", "text")
        if kind in ("money_fen", "integer"):
            ok = isinstance(value, int) and not isinstance(value, bool) and (kind == "integer" or value >= 0)
        elif kind == "decimal":
            ok = isinstance(value, str) and _is_decimal(value)
        elif kind == "choice":
            ok = isinstance(value, str) and value in d.get("choices", [])
        else:
            ok = isinstance(value, str) and len(value) <= 1000
        if ok:
            values[key] = value
        else:
            problems.append(f"field {key} is not a valid {kind}")
    return values, problems


def _is_decimal(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def display_fields(values: dict[str, Any], fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The announced values in the tender's order, money shown as 元 with two decimals."""
    out = []
    for d in fields:
        if d["key"] not in values:
            continue
        value = values[d["key"]]
        shown = fen_to_yuan(value) if d.get("type") == "money_fen" else str(value)
        out.append({"key": d["key"], "label": d.get("label", d["key"]), "value": value, "shown": shown,
                    "unit": d.get("unit", "")})
    return out


# --- The random coefficient ---------------------------------------------------------------------

def coefficient_commitment(seed: bytes) -> str:
    """SHA-256 of the 32-byte seed, hex: published at the deadline, before any bid is opened."""
    return hashlib.sha256(seed).hexdigest()


def coefficient_range(settings: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    k_min, k_max = Decimal(str(settings.get("k_min", "-3"))), Decimal(str(settings.get("k_max", "0")))
    step = Decimal(str(settings.get("k_step", DEFAULT_K_STEP)))
    if step <= 0 or k_max < k_min:
        raise ValueError("the coefficient range needs k_min <= k_max and a positive step")
    return k_min, k_max, step


def coefficient_value(seed: bytes, k_min: Decimal, k_max: Decimal, step: Decimal) -> Decimal:
    """The coefficient drawn by ``seed``: ``h = HMAC-SHA256(seed, "kaibiao/coefficient/v1")`` read as a
    big-endian integer, ``n = floor((k_max - k_min) / step) + 1`` possible values, and
    ``k_min + (h mod n) × step`` (the bias of the modulo is below 2⁻²⁴⁰). Anyone holding the
    revealed seed recomputes it; the seed's SHA-256 was published before the bids were opened."""
    h = int.from_bytes(hmac.digest(seed, COEFFICIENT_LABEL, hashlib.sha256), "big")
    n = int((k_max - k_min) // step) + 1
    return (k_min + (h % n) * step).quantize(step)


# --- The opening record -------------------------------------------------------------------------

def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


def confirmation_message(record_hash_hex: str) -> bytes:
    """What a bidder signs (ECDSA P-256 with SHA-256) to confirm the record."""
    return f"{RECORD_FORMAT} confirm {record_hash_hex}".encode("ascii")
