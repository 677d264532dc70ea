"""The draw's seed from commit-reveal contributions (``kaibiao/draw-seed/v1``, docs/draw.md).

Nobody chooses the seed alone. Before the pool snapshot is published each party — the platform, the
supervisor on duty and the host — commits to a 32-byte random value::

    commitment = SHA-256("kaibiao/draw-commit/v1" 0x00 || draw id (decimal ASCII) || 0x00
                         || party (ASCII) || 0x00 || value (32 bytes))          -> lowercase hex

After the snapshot each party reveals its value; a value that does not give its commitment is
refused. The seed is the SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of::

    {"format": "kaibiao/draw-seed/v1", "draw": id, "snapshot_sha256": hex,
     "reveals": [["platform", hex | null], ["supervisor", hex | null], ["host", hex | null]],
     "beacon": null}

in exactly that party order; ``null`` is a contribution withheld past the reveal deadline. A draw
needs at least one revealed contribution from a party other than the platform (``enough_reveals``),
otherwise it lapses: the platform knows its own value before it publishes the snapshot, so a seed
made of the platform's value alone could be steered by choosing the snapshot.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Mapping

from common.canonical import canonical_json
from common.errors import BadRequest, ErrorCode, PlatformError

COMMIT_LABEL = b"kaibiao/draw-commit/v1\x00"
SEED_FORMAT = "kaibiao/draw-seed/v1"
PLATFORM, SUPERVISOR, HOST = "platform", "supervisor", "host"
PARTIES = (PLATFORM, SUPERVISOR, HOST)  # the documented order of the reveals in the seed
_HEX64 = re.compile(r"[0-9a-f]{64}")


def parse_hex32(text: object, what: str) -> bytes:
    """32 bytes as 64 lowercase (or uppercase) hex digits; anything else is a ``bad_request``."""
    if not isinstance(text, str) or not _HEX64.fullmatch(text.lower()):
        raise BadRequest(f"the {what} is 32 bytes as 64 hex digits", details={"field": what})
    return bytes.fromhex(text)


def commitment(draw_id: int, party: str, value: bytes) -> str:
    if party not in PARTIES:
        raise BadRequest("a contribution's party is platform, supervisor or host", details={"party": party})
    if len(value) != 32:
        raise BadRequest("a contribution is 32 bytes")
    message = COMMIT_LABEL + str(int(draw_id)).encode() + b"\x00" + party.encode() + b"\x00" + value
    return hashlib.sha256(message).hexdigest()


def check_reveal(draw_id: int, party: str, value: bytes, committed: str) -> None:
    """A reveal must give its party's commitment (``conflict`` otherwise: the contribution cannot be
    changed once committed)."""
    if not hmac.compare_digest(commitment(draw_id, party, value), committed.lower()):
        raise PlatformError(ErrorCode.CONFLICT, "the value does not match the commitment made before the "
                            "snapshot: a contribution cannot be changed", details={"party": party})


def enough_reveals(reveals: Mapping[str, bytes | None]) -> bool:
    return any(reveals.get(p) is not None for p in PARTIES if p != PLATFORM)


def seed_message(draw_id: int, snapshot_sha256: str, reveals: Mapping[str, bytes | None]) -> bytes:
    body = {"format": SEED_FORMAT, "draw": int(draw_id), "snapshot_sha256": snapshot_sha256,
            "reveals": [[p, None if reveals.get(p) is None else reveals[p].hex()] for p in PARTIES],
            "beacon": None}
    return canonical_json(body).encode("utf-8")


def derive_seed(draw_id: int, snapshot_sha256: str, reveals: Mapping[str, bytes | None]) -> bytes:
    """The draw's seed (see the module docstring); ``invalid_state`` without a non-platform reveal."""
    if set(reveals) - set(PARTIES):
        raise BadRequest("reveals come from the platform, the supervisor and the host")
    if not enough_reveals(reveals):
        raise PlatformError(ErrorCode.INVALID_STATE, "no contribution besides the platform's was revealed: "
                            "the draw lapses")
    return hashlib.sha256(seed_message(draw_id, snapshot_sha256, reveals)).digest()
