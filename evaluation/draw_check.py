"""Recompute a draw from what was published, and hold the database to what the audit log recorded
(docs/draw.md). The threat is an insider with the database: the snapshot, the commitments, the
reveals and the seed in the ``Draw`` rows must be the ones the draw's audit entries (hashed into the
tamper-evident log when each step happened) name, and the committee must follow from them."""

from __future__ import annotations

import hashlib
import hmac
import json

from audit.models import AuditEntry, AuditPending
from common.errors import ErrorCode, PlatformError

from .actions_draw import parse_snapshot, reveals
from .models import Draw
from .rules import draw as rules_draw
from .rules import draw_seed


def _mismatch(what: str) -> PlatformError:
    return PlatformError(ErrorCode.CONFLICT, f"the draw does not verify: {what}", details={"mismatch": what})


def audited(row: Draw, action: str) -> dict | None:
    """The ``data`` of the draw's latest audit entry ``action`` (sequenced or still queued), or None."""
    entry = (AuditEntry.objects.filter(action=action, object_type="evaluation.draw", object_id=str(row.pk))
             .order_by("-index").values_list("body", flat=True).first())
    if entry is None:
        queued = (AuditPending.objects.filter(action=action, object_type="evaluation.draw", object_id=str(row.pk))
                  .order_by("-id").values_list("prefix", "suffix").first())
        if queued is None:
            return None
        entry = f"{queued[0]}0{queued[1]}"
    return json.loads(entry)["data"]


def verify(row: Draw) -> None:
    """``conflict`` (details ``mismatch``) unless the rows agree with the audit log and the committee
    is the one the published material gives; ``invalid_state`` before the draw is computed."""
    if row.state not in (Draw.State.DRAWN, Draw.State.SUPERSEDED) or not row.seed_hex:
        raise PlatformError(ErrorCode.INVALID_STATE, "the draw is not computed yet")
    if row.seed_commitment:  # a single-seed draw made before the commit-reveal steps
        rules_draw.verify_draw(parse_snapshot(row.snapshot), row.quotas, bytes.fromhex(row.seed_hex),
                               row.seed_commitment, row.committee, declined=row.declined)
        return
    if hashlib.sha256(row.snapshot.encode("utf-8")).hexdigest() != row.snapshot_sha256:
        raise _mismatch("snapshot")
    opened = audited(row, "evaluation.draw.opened")
    published = audited(row, "evaluation.draw.snapshot_published")
    drawn = audited(row, "evaluation.draw.drawn")
    if opened is None or published is None or drawn is None:
        raise _mismatch("audit entries")
    if opened["quotas"] != row.quotas or opened["params"] != row.params:
        raise _mismatch("parameters")
    declines = [json.loads(body)["data"]["declined"] for body in AuditEntry.objects.filter(
        action="evaluation.draw.declined", object_type="evaluation.draw", object_id=str(row.pk)).order_by(
        "index").values_list("body", flat=True)]
    if declines != list(row.declined):
        raise _mismatch("declines")
    commitments = dict(row.contributions.values_list("party", "commitment"))
    if published["snapshot_sha256"] != row.snapshot_sha256:
        raise _mismatch("snapshot")
    if published["commitments"] != commitments:
        raise _mismatch("commitments")
    values = reveals(row)
    if drawn["reveals"] != {p: None if v is None else v.hex() for p, v in values.items()}:
        raise _mismatch("reveals")
    for party, value in values.items():
        if value is not None:
            draw_seed.check_reveal(row.pk, party, value, commitments[party])
    seed = draw_seed.derive_seed(row.pk, row.snapshot_sha256, values)
    if not hmac.compare_digest(seed.hex(), row.seed_hex) or drawn["seed"] != row.seed_hex:
        raise _mismatch("seed")
    try:
        rules_draw.verify_draw(parse_snapshot(row.snapshot), row.quotas, seed, rules_draw.commit(seed),
                               row.committee, declined=row.declined)
    except PlatformError:
        raise _mismatch("committee") from None
