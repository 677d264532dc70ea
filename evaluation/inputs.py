"""The seam between the opening and the evaluation: the bids the committee evaluates.

``bids_for_evaluation(lot)`` is the only way the evaluation reads bids. Today it reads
``EvaluationBid`` rows when a lot has them, else the bids its closed online opening decrypted. A session copies these into its own
``SessionBidder`` rows when it is created: later changes to the inputs do not move a running
evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BidInput:
    bidder_org_id: int
    bidder_name: str
    credit_code: str
    price_fen: int
    announced: dict[str, Any] = field(default_factory=dict)


def bids_for_evaluation(lot) -> list[BidInput]:
    """``EvaluationBid`` rows when the lot has them (a tender whose bids came in another way);
    otherwise the bids its online opening decrypted, once that opening is closed — revoked and
    withdrawn bids are not evaluated."""
    from .models import EvaluationBid

    rows = EvaluationBid.objects.filter(lot=lot).order_by("bidder_org_id")
    if rows.exists():
        return [BidInput(r.bidder_org_id, r.bidder_name, r.credit_code, int(r.price_fen), dict(r.announced))
                for r in rows]
    return _opened_bids(lot)


def _opened_bids(lot) -> list[BidInput]:
    from bidding.models import Opening, OpeningBid

    opening = Opening.objects.filter(lot=lot).first()
    if opening is None or opening.phase != "closed":
        return []
    bids = opening.bids.filter(status=OpeningBid.Status.DECRYPTED).select_related("organisation")
    return [BidInput(b.organisation_id, b.organisation.name, b.organisation.credit_code or "",
                     int(b.values["price"]), dict(b.values))
            for b in sorted(bids, key=lambda b: b.organisation_id) if "price" in b.values]
