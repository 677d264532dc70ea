"""The admin for people, organisations, sessions, tokens and sign-in records. Every save is audited
with old and new values (``audit.admin_audited``); sessions end and tokens are revoked only through
actions that audit them; records of sign-ins and sessions are shown, never edited or deleted."""

from axes.admin import AccessAttemptAdmin as BaseAccessAttemptAdmin
from axes.admin import AccessFailureLogAdmin as BaseAccessFailureLogAdmin
from axes.admin import AccessLogAdmin as BaseAccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from audit.admin_audited import SECRET, AuditedAdmin, ViewOnlyAdmin
from audit.log import log_action
from common import clock
from common.actor import Actor

from .models import ApiToken, Organisation, User, UserSession
from .sessions import end_sessions


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ["name", "kind", "credit_code"]
    list_filter = ["kind"]
    search_fields = ["name", "credit_code"]


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and getattr(request, "_audit_before", {}).get("is_active") and not form.instance.is_active:
            # A deactivated user is signed out everywhere, as the action does it (audited there).
            end_sessions(form.instance, actor=Actor.from_request(request), reason="deactivated")

    def user_change_password(self, request, id, form_url=""):
        # Django's view saves the form itself (no save_model): audit it here, in one transaction.
        # The log says that the password changed, never the hash.
        with transaction.atomic():
            before = User.objects.filter(pk=id).values_list("password", flat=True).first()
            response = super().user_change_password(request, id, form_url)
            user = User.objects.filter(pk=id).first()
            if user is not None and before is not None and user.password != before:
                log_action("admin.record.changed", actor=Actor.from_request(request), obj=user,
                           data={"password": [SECRET, SECRET + " changed"]})
        return response


@admin.register(UserSession)
class UserSessionAdmin(ViewOnlyAdmin):
    """Sessions end through the users' action "end all sessions" (audited), never by a row deleted here."""

    list_display = ["user", "ip", "created_at", "user_agent"]
    readonly_fields = ["user", "session_key", "ip", "user_agent", "created_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(ViewOnlyAdmin):
    """Tokens are issued by their owner (the secret is shown once, to them); here they are only
    revoked, audited with the old and new ``revoked_at``."""

    list_display = ["name", "user", "key_id", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["key_id", "secret_hash", "last_used_at"]
    actions = ["revoke_tokens"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super(ViewOnlyAdmin, self).has_change_permission(request, obj)

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke_tokens(self, request, queryset):
        now, actor, count = clock.now(), Actor.from_request(request), 0
        with transaction.atomic():
            for token in queryset.select_for_update().filter(revoked_at__isnull=True):
                token.revoked_at = now
                token.save(update_fields=["revoked_at"])
                log_action("accounts.token.revoked", actor=actor, obj=token,
                           data={"key_id": token.key_id, "revoked_at": [None, now.isoformat()], "via": "admin"})
                count += 1
        self.message_user(request, _("%(count)d tokens revoked.") % {"count": count}, messages.SUCCESS)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(AuditedAdmin, BaseGroupAdmin):
    pass


for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    admin.site.unregister(_model)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AuditedAdmin, BaseAccessAttemptAdmin):
    """Deleting a failed-attempt counter unlocks its user and address: allowed, and audited with the
    counter's values. The bulk clean-up is left to the scheduled clean-up (it audits nothing)."""

    actions = ["delete_selected"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return super(AuditedAdmin, self).has_delete_permission(request, obj)


@admin.register(AccessLog)
class AccessLogAdmin(ViewOnlyAdmin, BaseAccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(ViewOnlyAdmin, BaseAccessFailureLogAdmin):
    pass
