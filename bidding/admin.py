"""The Django admin for tenders obeys the same lifecycle rules as the host pages: every save goes
through ``bidding.actions`` (``edit_project``, ``edit_lot``: the same checks, audited with old and
new values), and what an action would refuse is read-only here. Material changes of a published lot
are amendments (with their notice), made on the host page or the API; tenders are created there too,
and cancelled there rather than deleted. The project's lots are listed read-only: each opens its own
change form."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from common import clock
from common.actor import Actor
from common.errors import PlatformError
from common.labels import error_text

from . import actions, lifecycle
from .models import Amendment, Lot, Project


class NoAddNoDelete:
    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ThroughActions(NoAddNoDelete):
    """An action's refusal (a rule, or a race with another change) is said on the form, not a 500;
    the admin's transaction rolled back with it."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PlatformError as error:
            self.message_user(request, error_text(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class LotInline(NoAddNoDelete, admin.TabularInline):
    model = Lot
    extra = 0
    can_delete = False
    fields = ["code", "title", "status", "bid_deadline"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Project)
class ProjectAdmin(ThroughActions, admin.ModelAdmin):
    list_display = ["code", "title", "tenderee", "agency", "created_at"]
    search_fields = ["code", "title"]
    fields = ["code", "title", "tenderee", "agency", "description", "created_by"]
    inlines = [LotInline]

    def get_readonly_fields(self, request, obj=None):
        statuses = set(obj.lots.values_list("status", flat=True)) if obj is not None else set()
        frozen = lifecycle.project_readonly_fields(statuses)
        return ["created_by"] + [f for f in self.fields if f in frozen]

    def save_model(self, request, obj, form, change):
        if not form.changed_data:
            return
        actions.edit_project(request.user, Actor.from_request(request), obj.pk,
                             **{f: form.cleaned_data[f] for f in form.changed_data})


@admin.register(Lot)
class LotAdmin(ThroughActions, admin.ModelAdmin):
    list_display = ["__str__", "status", "bid_deadline", "min_bids"]
    list_filter = ["status"]
    search_fields = ["code", "title", "project__code", "project__title"]

    def get_readonly_fields(self, request, obj=None):
        # Only what edit_lot changes directly in the lot's status is editable.
        editable = lifecycle.EDITABLE_FIELDS - lifecycle.lot_readonly_fields(obj.status) if obj else set()
        return [f.name for f in Lot._meta.fields if f.editable and f.name not in editable]

    def save_model(self, request, obj, form, change):
        if not form.changed_data:
            return
        actions.edit_lot(request.user, Actor.from_request(request), obj.pk, now=clock.now(),
                         **{f: form.cleaned_data[f] for f in form.changed_data})


@admin.register(Amendment)
class AmendmentAdmin(NoAddNoDelete, admin.ModelAdmin):
    """Amendments are made by ``actions.amend_lot`` (the notice rule, the lot changed with it)."""

    list_display = ["lot", "number", "reason", "created_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False
