"""Organisations, users with one role each, tracked sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.roles import ROLE_LABELS, Role

from .credit_code import InvalidCreditCode, normalise_credit_code


def validate_credit_code(value: str) -> None:
    try:
        normalise_credit_code(value)
    except InvalidCreditCode as exc:
        raise ValidationError(str(exc), code="invalid_credit_code") from None


class Organisation(models.Model):
    class Kind(models.TextChoices):
        BIDDER = "bidder", _("Bidder company")
        TENDEREE = "tenderee", _("Tenderee (招标人)")
        AGENCY = "agency", _("Tendering agency (招标代理机构)")
        TRADING_CENTRE = "trading_centre", _("Public resource trading centre")
        SUPERVISORY = "supervisory", _("Supervisory authority")
        EMPLOYER = "employer", _("Other employer")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    credit_code = models.CharField(
        _("unified social credit code"), max_length=18, blank=True, validators=[validate_credit_code],
        help_text=_("统一社会信用代码, 18 characters (GB 32100-2015); required for bidders."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.UniqueConstraint(fields=["credit_code"], condition=~models.Q(credit_code=""),
                                    name="organisation_credit_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.credit_code:
            self.credit_code = self.credit_code.strip().upper()
        if self.kind in (self.Kind.BIDDER, self.Kind.TENDEREE, self.Kind.AGENCY) and not self.credit_code:
            raise ValidationError({"credit_code": _("This kind of organisation needs its credit code.")})


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20,
                            choices=[(r.value, ROLE_LABELS[r]) for r in Role], default=Role.BIDDER)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="members", verbose_name=_("organisation"))
    display_name = models.CharField(_("display name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    def clean(self) -> None:
        super().clean()
        if self.role in (Role.HOST, Role.BIDDER) and self.organisation_id is None:
            raise ValidationError({"organisation": _("Hosts and bidders belong to an organisation.")})
        if self.role == Role.BIDDER and self.organisation and \
                self.organisation.kind != Organisation.Kind.BIDDER:
            raise ValidationError({"organisation": _("A bidder representative belongs to a bidder company.")})


class UserSession(models.Model):
    """Which session keys belong to whom, so an administrator can end a user's sessions."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tracked_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")


TOKEN_PREFIX = "kbt"


class ApiToken(models.Model):
    """A bearer token for integrations. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str, expires_at=None) -> tuple["ApiToken", str]:
        """Create a token; returns it and the plain ``kbt_<id>_<secret>`` string (shown once)."""
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_id=key_id,
                                   secret_hash=cls.hash_secret(secret), expires_at=expires_at)
        return token, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now) \
            and self.user.is_active


SOCKET_TOKEN_PREFIX = "kbs"


class SocketToken(models.Model):
    """A one-time ticket that signs a non-browser client's WebSocket in (docs/protocol.md §1):
    issued to a signed-in user or an API token's user, valid for one handshake within
    ``SOCKET_TOKEN_SECONDS``. Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="socket_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_ip = models.CharField(max_length=45, blank=True)

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()
