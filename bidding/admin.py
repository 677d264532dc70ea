"""The Django admin for tenders obeys the same lifecycle rules as the host pages: material fields
are read-only once published (amend them through the host page or the API), and every save is
audited."""

from django.contrib import admin
from django.db import transaction

from audit.log import log_action
from common.actor import Actor

from . import lifecycle
from .models import Amendment, Lot, Project


class LotInline(admin.TabularInline):
    model = Lot
    extra = 0
    fields = ["code", "title", "status", "bid_deadline"]
    readonly_fields = ["status"]
    show_change_link = True


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "tenderee", "agency", "created_at"]
    search_fields = ["code", "title"]
    inlines = [LotInline]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            log_action("bidding.project.edited" if change else "bidding.project.created",
                       actor=Actor.from_request(request), obj=obj,
                       data={"fields": sorted(form.changed_data)})


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "bid_deadline", "min_bids"]
    list_filter = ["status"]
    search_fields = ["code", "title", "project__code", "project__title"]
    readonly_fields = ["status", "published_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status != lifecycle.Status.DRAFT:
            editable = lifecycle.DESCRIPTIVE_FIELDS if obj.status == lifecycle.Status.PUBLISHED else set()
            fields += [f.name for f in obj._meta.fields if f.name not in editable and f.name not in fields]
        return fields

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change:
                lifecycle.check_edit(Lot.objects.get(pk=obj.pk).status, set(form.changed_data))
            super().save_model(request, obj, form, change)
            log_action("bidding.lot.edited" if change else "bidding.lot.created",
                       actor=Actor.from_request(request), obj=obj, tender_id=obj.pk,
                       data={"fields": sorted(form.changed_data), "via": "admin"})


@admin.register(Amendment)
class AmendmentAdmin(admin.ModelAdmin):
    list_display = ["lot", "number", "reason", "created_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
