"""Regions, venues and the expert pool: rows without a workflow of their own, so each save is
audited with its old and new values and nothing is deleted (``audit.admin_audited``)."""

from django.contrib import admin
from django.db import transaction

from audit.admin_audited import AuditedAdmin
from audit.log import log_action
from common.actor import Actor

from .models import Expert, Region, Venue


@admin.register(Region)
class RegionAdmin(AuditedAdmin):
    pass


@admin.register(Venue)
class VenueAdmin(AuditedAdmin):
    list_display = ["name", "region", "centre", "seats"]
    filter_horizontal = ["staff"]


@admin.register(Expert)
class ExpertAdmin(AuditedAdmin):
    list_display = ["user", "region", "category", "title", "available"]
    list_filter = ["region", "category", "available"]

    def get_readonly_fields(self, request, obj=None):
        # The signing key is registered by the expert (evaluation.expert.key_registered) and checks
        # report signatures; the profile stays its user's.
        fields = ["signing_key"]
        return fields + ["user"] if obj is not None else fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every read of expert information is audited (807), the admin's too.
        if request.method == "GET":
            expert = Expert.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
            if expert is not None:
                with transaction.atomic():
                    log_action("evaluation.expert.viewed", actor=Actor.from_request(request), obj=expert,
                               data={"what": "admin", "experts": [expert.pk]})
        return super().change_view(request, object_id, form_url, extra_context)
