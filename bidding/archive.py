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
        try:
            envelope = open(storage.stored_envelope(submission), "rb")
        except FileNotFoundError:
            # The platform lost it (a platform fault the opening classified): say so, verifiably
            # absent rather than silently missing.
            writer.write(f"envelopes/{name}.missing", json.dumps(
                {"submission": name, "reason": "the stored envelope is missing"}) + "\n")
            continue
        with envelope:
            writer.write_stream(f"envelopes/{name}.tenv", envelope)


def write_opening(writer, lot) -> None:
    """The released file keys (public once opened) and the opening record with every bidder's
    confirmation and the key that signed it."""
    import base64

    from crypto.gm import SIGNATURE_ALGORITHMS

    from .models import BidderCertificate, Opening

    opening = Opening.objects.filter(lot=lot).first()
    if opening is None:
        return
    for bid in opening.bids.select_related("submission").order_by("submission__received_at"):
        if bid.file_key:
            writer.write(f"keys/{bid.submission_id}.json", json.dumps(
                {"submission": str(bid.submission_id), "file_key": bid.file_key,
                 "decrypted_by": bid.decrypted_by, "status": bid.status}, sort_keys=True) + "\n")
    if not opening.record:
        return
    keys_by_id = {c.key_id: c for c in BidderCertificate.objects.filter(
        organisation_id__in=opening.confirmations.values("organisation_id"))}
    confirmations = []
    for c in opening.confirmations.select_related("organisation").order_by("id"):
        cert = keys_by_id.get(c.key_id)
        confirmations.append({
            "organisation": c.organisation.name, "credit_code": c.organisation.credit_code,
            "state": c.state, "signature": c.signature, "key_id": c.key_id, "at": c.at.isoformat(),
            "algorithm": SIGNATURE_ALGORITHMS[opening.lot.cipher_suite] if c.signature else "",
            "public_key": base64.b64encode(bytes(cert.public_key)).decode() if cert else "",
            "certificate": cert.certificate_pem if cert else ""})
    writer.write("records/opening.json", json.dumps(
        {"format": "tender-opening-record/v1", "record": opening.record, "sha256": opening.record_hash,
         "confirmations": confirmations}, ensure_ascii=False, sort_keys=True, indent=1) + "\n")


def register() -> None:
    from audit.archive import SECTION_WRITERS

    SECTION_WRITERS["bids"] = write_bids
    SECTION_WRITERS["opening"] = write_opening
