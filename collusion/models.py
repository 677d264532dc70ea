"""What the analysis keeps: the tender's own documents (for boilerplate), each analysis run and its
leads, the committee's decision on a lead, and the supervisors' cases. Every change goes through
``collusion.actions`` and is audited with old and new values."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TenderDocument(models.Model):
    """A document of the tender itself (招标文件), filed by the host: what bidders were asked to
    copy, so copying it never counts as look-alike text."""

    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="collusion_documents")
    name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    data = models.BinaryField()
    stored_at = models.DateTimeField()

    class Meta:
        verbose_name = _("tender document")
        constraints = [models.UniqueConstraint(fields=["lot", "name"], name="collusion_tender_document_name")]


class AnalysisRun(models.Model):
    """One computation of the leads: of a lot after its opening (``lot`` set), or of the platform's
    history across tenders (``lot`` null)."""

    class Kind(models.TextChoices):
        TENDER = "tender"
        HISTORY = "history"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TENDER)
    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, null=True, blank=True,
                            related_name="collusion_runs")
    started_at = models.DateTimeField()
    seconds = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="+")
    settings = models.JSONField(default=dict)  # the enabled signals and thresholds used
    bidders = models.JSONField(default=dict)  # key → {"organisation", "name", "documents"}
    problems = models.JSONField(default=list)  # documents that could not be read, and why
    leads_sha256 = models.CharField(max_length=64)  # of the leads' canonical JSON, as audited

    class Meta:
        verbose_name = _("collusion analysis")
        ordering = ["-started_at", "-id"]


class Lead(models.Model):
    class Decision(models.TextChoices):
        NONE = ""
        NOTED = "noted"  # taken into account in the evaluation
        DISMISSED = "dismissed"  # explained, not pursued
        REFERRED = "referred"  # passed to the supervisors

    run = models.ForeignKey(AnalysisRun, on_delete=models.PROTECT, related_name="leads")
    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, null=True, blank=True,
                            related_name="collusion_leads")
    signal = models.CharField(max_length=30, db_index=True)
    strength = models.CharField(max_length=10, db_index=True)
    articles = models.JSONField(default=list)
    organisations = models.JSONField(default=list)  # organisation ids
    evidence = models.JSONField(default=dict)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.NONE, blank=True)
    reason = models.CharField(max_length=2000, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("collusion lead")
        ordering = ["run", "id"]


class Case(models.Model):
    """A supervisors' case (立案调查) opened from one or more leads."""

    class Status(models.TextChoices):
        OPEN = "open"
        INVESTIGATING = "investigating"
        REFERRED = "referred"  # to the administrative authority
        CLOSED = "closed"

    title = models.CharField(max_length=200)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.OPEN, db_index=True)
    note = models.TextField(blank=True, max_length=5000)
    leads = models.ManyToManyField(Lead, related_name="cases")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("collusion case")
        ordering = ["-opened_at", "-id"]


# The statuses a case may move to from each (closed may be reopened with a note).
CASE_TRANSITIONS = {
    Case.Status.OPEN: {Case.Status.INVESTIGATING, Case.Status.REFERRED, Case.Status.CLOSED},
    Case.Status.INVESTIGATING: {Case.Status.REFERRED, Case.Status.CLOSED},
    Case.Status.REFERRED: {Case.Status.CLOSED, Case.Status.INVESTIGATING},
    Case.Status.CLOSED: {Case.Status.INVESTIGATING},
}
