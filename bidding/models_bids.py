"""Sealed bids: bidder certificates, resumable uploads, submissions, and backup-decryption escrow.

Imported by ``bidding.models`` so Django sees these models in the ``bidding`` app.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation


class BidderCertificate(models.Model):
    """A bidder's key: requested with a CSR, issued by the platform CA after approval, revocable.

    An organisation has at most one ISSUED certificate at a time; issuing a new one (renewal, or a
    new key) marks the previous one SUPERSEDED.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        ISSUED = "issued"
        REJECTED = "rejected"
        REVOKED = "revoked"
        SUPERSEDED = "superseded"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="certificates")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    csr_pem = models.TextField()
    public_key = models.BinaryField(max_length=65)
    key_id = models.CharField(max_length=16, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    serial = models.CharField(max_length=40, blank=True)
    certificate_pem = models.TextField(blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("bidder certificate")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(
            fields=["organisation"], condition=models.Q(status="issued"),
            name="one_issued_certificate_per_organisation")]

    def is_current(self, now: datetime) -> bool:
        return (self.status == self.Status.ISSUED and self.not_before is not None
                and self.not_before <= now < self.not_after)


class BidUpload(models.Model):
    """A resumable upload in progress. ``offset`` is durable: bytes below it are fsync'd on disk."""

    class Status(models.TextChoices):
        OPEN = "open"
        COMPLETE = "complete"
        ABORTED = "aborted"  # by the bidder, or void at the deadline (counts as withdrawn)
        REFUSED = "refused"  # completed, but the envelope was refused

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, blank=True)
    offset = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class BidSubmission(models.Model):
    """A stored, receipted envelope. One CURRENT per lot and organisation."""

    class Status(models.TextChoices):
        CURRENT = "current"
        SUPERSEDED = "superseded"
        WITHDRAWN = "withdrawn"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="submissions")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    upload = models.OneToOneField(BidUpload, on_delete=models.PROTECT, null=True, related_name="+")
    certificate = models.ForeignKey(BidderCertificate, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CURRENT,
                              db_index=True)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    commitment = models.CharField(max_length=43)
    key_id = models.CharField(max_length=16)
    escrow_key_id = models.CharField(max_length=16, blank=True)
    header = models.BinaryField()  # the envelope's header: public, needed to open it
    path = models.CharField(max_length=300)  # relative to settings.STORAGE_DIR
    received_at = models.DateTimeField()
    audit_index = models.BigIntegerField()
    receipt = models.JSONField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bid submission")
        ordering = ["received_at"]
        constraints = [models.UniqueConstraint(
            fields=["lot", "organisation"], condition=models.Q(status="current"),
            name="one_current_submission_per_bidder")]


class Custodian(models.Model):
    """A person who holds escrow shares, with the P-256 public key shares are sealed to."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="custodian")
    public_key = models.BinaryField(max_length=65)
    key_id = models.CharField(max_length=16)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()


class EscrowKey(models.Model):
    """A tender's escrow public key. Its private half exists only as sealed shares."""

    lot = models.OneToOneField("bidding.Lot", on_delete=models.PROTECT, related_name="escrow")
    public_key = models.BinaryField(max_length=65)
    key_id = models.CharField(max_length=16)
    threshold = models.PositiveSmallIntegerField()
    count = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()


class EscrowShare(models.Model):
    escrow = models.ForeignKey(EscrowKey, on_delete=models.PROTECT, related_name="shares")
    custodian = models.ForeignKey(Custodian, on_delete=models.PROTECT, related_name="shares")
    index = models.PositiveSmallIntegerField()
    sealed = models.BinaryField()  # HPKE to the custodian's key (crypto.shamir.seal_share)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["escrow", "custodian"], name="one_share_per_custodian"),
            models.UniqueConstraint(fields=["escrow", "index"], name="one_share_per_index"),
        ]
