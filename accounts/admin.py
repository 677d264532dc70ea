from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from common.actor import Actor

from .models import ApiToken, Organisation, User, UserSession
from .sessions import end_sessions


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "credit_code"]
    list_filter = ["kind"]
    search_fields = ["name", "credit_code"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "organisation", "is_active"]
    list_filter = ["role", "is_active"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("Platform"), {"fields": ["role", "organisation", "display_name"]}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("Platform"), {"fields": ["role", "organisation", "display_name"]}),)
    actions = ["end_all_sessions"]

    @admin.action(description=_("End all sessions of the selected users"))
    def end_all_sessions(self, request, queryset):
        total = sum(end_sessions(user, actor=Actor.from_request(request), reason="admin action")
                    for user in queryset)
        self.message_user(request, _("%(count)d sessions ended.") % {"count": total}, messages.SUCCESS)


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ["user", "ip", "created_at", "user_agent"]
    readonly_fields = ["user", "session_key", "ip", "user_agent", "created_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_id", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["key_id", "secret_hash", "last_used_at"]
