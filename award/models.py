"""After the evaluation: the candidates' publicity, objections to it, the award and its notices,
the deposits' refunds (docs/award.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Organisation


class Publicity(models.Model):
    """The candidates published from the signed report (中标候选人公示). ``content`` is what the
    public page and the API show, frozen at publication; ``report_sha256`` the report it came from."""

    lot = models.OneToOneField("bidding.Lot", on_delete=models.PROTECT, related_name="publicity")
    session_id = models.BigIntegerField()
    report_sha256 = models.CharField(max_length=64)
    content = models.JSONField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")


class Objection(models.Model):
    class State(models.TextChoices):
        OPEN = "open"
        ANSWERED = "answered"

    publicity = models.ForeignKey(Publicity, on_delete=models.PROTECT, related_name="objections")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, related_name="+")
    grounds = models.TextField()
    contact = models.CharField(max_length=200)
    raised_at = models.DateTimeField()
    answer_due = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    # Set by the ticker once the answer is overdue (``award.deadlines``): the host is reminded, the
    # supervisors alerted, the award stays suspended until the answer (实施条例 54).
    overdue_at = models.DateTimeField(null=True, blank=True)


class ObjectionAttachment(models.Model):
    objection = models.ForeignKey(Objection, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()


class Award(models.Model):
    """The award (定标): the winner among the candidates; the lot is completed (read-only) with it."""

    lot = models.OneToOneField("bidding.Lot", on_delete=models.PROTECT, related_name="award")
    publicity = models.OneToOneField(Publicity, on_delete=models.PROTECT, related_name="award")
    winner_code = models.CharField(max_length=8)
    winner = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    price_fen = models.BigIntegerField()
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    contract_signed_at = models.DateTimeField(null=True, blank=True)
    refund_due = models.DateTimeField(null=True, blank=True)  # 实施条例 57


class Notice(models.Model):
    """A signed notice to one bidder: the award notice (中标通知书) to the winner, the result notice
    (中标结果通知书) to the others. ``document`` is ``kaibiao/award-notice/v1``; ``signature`` the
    platform's Ed25519 signature over its label and SHA-256 (docs/award.md)."""

    class Kind(models.TextChoices):
        AWARD = "award"
        RESULT = "result"

    award = models.ForeignKey(Award, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    document = models.JSONField()
    sha256 = models.CharField(max_length=64)
    signature = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["award", "organisation"], name="notice_unique")]


class DepositRefund(models.Model):
    award = models.ForeignKey(Award, on_delete=models.PROTECT, related_name="refunds")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    refunded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    late = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["award", "organisation"], name="refund_unique")]
