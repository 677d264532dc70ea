"""Projects (项目) and their lots (标段): the unit that is bid on, opened and evaluated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation

from . import evaluation_settings, lifecycle
from .lifecycle import Status


def default_announced_fields() -> list[dict[str, Any]]:
    return [dict(f) for f in lifecycle.DEFAULT_ANNOUNCED_FIELDS]


def default_evaluation_settings() -> dict[str, Any]:
    return evaluation_settings.defaults()


class Project(models.Model):
    code = models.CharField(_("project code"), max_length=50, unique=True)
    title = models.CharField(_("project title"), max_length=200)
    tenderee = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="tendered_projects",
                                 verbose_name=_("tenderee"))
    agency = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="agency_projects", verbose_name=_("agency"))
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def is_run_by(self, organisation_id: int | None) -> bool:
        return organisation_id is not None and organisation_id in (self.tenderee_id, self.agency_id)


class LotQuerySet(models.QuerySet):
    def published(self):
        return self.exclude(status__in=[Status.DRAFT, Status.CANCELLED])

    def run_by(self, organisation_id: int | None):
        return self.filter(models.Q(project__tenderee_id=organisation_id) |
                           models.Q(project__agency_id=organisation_id))


class Lot(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="lots",
                                verbose_name=_("project"))
    code = models.CharField(_("lot code"), max_length=50)
    title = models.CharField(_("lot title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    bid_deadline = models.DateTimeField(_("bid deadline (= opening time)"))
    signin_opens_at = models.DateTimeField(_("hall sign-in opens at"))
    decryption_window_minutes = models.PositiveIntegerField(_("decryption window (minutes)"), default=30)
    confirmation_window_minutes = models.PositiveIntegerField(_("confirmation window (minutes)"),
                                                              default=30)
    min_bids = models.PositiveIntegerField(
        _("minimum number of bids"), default=lifecycle.LEGAL_MIN_BIDS,
        validators=[MinValueValidator(lifecycle.LEGAL_MIN_BIDS), MaxValueValidator(lifecycle.MAX_MIN_BIDS)],
        help_text=_("At least 3 (实施条例 44): a tender may require more, never fewer."))
    announced_fields = models.JSONField(_("announced fields"), default=default_announced_fields)
    evaluation_settings = models.JSONField(_("evaluation settings"), default=default_evaluation_settings)
    escrow_required = models.BooleanField(_("backup decryption (escrow) required"), default=False)
    # docs/envelope.md: "intl" seals with v1/v2/v3 (P-256, AES-GCM), "gm" with gm-v1 (SM2, SM4-GCM).
    cipher_suite = models.CharField(_("cipher suite"), max_length=8, default="intl",
                                    choices=[("intl", _("international (P-256, AES-GCM, SHA-256)")),
                                             ("gm", _("Chinese commercial cryptography (SM2, SM4-GCM, SM3)"))])
    max_bid_bytes = models.BigIntegerField(_("maximum bid size (bytes)"), default=2 * 2**30)
    amendment_notice_days = models.PositiveIntegerField(_("amendment notice (days)"),
                                                        default=lifecycle.DEFAULT_NOTICE_DAYS)
    status = models.CharField(_("status"), max_length=20, choices=[(s.value, s.value) for s in Status],
                              default=Status.DRAFT, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LotQuerySet.as_manager()

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["bid_deadline", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "code"], name="lot_code_unique"),
                       # 实施条例 44, even for a row written past the application.
                       models.CheckConstraint(condition=models.Q(min_bids__gte=lifecycle.LEGAL_MIN_BIDS),
                                              name="lot_min_bids_legal")]

    def __str__(self) -> str:
        return f"{self.project.code}-{self.code} {self.title}"

    @property
    def decryption_window(self) -> timedelta:
        return timedelta(minutes=self.decryption_window_minutes)

    def material_values(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in lifecycle.EDITABLE_FIELDS}


class Amendment(models.Model):
    """An audited change to a published lot (澄清/修改): what changed, from what, to what, why."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="amendments")
    number = models.PositiveIntegerField()
    reason = models.TextField()
    changes = models.JSONField()  # {field: [before, after]} as JSON-safe values
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["lot", "number"]
        constraints = [models.UniqueConstraint(fields=["lot", "number"], name="amendment_number_unique")]


# Sealed bids live in their own module; importing them here registers them with the app.
from .models_bids import (BidderCertificate, BidSubmission, BidUpload, Custodian, KeyCheck,  # noqa: E402,F401
                          EscrowKey, EscrowRecovery, EscrowRelease, EscrowShare)
# The opening hall (bidding.opening) keeps its records in their own module too.
from .models_opening import (ChatMessage, Objection, Opening, OpeningBid,  # noqa: E402,F401
                             RecordConfirmation)
