from django.contrib import admin

from .admin_audited import ViewOnlyAdmin
from .models import AuditCheckpoint, AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ViewOnlyAdmin):
    list_display = ["index", "created_at", "action", "actor_name", "role", "ip", "object_type", "object_id"]
    list_filter = ["action", "role"]
    search_fields = ["action", "actor_name", "object_id"]


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ViewOnlyAdmin):
    list_display = ["size", "reason", "created_at"]
