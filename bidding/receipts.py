"""Receipts (回执) for stored bids: signed by the platform key of the tender's suite (Ed25519 for
``intl``, SM2 for ``gm``: ``crypto.receipt``), with the audit entry that records
the submission, a checkpoint issued right after it and the entry's inclusion proof.

The format and the offline verification are in ``crypto.receipt``; this module gathers the values
from the database. Call ``issue_receipt`` inside the submission's transaction, after its audit
entry: the checkpoint joins the transaction, so the receipt, the entry and the checkpoint commit
together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from audit.checkpoints import issue_checkpoint
from audit.keys import platform_signing_key, platform_sm2_signing_key, platform_sm2_vkey, platform_vkey
from audit.models import AuditEntry
from audit.tree import inclusion_proof
from common.canonical import format_time
from crypto import receipt as receipt_format

from .models import BidSubmission


def issue_receipt(submission: BidSubmission, entry: AuditEntry, *, now: datetime) -> dict[str, Any]:
    lot = submission.lot
    org = submission.organisation
    body = receipt_format.make_body(
        platform=settings.AUDIT_ORIGIN, submission=str(submission.pk), tender=lot.project.code,
        lot=lot.code, bidder_name=org.name, credit_code=org.credit_code, sha256=submission.sha256,
        size=submission.size, commitment=submission.commitment, key_id=submission.key_id,
        received_at=format_time(submission.received_at), audit_index=entry.index, suite=lot.cipher_suite)
    checkpoint = issue_checkpoint("bid receipt", now=now)
    proof = inclusion_proof(entry.index, checkpoint.size)
    return receipt_format.sign_receipt(
        body, platform_sm2_signing_key() if lot.cipher_suite == "gm" else platform_signing_key(), audit_entry=entry.body, checkpoint=checkpoint.note,
        proof_index=entry.index, proof_size=checkpoint.size, proof_hashes=proof.hashes)


def verify_stored_receipt(submission: BidSubmission) -> dict[str, Any]:
    """Re-verify a stored receipt with the platform's own key (for checks and tests)."""
    return receipt_format.verify_receipt(submission.receipt, platform_vkey(), sm2_vkey=platform_sm2_vkey())
