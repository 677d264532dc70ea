"""The draw's published record (``kaibiao/draw-record/v1``, docs/draw.md): everything an outsider needs
to recompute the committee — parameters, commitments, the snapshot's exact text, the reveals, the
seed, the committee, the declines and replacements, and the lot's redraws. It carries expert ids,
never names (Law 37): ``GET /evaluation/draws/{id}/published`` serves it to whoever may see the draw,
and ``tools/verify_draw.py`` checks it with the standard library alone."""

from __future__ import annotations

from common.canonical import format_time

from .actions_draw import contributions_view
from .actions_redraw import lot_redraws
from .models import Draw
from .rules import draw_seed

RECORD_FORMAT = "kaibiao/draw-record/v1"


def _time(value) -> str | None:
    return None if value is None else format_time(value)


def published(row: Draw) -> dict:
    contributions = contributions_view(row)
    return {
        "format": RECORD_FORMAT,
        "draw_id": row.pk,
        "lot_id": row.lot_id,
        "state": row.state,
        "quotas": dict(sorted(row.quotas.items())),
        "params": row.params,
        "reveal_minutes": row.reveal_minutes,
        "beacon": None,
        "commitments": [{"party": c["party"], "commitment": c["commitment"],
                         "committed_at": _time(c["committed_at"])} for c in contributions],
        "snapshot": row.snapshot or None,
        "snapshot_sha256": row.snapshot_sha256 or None,
        "snapshot_at": _time(row.snapshot_at),
        "reveal_deadline": _time(row.reveal_deadline),
        "seed_format": draw_seed.SEED_FORMAT,
        "reveals": [{"party": c["party"], "revealed": c["revealed"], "value": c["value"]} for c in contributions],
        "seed": row.seed_hex or None,
        "committee": list(row.committee),
        "order_per_region": row.order_per_region,
        "excluded": row.excluded,
        "declined": list(row.declined),
        "replacements": [list(r) for r in row.replacements],
        "drawn_at": _time(row.drawn_at),
        "redraw_of": row.redraw_of_id,
        "redraws": [{**r, "requested_at": _time(r["requested_at"]), "decided_at": _time(r["decided_at"]),
                     "requested_by": None, "decided_by": None} for r in lot_redraws(row.lot)],
    }
