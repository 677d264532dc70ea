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

    An organisation has at most one ISSUED certificate per suite at a time (a P-256 one and an SM2
    one, as on a dual-certificate key); issuing a new one (renewal, or a new key) marks the previous
    one of the same suite SUPERSEDED and leaves the other suite's alone.
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
    # The key's suite (docs/envelope.md): "intl" a P-256 key, "gm" an SM2 key; a tender accepts only
    # certificates of its own cipher suite.
    suite = models.CharField(max_length=8, default="intl", choices=[("intl", "intl"), ("gm", "gm")])
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
        constraints = [
            models.UniqueConstraint(fields=["organisation", "suite"], condition=models.Q(status="issued"),
                                    name="one_issued_certificate_per_organisation_suite"),
            models.CheckConstraint(condition=models.Q(suite__in=["intl", "gm"]), name="certificate_suite_known"),
        ]

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
    # A completion asked for before the deadline whose receipt could not be signed (the platform's
    # HSM away): pending, not lost (bidding/pending.py). The time every byte was in and completion
    # was asked for, the SHA-256 the server computed of them then, and who asked.
    completion_requested_at = models.DateTimeField(null=True, blank=True)
    completion_sha256 = models.CharField(max_length=64, blank=True)
    completion_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                        blank=True, related_name="+")
    completion_next_try = models.DateTimeField(null=True, blank=True)  # the ticker's next attempt
    completion_kept_at = models.DateTimeField(null=True, blank=True)  # kept at the deadline (audited once)


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
    """A person who holds escrow shares, with the public keys shares are sealed to: P-256 for
    ``intl`` tenders, SM2 for ``gm`` ones (either may be empty until registered)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="custodian")
    public_key = models.BinaryField(max_length=65)
    key_id = models.CharField(max_length=16)
    sm2_public_key = models.BinaryField(max_length=65, default=b"", blank=True)
    sm2_key_id = models.CharField(max_length=16, default="", blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()


class EscrowKey(models.Model):
    """A tender's backup-decryption set-up (docs/opening.md, "Backup decryption").

    ``scheme`` "shares" (tender-envelope/v2): no key at all; the tender names its custodians
    (``EscrowShare`` rows, each with the custodian's own public key as it was at set-up) and the
    threshold, and each bidder's sealer splits its own file key among them. ``public_key`` and
    ``key_id`` are empty. ``scheme`` "dealer" (tender-envelope/v1, set-ups made before v2): a dealt
    escrow key pair whose private half exists only as the custodians' sealed shares; read only.
    """

    class Scheme(models.TextChoices):
        DEALER = "dealer"
        SHARES = "shares"

    lot = models.OneToOneField("bidding.Lot", on_delete=models.PROTECT, related_name="escrow")
    scheme = models.CharField(max_length=10, choices=Scheme.choices, default=Scheme.SHARES)
    public_key = models.BinaryField(max_length=65, blank=True, default=b"")
    key_id = models.CharField(max_length=16, blank=True)
    threshold = models.PositiveSmallIntegerField()
    count = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()


class EscrowShare(models.Model):
    """A custodian's place in a tender's set-up: its share ``index`` and the key its share of every
    bid is wrapped to (``public_key``/``key_id``, fixed at set-up: re-registering a key later does
    not change what bidders seal to). ``sealed`` is the dealt share of the "dealer" scheme only."""

    escrow = models.ForeignKey(EscrowKey, on_delete=models.PROTECT, related_name="shares")
    custodian = models.ForeignKey(Custodian, on_delete=models.PROTECT, related_name="shares")
    index = models.PositiveSmallIntegerField()
    public_key = models.BinaryField(max_length=65, blank=True, default=b"")
    key_id = models.CharField(max_length=16, blank=True)
    sealed = models.BinaryField(blank=True, default=b"")  # dealer scheme: crypto.shamir.seal_share

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["escrow", "custodian"], name="one_share_per_custodian"),
            models.UniqueConstraint(fields=["escrow", "index"], name="one_share_per_index"),
        ]


class EscrowRecovery(models.Model):
    """A backup-decryption session for one bid (shares scheme): opened by the host in the backup
    window for a recorded reason; custodians release their shares of this one bid into it."""

    class Status(models.TextChoices):
        OPEN = "open"
        RECOVERED = "recovered"
        LAPSED = "lapsed"  # the bid's backup window ended before k shares made its key

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(BidSubmission, on_delete=models.PROTECT, related_name="recoveries")
    reason = models.CharField(max_length=30)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    recovered_at = models.DateTimeField(null=True, blank=True)
    next_check = models.DateTimeField(null=True, blank=True, db_index=True)  # the window's end (ticker)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["submission"], condition=models.Q(status="open"),
                                               name="one_open_recovery_per_bid")]


class EscrowRelease(models.Model):
    """One custodian's released share of one bid's file key. ``share`` (the 32-byte y value) is
    kept only while the recovery waits for the threshold, and erased once it recovered;
    ``share_sha256`` stays as the record of what was released."""

    recovery = models.ForeignKey(EscrowRecovery, on_delete=models.PROTECT, related_name="releases")
    custodian = models.ForeignKey(Custodian, on_delete=models.PROTECT, related_name="+")
    index = models.PositiveSmallIntegerField()
    share = models.BinaryField(blank=True, default=b"")
    share_sha256 = models.CharField(max_length=64)
    released_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recovery", "custodian"], name="one_release_per_custodian"),
            models.UniqueConstraint(fields=["recovery", "index"], name="one_release_per_index"),
        ]


class KeyCheck(models.Model):
    """A pre-opening key check (docs/sealbid.md, "Checking your key before the deadline"): a test
    envelope the platform sealed to the organisation's current certificate, and whether the bidder
    answered with its file key. The platform keeps the header only: the header's commitment is what
    the answer is checked against, so no secret is stored."""

    class Status(models.TextChoices):
        ISSUED = "issued"
        PASSED = "passed"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    certificate = models.ForeignKey(BidderCertificate, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    key_id = models.CharField(max_length=16)
    header = models.BinaryField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUED)
    created_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
