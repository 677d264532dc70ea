"""Regions, venues and the expert pool. The draw, sessions and scoring arrive with the evaluation
issue; these are the records the demo and the access rules need from the start."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation


class Region(models.Model):
    code = models.CharField(_("region code"), max_length=12, unique=True)  # 行政区划代码
    name = models.CharField(_("region name"), max_length=50)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class Venue(models.Model):
    """An evaluation site of a trading centre. Main (主场) or sub (副场) is per evaluation session."""

    name = models.CharField(_("venue name"), max_length=100, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="venues")
    centre = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="venues",
                               verbose_name=_("trading centre"))
    seats = models.PositiveIntegerField(_("seats"), default=9)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="venues",
                                   verbose_name=_("venue staff"))

    class Meta:
        verbose_name = _("venue")
        verbose_name_plural = _("venues")

    def __str__(self) -> str:
        return self.name


class Expert(models.Model):
    class Category(models.TextChoices):
        TECHNICAL = "technical", _("Technical")
        ECONOMIC = "economic", _("Economic")
        OTHER = "other", _("Other")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="expert_profile")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="experts")
    specialties = models.JSONField(_("specialties"), default=list)  # 专业 codes
    category = models.CharField(_("category"), max_length=20, choices=Category.choices,
                                default=Category.TECHNICAL)
    title = models.CharField(_("professional title"), max_length=50, blank=True)
    employer = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="employed_experts", verbose_name=_("employer"))
    declared_relations = models.JSONField(_("declared relations"), default=list, blank=True)
    available = models.BooleanField(_("available"), default=True)
    penalised_until = models.DateField(_("penalised until"), null=True, blank=True)

    class Meta:
        verbose_name = _("expert")
        verbose_name_plural = _("experts")

    def __str__(self) -> str:
        return str(self.user)
