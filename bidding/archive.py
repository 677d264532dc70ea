"""The bids' section of a tender's archive: every envelope received (current, replaced or withdrawn)
byte for byte, and its signed receipt. The offline verifier checks each receipt with the platform's
key and the envelope against it (``crypto.archive``'s ``receipts/`` check)."""

from __future__ import annotations

import json

from . import storage
from .models import BidSubmission


def write_bids(writer, lot) -> None:
    for submission in BidSubmission.objects.filter(lot=lot).order_by("received_at"):
        name = str(submission.pk)
        writer.write(f"receipts/{name}.json", json.dumps(submission.receipt, ensure_ascii=False,
                                                         sort_keys=True, indent=1) + "\n")
        with open(storage.absolute(submission.path), "rb") as envelope:
            writer.write_stream(f"envelopes/{name}.tenv", envelope)


def register() -> None:
    from audit.archive import SECTION_WRITERS

    SECTION_WRITERS["bids"] = write_bids
