"""The opening hall's records: the opening's phase state and timers, each bid's decryption, the
objections, the private chat with the host and the confirmations of the opening record.

Imported by ``bidding.models`` so Django sees these models in the ``bidding`` app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation

from .phases import OpeningState, Phase


class Opening(models.Model):
    """One per lot, created when sign-in opens or at the deadline (whichever the ticker reaches
    first). Holds ``bidding.phases.OpeningState`` and ``next_check``, the ticker's due time for the
    running window."""

    lot = models.OneToOneField("bidding.Lot", on_delete=models.PROTECT, related_name="opening")
    phase = models.CharField(max_length=20, default=Phase.SCHEDULED, db_index=True)
    paused = models.BooleanField(default=False)
    pause_reason = models.CharField(max_length=500, blank=True)
    decryption_ends_at = models.DateTimeField(null=True, blank=True)
    confirmation_ends_at = models.DateTimeField(null=True, blank=True)
    remaining = models.DurationField(null=True, blank=True)
    next_check = models.DateTimeField(null=True, blank=True, db_index=True)
    bids_on_file = models.IntegerField(null=True, blank=True)
    # The coefficient's seed stays secret until the host draws; its SHA-256 is public from the deadline.
    coefficient_seed = models.CharField(max_length=64, blank=True)
    coefficient_commitment = models.CharField(max_length=64, blank=True)
    coefficient_value = models.CharField(max_length=24, blank=True)
    coefficient_drawn_at = models.DateTimeField(null=True, blank=True)
    announcement = models.JSONField(null=True, blank=True)
    record = models.JSONField(null=True, blank=True)
    record_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("opening")

    def state(self) -> OpeningState:
        return OpeningState(phase=Phase(self.phase), paused=self.paused, pause_reason=self.pause_reason,
                            decryption_ends_at=self.decryption_ends_at,
                            confirmation_ends_at=self.confirmation_ends_at, remaining=self.remaining)

    def set_state(self, state: OpeningState) -> None:
        self.phase, self.paused, self.pause_reason = state.phase.value, state.paused, state.pause_reason
        self.decryption_ends_at, self.confirmation_ends_at = state.decryption_ends_at, state.confirmation_ends_at
        self.remaining = state.remaining
        self.next_check = state.next_due()


class OpeningBid(models.Model):
    """A bid on file at the deadline and what became of it at the opening."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DECRYPTED = "decrypted"
        REVOKED = "revoked"  # 撤销: not decrypted through the bidder's fault
        WITHDRAWN = "withdrawn"  # 撤回: not decrypted through the platform's fault

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="bids")
    submission = models.OneToOneField("bidding.BidSubmission", on_delete=models.PROTECT,
                                      related_name="opening_bid")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file_key = models.CharField(max_length=64, blank=True)  # released (base64): public after opening
    decrypted_by = models.CharField(max_length=10, blank=True)  # "bidder" or "escrow"
    values = models.JSONField(default=dict)
    problems = models.JSONField(default=list)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=40, blank=True)
    platform_error = models.CharField(max_length=500, blank=True)
    plaintext_path = models.CharField(max_length=300, blank=True)
    decrypted_at = models.DateTimeField(null=True, blank=True)
    classified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submission__received_at", "id"]


class Objection(models.Model):
    """An objection (异议) raised in the hall and the host's answer on the spot (实施条例 44)."""

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="objections")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.CharField(max_length=1000)
    raised_at = models.DateTimeField()
    phase = models.CharField(max_length=20)
    answer = models.CharField(max_length=1000, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class ChatMessage(models.Model):
    """A message of the private chat between one bidder organisation and the host."""

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="chat")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_role = models.CharField(max_length=10)
    text = models.CharField(max_length=300)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]


class RecordConfirmation(models.Model):
    class State(models.TextChoices):
        CONFIRMED = "confirmed"
        OBJECTED = "objected"
        DEEMED = "deemed"  # did not act within the window: deemed to accept

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="confirmations")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices)
    signature = models.CharField(max_length=200, blank=True)
    key_id = models.CharField(max_length=16, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["opening", "organisation"],
                                               name="one_confirmation_per_bidder")]
