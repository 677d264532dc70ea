"""The seam between the opening and the evaluation: the bids the committee evaluates.

``bids_for_evaluation(lot)`` is the only way the evaluation reads bids. Today it reads
``EvaluationBid`` rows; the opening (issue of the opening hall) fills them from the decrypted bids,
so nothing in the evaluation changes when it lands. A session copies these into its own
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
    from .models import EvaluationBid

    rows = EvaluationBid.objects.filter(lot=lot).order_by("bidder_org_id")
    return [BidInput(r.bidder_org_id, r.bidder_name, r.credit_code, int(r.price_fen), dict(r.announced))
            for r in rows]
